// SPDX-License-Identifier: GPL-2.0
/*
 * The loop's side of the kernel worker (dumps.h): reconcile rounds, port
 * learning, namespace discovery, and taking the worker's answers back;
 * the sweep's cache is kq.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/daemon.h"
#include "core/dumps.h"
#include "core/dumps_priv.h"
#include "core/emit.h"

struct ns_rec *ns_find(struct dumps *k, __u32 inum)
{
	for (__u32 i = 0; i < k->nns; i++)
		if (k->ns[i].f.inum == inum)
			return &k->ns[i];
	return NULL;
}

struct ns_rec *ns_get(struct dumps *k, __u32 inum)
{
	struct ns_rec *r = ns_find(k, inum);

	if (r)
		return r;
	if (k->nns == k->cap) {
		__u32 cap = k->cap ? k->cap * 2 : 16;
		struct ns_rec *v = realloc(k->ns, cap * sizeof(*v));

		if (!v)
			return NULL;
		k->ns = v;
		k->cap = cap;
	}
	r = &k->ns[k->nns++];
	memset(r, 0, sizeof(*r));
	r->f.inum = inum;
	return r;
}

static void ns_rec_free(struct ns_rec *r)
{
	free(r->eh.v);
	free(r->lst.v);
	free(r->own);
}

/* A discovery's answer: namespaces not in it are forgotten (their table
 * entries stay: events or a later dump will tell). */
static void ns_update(struct dumps *k, const struct kw_job *j)
{
	for (__u32 i = 0; i < k->nns;) {
		bool seen = false;

		for (__u32 x = 0; x < j->nns && !seen; x++)
			seen = j->ns[x].inum == k->ns[i].f.inum;
		/* a cache refresh in flight still points at it: keep it */
		if (seen || k->ns[i].eh.busy || k->ns[i].lst.busy) {
			i++;
			continue;
		}
		ns_rec_free(&k->ns[i]);
		k->ns[i] = k->ns[--k->nns];
	}
	for (__u32 x = 0; x < j->nns; x++) {
		struct ns_rec *r = ns_get(k, j->ns[x].inum);

		if (r)
			r->f = j->ns[x];
	}
}

/* ---- removed-while-a-round-runs --------------------------------------- */

static __u32 rm_hash(__u64 c, __u32 mask)
{
	return (__u32)((c * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

void dumps_removed(struct daemon *d, __u64 cookie)
{
	struct dumps *k = d->dumps;
	__u32 h;

	if (!k || !k->active || !cookie)
		return;
	if ((k->rm_n + 1) * 2 > k->rm_cap) {
		__u32 cap = k->rm_cap ? k->rm_cap * 2 : 1024;
		__u64 *v = calloc(cap, sizeof(*v));

		if (!v)
			return;	/* at worst a removed socket comes back */
		for (__u32 i = 0; i < k->rm_cap; i++) {
			if (!k->rm[i])
				continue;
			h = rm_hash(k->rm[i], cap - 1);
			while (v[h])
				h = (h + 1) & (cap - 1);
			v[h] = k->rm[i];
		}
		free(k->rm);
		k->rm = v;
		k->rm_cap = cap;
	}
	for (h = rm_hash(cookie, k->rm_cap - 1); k->rm[h];
	     h = (h + 1) & (k->rm_cap - 1))
		if (k->rm[h] == cookie)
			return;
	k->rm[h] = cookie;
	k->rm_n++;
}

static bool was_removed(void *ctx, __u64 cookie)
{
	struct dumps *k = ((struct daemon *)ctx)->dumps;

	if (!k->rm_n)
		return false;
	for (__u32 h = rm_hash(cookie, k->rm_cap - 1); k->rm[h];
	     h = (h + 1) & (k->rm_cap - 1))
		if (k->rm[h] == cookie)
			return true;
	return false;
}

/* ---- reconcile rounds ---------------------------------------------------- */

static void on_correction(void *ctx, const struct sock_entry *e, __u8 old,
			  __u8 new)
{
	emit_synthetic(ctx, e, old, new, mono_ns(), "reconcile");
}

void dumps_request_round(struct daemon *d, const char *reason, bool all)
{
	struct dumps *k = d->dumps;

	k->want = true;
	k->want_all |= all;
	if (!k->reason || !strcmp(reason, "start") || !strcmp(reason, "lost"))
		k->reason = reason;
}

bool dumps_round_busy(const struct daemon *d)
{
	return d->dumps && (d->dumps->want || d->dumps->active);
}

void dumps_lost(struct daemon *d)
{
	struct dumps *k = d->dumps;

	for (__u32 i = 0; i < k->nns; i++)
		k->ns[i].dirty = true;
}

void dumps_submit(struct daemon *d, struct kw_job *j)
{
	kw_submit(d->dumps->w, j);
}

static void round_end(struct daemon *d)
{
	struct dumps *k = d->dumps;
	__u64 now;

	rec_round_end(&d->tab, &k->rr);
	now = mono_ns();
	if (k->seed) {
		d->seeded = d->tab.count;
	} else {
		d->rec_runs++;
		d->rec_added += k->rr.r.added;
		d->rec_removed += k->rr.r.removed;
		d->rec_changed += k->rr.r.changed;
	}
	emit_reconcile(d, &k->rr.r, k->reason ? k->reason : "periodic",
		       now - k->t0);
	k->active = false;
	k->seed = false;
	k->last_round_end = now;
	/* Loss-triggered rounds keep their distance from each other. */
	if (k->reason && !strcmp(k->reason, "lost"))
		d->last_round_end_ns = now;
	k->reason = NULL;
	k->rm_n = 0;
	if (k->rm)
		memset(k->rm, 0, k->rm_cap * sizeof(*k->rm));
	d->next_reconcile_ns = d->o.reconcile_ms ?
		now + d->o.reconcile_ms * 1000000ULL : 0;
	/* Owners /proc knows: a scan on the worker, applied when back. */
	if (!k->owners_busy) {
		struct kw_job *j = kw_job_new(KW_OWNERS, TAG_OWNERS, NULL);

		if (j) {
			j->inodes = owners_wanted(&d->tab, &j->ninodes);
			j->all_procs = true;
			if (!j->ninodes) {
				kw_job_free(j);
			} else {
				k->owners_busy = true;
				dumps_submit(d, j);
			}
		}
	}
}

/* Namespaces whose sockets events cannot fully describe: an orphan's
 * FIN_WAIT2 turns TIME_WAIT on a remote FIN no tracepoint shows. */
static void mark_uncertain(struct daemon *d)
{
	struct dumps *k = d->dumps;
	struct sock_entry *e;
	__u32 i, last = 0;

	table_for_each(&d->tab, e, i) {
		struct ns_rec *r;

		if (e->state != TCPW_FIN_WAIT2 || e->netns == last)
			continue;
		last = e->netns;
		r = ns_find(k, e->netns);
		if (r)
			r->dirty = true;
	}
}

static void round_dumps(struct daemon *d)
{
	struct dumps *k = d->dumps;
	bool all = k->want_all || k->seed;
	__u32 extra = 0;

	k->want_all = false;
	if (!all) {
		mark_uncertain(d);
		/* A few of the others, oldest dump first: a safety net that
		 * costs the same however many namespaces there are. */
		for (__u32 n = 0; n < k->nns && extra < KQ_ROUND_ROBIN; n++) {
			struct ns_rec *r = &k->ns[(k->rr_next + n) % k->nns];

			if (!r->dirty) {
				r->dirty = true;
				extra++;
			}
		}
		if (k->nns)
			k->rr_next = (k->rr_next + extra) % k->nns;
	}
	for (__u32 i = 0; i < k->nns; i++) {
		struct ns_rec *r = &k->ns[i];
		struct kw_job *j;

		if (!all && !r->dirty)
			continue;
		j = kw_job_new(KW_DUMP, TAG_ROUND_DUMP, NULL);
		if (!j)
			continue;
		j->netns = r->f.inum;
		j->states = SD_ALL_STATES;
		k->jobs++;
		dumps_submit(d, j);
	}
	if (!k->jobs)
		round_end(d);
}

static void round_start(struct daemon *d)
{
	struct dumps *k = d->dumps;
	struct kw_job *j = kw_job_new(KW_NETNS, TAG_ROUND_NETNS, NULL);

	if (!j)
		return;
	k->want = false;
	k->active = true;
	k->seed = k->reason && !strcmp(k->reason, "start");
	k->t0 = mono_ns();
	rec_round_begin(&k->rr, &d->o.filter, k->seed, on_correction, d,
			was_removed);
	j->netns = d->o.filter.netns;
	k->netns_busy = true;
	dumps_submit(d, j);
}

static void round_dump_done(struct daemon *d, struct kw_job *j)
{
	struct dumps *k = d->dumps;
	struct ns_rec *r = ns_find(k, j->netns);
	int err = j->err;

	/* Every event up to now is applied first: the dump is older. */
	daemon_drain(d);
	if (!err)
		err = rec_round_netns(&d->tab, &k->rr, j->netns, j->start_ns,
				      j->socks, j->nsocks);
	if (err == -ENOMEM) {
		fprintf(stderr, "tcpwatch: out of memory for the table\n");
		d->stop = true;
	}
	if (err) {
		/* -ENOENT: no longer openable. Its entries stay. */
		k->rr.r.failed++;
	} else if (r) {
		r->dirty = false;
		r->dumped_ns = j->end_ns;
	}
	if (!--k->jobs)
		round_end(d);
}

/* ---- the rest ----------------------------------------------------------- */

static void ports_tick(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;
	struct sock_entry *e;
	__u32 want[16], i;
	bool old = false;
	int n;

	if (k->port_jobs || now < k->next_ports_ns ||
	    !d->tab.by_state[TCPW_SYN_SENT])
		return;
	/* Under churn every connect is briefly port-less: ask only about
	 * SYNs that have waited a while. */
	table_for_each(&d->tab, e, i)
		if (e->state == TCPW_SYN_SENT && !e->sport &&
		    now - e->state_ns >= PORTS_AFTER_NS) {
			old = true;
			break;
		}
	if (!old)
		return;
	n = ports_wanted(&d->tab, want, 16);
	for (int x = 0; x < n; x++) {
		struct kw_job *j = kw_job_new(KW_DUMP, TAG_PORTS, NULL);

		if (!j)
			break;
		j->netns = want[x];
		j->states = 1u << TCPW_SYN_SENT;
		k->port_jobs++;
		dumps_submit(d, j);
	}
	k->next_ports_ns = now + PORTS_PERIOD_NS;
}

void dumps_tick(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;

	if (!k)
		return;
	if (k->want && !k->active && !k->netns_busy)
		round_start(d);
	if (!k->netns_busy && now >= k->next_netns_ns) {
		struct kw_job *j = kw_job_new(KW_NETNS, TAG_NETNS, NULL);

		if (j) {
			j->netns = d->o.filter.netns;
			k->netns_busy = true;
			dumps_submit(d, j);
		}
		k->next_netns_ns = now + KQ_NETNS_PERIOD_NS;
	}
	ports_tick(d, now);
	kq_refresh(d, now);
}

static void job_done(struct daemon *d, struct kw_job *j)
{
	struct dumps *k = d->dumps;

	switch (j->tag) {
	case TAG_NETNS:
	case TAG_ROUND_NETNS:
		k->netns_busy = false;
		if (!j->err)
			ns_update(k, j);
		if (j->tag == TAG_NETNS)
			break;
		if (j->err && k->seed) {
			k->err = j->err;
			k->active = false;
			break;
		}
		round_dumps(d);
		break;
	case TAG_ROUND_DUMP:
		round_dump_done(d, j);
		break;
	case TAG_PORTS:
		k->port_jobs--;
		if (!j->err)
			ports_apply(&d->tab, j->socks, j->nsocks);
		break;
	case TAG_OWNERS:
		k->owners_busy = false;
		d->rec_owners += owners_apply(&d->tab, j->owners, j->nowners);
		break;
	case TAG_EH:
	case TAG_LST:
		kq_cache_done(d, j);
		break;
	case TAG_CW_OWNERS:
		kq_owners_done(d, j);
		break;
	}
}

void dumps_poll(struct daemon *d)
{
	struct kw_job *j;

	if (!d->dumps)
		return;
	while ((j = kw_done(d->dumps->w))) {
		job_done(d, j);
		kw_job_free(j);
	}
}

int dumps_fd(const struct daemon *d)
{
	return kw_fd(d->dumps->w);
}

int dumps_seed_error(const struct daemon *d)
{
	return d->dumps ? d->dumps->err : 0;
}

static void on_io(struct daemon *d, struct daemon_io *io, __u32 events)
{
	dumps_poll(d);
}

int dumps_init(struct daemon *d)
{
	struct dumps *k = calloc(1, sizeof(*k));
	int err;

	if (!k)
		return -ENOMEM;
	err = kw_start(&k->w);
	if (err) {
		free(k);
		return err;
	}
	k->io.fn = on_io;
	d->dumps = k;
	if (d->epfd >= 0) {
		err = daemon_io_add(d, kw_fd(k->w), EPOLLIN, &k->io);
		if (err) {
			dumps_free(d);
			return err;
		}
	}
	return 0;
}

void dumps_free(struct daemon *d)
{
	struct dumps *k = d->dumps;

	if (!k)
		return;
	kw_stop(k->w);
	for (__u32 i = 0; i < k->nns; i++)
		ns_rec_free(&k->ns[i]);
	free(k->ns);
	free(k->rm);
	rec_round_free(&k->rr);
	free(k);
	d->dumps = NULL;
}
