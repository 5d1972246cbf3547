// SPDX-License-Identifier: GPL-2.0
/* The cgroup id -> path cache (cgcache.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cgcache.h"
#include "core/idx_map.h"
#include "kernel/cgroup.h"
#include "lib/format.h"

static void clear(struct cgcache *c)
{
	for (__u32 i = 0; i < c->cap; i++)
		free(c->v[i].path);
	memset(c->v, 0, c->cap * sizeof(*c->v));
	c->count = 0;
}

static struct cg_info *slot(struct cgcache *c, __u64 id)
{
	__u32 i = hash64(id) & (c->cap - 1);

	while (c->v[i].id && c->v[i].id != id)
		i = (i + 1) & (c->cap - 1);
	return &c->v[i];
}

static int grow(struct cgcache *c)
{
	struct cg_info *old = c->v;
	__u32 n = c->cap;

	c->v = calloc(n * 2, sizeof(*c->v));
	if (!c->v) {
		c->v = old;
		return -ENOMEM;
	}
	c->cap = n * 2;
	for (__u32 i = 0; i < n; i++)
		if (old[i].id)
			*slot(c, old[i].id) = old[i];
	free(old);
	return 0;
}

/* path NULL: a known miss. Replaces what the id had. */
static struct cg_info *put(struct cgcache *c, __u64 id, const char *path)
{
	struct cg_info *e;
	char *p = NULL;

	if (c->count >= CGC_MAX)
		clear(c);
	if ((c->count + 1) * 2 > c->cap && grow(c))
		return NULL;
	if (path && !(p = strdup(path)))
		return NULL;
	e = slot(c, id);
	if (!e->id)
		c->count++;
	free(e->path);
	e->id = id;
	e->path = p;
	memset(&e->n, 0, sizeof(e->n));
	if (p)
		cg_names(p, &e->n);
	return e;
}

static int on_cgroup(void *ctx, __u64 id, const char *rel)
{
	return put(ctx, id, rel) ? 0 : -ENOMEM;
}

static int walk(struct cgcache *c, __u64 now)
{
	c->last_walk_ns = now;
	c->walks++;
	return cg_walk(c->mnt, on_cgroup, c);
}

int cgc_init(struct cgcache *c)
{
	memset(c, 0, sizeof(*c));
	c->mnt_fd = -1;
	c->cap = 256;
	c->v = calloc(c->cap, sizeof(*c->v));
	if (!c->v)
		return -ENOMEM;
	if (cg_find_mount(c->mnt, sizeof(c->mnt))) {
		c->mnt[0] = '\0';
		return 0;
	}
	/* not O_PATH: open_by_handle_at() takes no O_PATH mount fd */
	c->mnt_fd = open(c->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->mnt_fd < 0)
		c->no_handles = true;
	return walk(c, 0) == -ENOMEM ? -ENOMEM : 0;
}

void cgc_free(struct cgcache *c)
{
	if (!c->v)
		return;		/* never initialised (offline daemon) */
	clear(c);
	free(c->v);
	if (c->mnt_fd >= 0)
		close(c->mnt_fd);
	memset(c, 0, sizeof(*c));
	c->mnt_fd = -1;
}

static bool allowed(struct cgcache *c, __u64 now)
{
	if (now >= c->budget_ns) {
		c->budget_ns = now + 1000000000ULL;
		c->budget = CGC_RESOLVE_PER_S;
	}
	if (!c->budget)
		return false;
	c->budget--;
	return true;
}

/* A miss: resolve it now if the rate limit allows. */
static const struct cg_info *resolve(struct cgcache *c, __u64 id, __u64 now)
{
	const struct cg_info *e;
	char p[PATH_MAX];
	int err;

	c->misses++;
	if (!c->mnt[0] || !allowed(c, now)) {
		c->deferred++;
		return NULL;
	}
	if (!c->no_handles) {
		err = cg_id_path(c->mnt_fd, c->mnt, id, p, sizeof(p));
		if (!err) {
			c->resolved++;
			return put(c, id, p);
		}
		/* anything but "no such cgroup" (-EPERM: no
		 * CAP_DAC_READ_SEARCH): walk from now on */
		if (err != -ESTALE)
			c->no_handles = true;
	}
	if (c->no_handles) {
		if (c->last_walk_ns &&
		    now < c->last_walk_ns + CGC_WALK_GAP_NS) {
			c->deferred++;
			return NULL;
		}
		walk(c, now);
		e = slot(c, id);
		if (e->id && e->path) {
			c->resolved++;
			return e;
		}
	}
	/* No such cgroup (removed): ids are never reused, remember it. */
	c->unknown++;
	put(c, id, NULL);
	return NULL;
}

const struct cg_info *cgc_get(struct cgcache *c, __u64 id)
{
	const struct cg_info *e;

	if (!id || !c->v)
		return NULL;
	e = slot(c, id);
	if (e->id)
		return e->path ? e : NULL;
	return resolve(c, id, mono_ns());
}

const char *cgc_namer(void *ctx, __u64 id, struct cg_names *n)
{
	const struct cg_info *e = cgc_get(ctx, id);

	if (!e)
		return NULL;
	*n = e->n;
	return e->path;
}

const char *cgc_words(struct cgcache *c, __u64 id, char *out, size_t n)
{
	const struct cg_info *e = cgc_get(c, id);

	if (!e)
		snprintf(out, n, "%s", "");
	else if (e->n.ctr_len)
		snprintf(out, n, "container %.12s", e->path + e->n.ctr_off);
	else if (e->n.unit_len)
		snprintf(out, n, "%.*s", (int)e->n.unit_len,
			 e->path + e->n.unit_off);
	else
		snprintf(out, n, "%s", e->path);
	return out;
}

bool cg_path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 0 && prefix[n - 1] == '/')
		n--;		/* "/a/" is "/a", "/" matches everything */
	return !strncmp(path, prefix, n) && (!path[n] || path[n] == '/');
}

bool cgc_under(struct cgcache *c, __u64 id, __u64 root,
	       const char *root_path)
{
	const struct cg_info *e;

	if (id == root)
		return true;
	e = cgc_get(c, id);
	return e && cg_path_under(e->path, root_path);
}
