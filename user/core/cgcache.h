/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup id -> path, unit and container, for every record. Filled by
 * walking the cgroup2 hierarchy at start; an id not seen then (a cgroup
 * made later) is resolved on first use with open_by_handle_at(), a few
 * in-memory kernfs lookups, at most CGC_RESOLVE_PER_S a second; where
 * that is not allowed, by a new walk at most every CGC_WALK_GAP_NS.
 * Never per event: an id is resolved once, then it is a hash lookup.
 */
#ifndef TCPW_CGCACHE_H
#define TCPW_CGCACHE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "lib/cgname.h"

#define CGC_RESOLVE_PER_S	256
#define CGC_WALK_GAP_NS		(10ULL * 1000000000ULL)
#define CGC_MAX			65536	/* ids kept; then start over */

struct cg_info {
	__u64 id;		/* 0: free slot */
	char *path;		/* NULL: no such cgroup (gone, or not v2) */
	struct cg_names n;
};

struct cgcache {
	char mnt[PATH_MAX];	/* "" when no cgroup2 is mounted */
	int mnt_fd;
	bool no_handles;	/* open_by_handle_at not allowed: walk */
	struct cg_info *v;	/* open addressing on id */
	__u32 cap, count;
	__u64 budget_ns;	/* resolutions are allowed again from here */
	__u32 budget;
	__u64 last_walk_ns;
	/* reported by `tcpwatch stats` */
	__u64 misses;		/* lookups of ids not cached */
	__u64 resolved;		/* misses that found a path */
	__u64 unknown;		/* misses that found no cgroup */
	__u64 deferred;		/* misses left for later (rate limit) */
	__u64 walks;
};

/* Find the mount and walk it. No cgroup2 is not an error: ids only. */
int cgc_init(struct cgcache *c);
void cgc_free(struct cgcache *c);
/* The cgroup with this id; NULL when unknown (or not resolved yet). */
const struct cg_info *cgc_get(struct cgcache *c, __u64 id);
/* id is root or below it (root_path: root's path, "/a/b") */
bool cgc_under(struct cgcache *c, __u64 id, __u64 root,
	       const char *root_path);
/* field_cgroup_namer (lib/fields.h) over the cache c */
const char *cgc_namer(void *c, __u64 id, struct cg_names *n);
/*
 * Words for a summary: "nginx.service", "container 0123456789ab" or the
 * path; "" when unknown. Returns out.
 */
const char *cgc_words(struct cgcache *c, __u64 id, char *out, size_t n);
/* path is prefix or below it */
bool cg_path_under(const char *path, const char *prefix);

#endif
