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
struct netns_set;
struct sock_entry;

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
struct sock_filter {
	__u32 netns;		/* 0 = every netns */
	__u16 ports[TCPW_MAX_PORTS];		/* local or remote port; none = all */
	int nr_ports;
};

bool filter_match(const struct sock_filter *f, __u32 netns, __u16 sport,
		  __u16 dport);

/*
 * Compare the table with sock_diag in every netns of the set (only
 * f->netns when non-zero). Entries touched by events at or after start_ns
 * are left alone: they are newer than the dump. seed: the first fill,
 * nothing is counted as a correction.
 */
int reconcile(struct table *t, struct netns_set *ns,
	      const struct sock_filter *f,
	      __u64 start_ns, bool seed, reconcile_cb cb, void *ctx,
	      struct reconcile_result *r);

/*
 * connect() enters SYN_SENT before it picks the source port, so a
 * socket whose SYN goes unanswered has no port in any event until its
 * first retransmit. Learn those ports from a SYN_SENT-only dump.
 */
int learn_ports(struct table *t, struct netns_set *ns,
		const struct sock_filter *f, __u32 *learned);

/* Resolve owners of sockets whose owner is unknown or only inherited. */
int resolve_owners(struct table *t, __u32 *resolved);

#endif
