/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Diagnostics, the event-path half: per-peer counters the rules read.
 * O(1) per event: a few transitions and every retransmit or reset bump
 * counters of a peer aggregate (one hash lookup). The other half, the
 * periodic sweep that turns the table and these counters into findings,
 * is diag/sweep.h; Documentation/diagnostics.md lists the rules.
 */
#ifndef TCPW_DIAG_PEERS_H
#define TCPW_DIAG_PEERS_H

#include <stdbool.h>
#include <linux/types.h>

#include "diag/thresholds.h"

struct tcpw_event;
struct apply_result;

/* Per-peer counters, kept two windows deep (peers.c). */
enum agg_type {
	AGG_DEST = 1,	/* remote addr:port of active opens */
	AGG_HOST,	/* remote addr: resets, retransmits */
	AGG_LISTEN,	/* local addr:port of a listener (SYN-ACKs) */
	AGG_DROP,	/* local addr:port and a drop reason: packets the
			 * kernel dropped (DROP records) */
};

struct agg_win {
	__u32 conns;		/* connects completed */
	__u32 short_lived;	/* of those, ended within short_ms */
	__u32 syn_retrans;	/* SYN retransmits */
	__u32 timeouts;		/* connects given up after a SYN retransmit */
	__u32 refused;		/* RST in SYN_SENT */
	__u32 retrans;		/* data retransmits */
	__u32 rst_sent, rst_recv;
	__u32 synack;		/* SYN-ACK retransmits */
	__u32 syn_dropped;	/* SYNs this host dropped (AGG_DEST) */
	__u32 dropped;		/* packets dropped (AGG_DROP) */
	__u32 _pad;
	__u64 segs, seg_retrans;	/* from connections that ended */
};

#define LAT_BUCKETS	256	/* log-linear, 8 per power of two */

struct agg {
	__u32 netns;
	__u16 family;
	__u16 port;		/* host order; 0 for AGG_HOST */
	__u8 addr[16];
	__u8 type;		/* enum agg_type */
	__u8 mark;		/* scratch for a sweep */
	__u16 _pad;
	__u32 next;		/* hash chain */
	__u64 born_ns, cur_ns;	/* cur: when the current window began */
	__u64 touched_ns;
	struct agg_win cur, prev;
	/* connect latency, this window and the last (AGG_DEST only) */
	__u32 (*lat)[LAT_BUCKETS];
	/* scratch filled by the sweep */
	__u64 sw_segs, sw_retrans;
	__u64 sw_oldest_ns;	/* oldest SYN_SENT with a retransmit */
	__u32 sw_pending;	/* such sockets; half-open for AGG_LISTEN */
	__u32 reason;		/* AGG_DROP: the drop reason, part of the
				 * key; AGG_DEST: of the last SYN dropped */
};

struct findings;
struct sweep;

struct diag {
	struct diag_opts o;
	struct agg *aggs;
	__u32 cap, used, free_head, count;
	__u32 *heads;
	__u32 mask;
	__u64 agg_full;		/* events not counted: too many peers */
	__u64 host_bits[64];	/* a bit per hash of every AGG_HOST: most
				 * connections end with no aggregate to feed */
	__u32 last[AGG_DROP + 1];	/* last hit per type: churn and storms
					 * hit one peer again and again */
	__u64 next_sweep_ns;
	__u64 sweeps, sweep_ns_total, sweep_ns_max;
	/* diag/sweep.c's, set by diag_sweep_attach (core never looks) */
	struct findings *f;
	struct sweep *scratch;
};

int diag_init(struct diag *g, const struct diag_opts *o);
void diag_free(struct diag *g);

/* peers.c: called for every applied event. O(1). */
void diag_event(struct diag *g, const struct tcpw_event *ev,
		const struct apply_result *res);
/* A packet the kernel dropped (TCPW_EV_DROP). O(1). */
void diag_drop(struct diag *g, const struct tcpw_event *ev);
struct agg *agg_find(struct diag *g, __u8 type, __u32 netns, __u16 family,
		     const __u8 *addr, __u16 port);
/* Roll the agg's windows forward to now. */
void agg_roll(struct diag *g, struct agg *a, __u64 now);
/* Latency percentile (0..100) over both windows, in µs; 0: no data. */
__u64 agg_lat_pct(const struct agg *a, unsigned int pct, __u64 *count);
/* Drop aggregates idle for two windows; keeps the ones marked. */
void agg_gc(struct diag *g, __u64 now);

#endif
