/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Seed the table from sock_diag at start-up, and reconcile it against
 * sock_diag later: periodically, and after any lost event. sock_diag
 * is the kernel's own view (what ss shows); the table is healed to it.
 */
#ifndef TCPW_RECONCILE_H
#define TCPW_RECONCILE_H

#include <stdbool.h>
#include <linux/types.h>

#include "uapi/tcpwatch.h"

struct table;
struct sock_entry;
struct sd_sock;

struct reconcile_result {
	__u32 netns;		/* namespaces dumped */
	__u32 sockets;		/* sockets the kernel reported */
	__u32 added;		/* in the kernel, not in the table */
	__u32 removed;		/* in the table, gone from the kernel */
	__u32 changed;		/* state differed */
	__u32 owners;		/* owners resolved through /proc */
	__u32 failed;		/* namespaces whose dump failed */
};

/* Called for every correction (not while seeding). */
typedef void (*reconcile_cb)(void *ctx, const struct sock_entry *e,
			     __u8 old, __u8 new);

/* What the daemon watches: the same filter the source applies. */
struct cgcache;

struct sock_filter {
	__u32 netns;		/* 0 = every netns */
	__u16 ports[TCPW_MAX_PORTS];		/* local or remote port; none = all */
	int nr_ports;
	__u64 cgroup;		/* this cgroup id and below; 0 = every one */
	const char *cgroup_path;	/* its path under the cgroup2 root */
	struct cgcache *cgc;	/* resolves the others' paths */
	bool cgroup_by_source;	/* events: the source checked it */
};

/* cgroup 0 (unknown: a timewait sock) never matches a cgroup filter. */
bool filter_match(const struct sock_filter *f, __u32 netns, __u16 sport,
		  __u16 dport, __u64 cgroup);

/*
 * One reconcile round. The kernel worker dumps the namespaces; the loop
 * applies each dump when it comes back, after draining the ring, so
 * every event that happened before the dump ended is already in the
 * table. The rule that keeps a dump from undoing newer events: an entry
 * whose last event is at or after its netns's dump started is left
 * alone (the dump may predate it), and a socket an event removed while
 * the round ran (was_removed) is not brought back.
 */
struct rec_dumped {
	__u32 inum;
	__u64 start_ns;		/* when that netns's dump began */
};

struct rec_round {
	const struct sock_filter *f;
	bool seed;		/* the first fill: nothing counts as a correction */
	__u8 gen;
	reconcile_cb cb;
	void *cb_ctx;
	bool (*was_removed)(void *ctx, __u64 cookie);
	struct reconcile_result r;
	struct rec_dumped *dumped;	/* namespaces dumped whole */
	__u32 ndumped, dumped_cap;
};

void rec_round_begin(struct rec_round *rr, const struct sock_filter *f,
		     bool seed, reconcile_cb cb, void *ctx,
		     bool (*was_removed)(void *ctx, __u64 cookie));
/* Apply n sockets of a netns's dump begun at start_ns: the whole dump,
 * or a slice of it (the loop applies big dumps a slice at a time). */
int rec_round_apply(struct table *t, struct rec_round *rr, __u32 netns,
		    __u64 start_ns, const struct sd_sock *v, __u32 n);
/* List that netns as dumped whole: rec_round_end may remove its
 * entries the dump lacked. */
int rec_round_netns_done(struct rec_round *rr, __u32 netns, __u64 start_ns);
/* Both, for a complete dump in one go. */
int rec_round_netns(struct table *t, struct rec_round *rr, __u32 netns,
		    __u64 start_ns, const struct sd_sock *v, __u32 n);
/* Remove what the dumped namespaces no longer have; rr->r is final. */
int rec_round_end(struct table *t, struct rec_round *rr);
void rec_round_free(struct rec_round *rr);

struct kw_owner;
/* Inodes whose owner is unknown or only inherited (malloc'd; *n). */
__u32 *owners_wanted(struct table *t, __u32 *n);
/* Give those entries the owners a /proc scan found; returns how many. */
__u32 owners_apply(struct table *t, struct kw_owner *o, __u32 n);

/*
 * connect() enters SYN_SENT before it picks the source port, so a
 * socket whose SYN goes unanswered has no port in any event until its
 * first retransmit. Learn those ports from a SYN_SENT-only dump:
 * ports_wanted lists the namespaces that have such sockets.
 */
int ports_wanted(struct table *t, __u32 *want, int max);
__u32 ports_apply(struct table *t, const struct sd_sock *v, __u32 n);

#endif
