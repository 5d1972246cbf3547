/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What dumps.c (reconcile rounds, port learning, the worker's answers)
 * and kq.c (the sweep's cache) share; nothing else includes it.
 */
#ifndef TCPW_CORE_DUMPS_PRIV_H
#define TCPW_CORE_DUMPS_PRIV_H

#include "core/daemon.h"
#include "core/dumps.h"
#include "core/keyset.h"
#include "core/reconcile.h"

enum {
	TAG_NETNS = 1,		/* periodic discovery */
	TAG_ROUND_NETNS,	/* a round's discovery */
	TAG_ROUND_DUMP,
	TAG_PORTS,
	TAG_OWNERS,
	TAG_EH,			/* sweep cache: established-hash states */
	TAG_LST,		/* sweep cache: listeners */
	TAG_CW_OWNERS,
	TAG_SAMPLE,		/* the source's sample pass, every netns */
};

#define KQ_PIDS		8
#define PORTS_AFTER_NS	100000000ULL	/* SYN_SENT this long: ask */
#define KQ_LEAD_NS	200000000ULL
#define PORTS_PERIOD_NS	500000000ULL

struct kq_cache {
	struct sd_sock *v;
	__u32 n, states;
	__u64 ns;		/* when the dump began */
	bool valid, busy, req;
	__u32 want;		/* states asked for since the last refresh */
};

struct ns_rec {
	struct kw_ns f;
	bool dirty;		/* can have drifted: dump in the next round */
	__u64 dirty_ns;		/* when loss marked it: a dump older stays */
	__u64 dumped_ns;	/* last complete round dump */
	struct kq_cache eh, lst;
	__u64 lst_overflows;	/* f.overflows at the last LISTEN dump */
	bool lst_full;		/* that dump showed a full accept queue */
	struct kw_owner *own;
	__u32 nown;
	__u32 pids[KQ_PIDS], npids;
};

struct dumps {
	struct kworker *w;
	struct daemon_io io;
	struct ns_rec *ns;
	__u32 nns, cap;
	__u64 next_netns_ns;
	bool netns_busy;
	/* the reconcile round */
	bool want, want_all, active, seed;
	const char *reason;
	__u32 jobs;
	__u64 t0, last_round_end;
	int err;		/* the seed's, for daemon_loop */
	struct rec_round rr;
	__u32 rr_next;
	/* round dumps the loop applies a slice per pass, oldest first */
	struct kw_job *apply_head, *apply_tail;
	__u32 apply_pos;
	struct keyset rm;	/* cookies removed while a round runs */
	/* port learning, owners, the sweep's refreshes */
	__u32 port_jobs, sweep_jobs;
	__u64 next_ports_ns;
	bool owners_busy;
	__u64 req_ns;		/* the oldest refresh asked for, not sent */
	bool sample_busy;
	__u64 next_sample_ns;
	/* the sample pass's namespaces, found a slice of the table a
	 * tick (no netns has inode 0) */
	bool scanning;
	__u32 scan_at;		/* next table slot */
	struct keyset scan;
};

struct ns_rec *ns_find(struct dumps *k, __u32 inum);
struct ns_rec *ns_get(struct dumps *k, __u32 inum);
void dumps_submit(struct daemon *d, struct kw_job *j);

/* kq.c: the worker's answers for the cache, and its refreshes */
void kq_cache_done(struct daemon *d, struct kw_job *j);
void kq_owners_done(struct daemon *d, struct kw_job *j);
void kq_refresh(struct daemon *d, __u64 now);

#endif
