/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the metrics module: the counters the loop keeps (count.c), the
 * snapshot it publishes (collect.c) and the renderer (render.c) that
 * the HTTP thread runs on a snapshot nobody else writes.
 */
#ifndef TCPW_METRICS_SNAP_H
#define TCPW_METRICS_SNAP_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "uapi/tcpwatch.h"
#include "diag/findings.h"
#include "metrics/metrics.h"

struct apply_result;

enum { DIR_ACTIVE, DIR_PASSIVE, DIR_MAX };
enum { RES_ESTABLISHED, RES_REFUSED, RES_TIMEOUT, RES_RESET, RES_MAX };

/* connect duration buckets (seconds), le= bounds; +Inf is implied */
#define LAT_NB	17
extern const double metrics_lat_bounds[LAT_NB];

/* What the events say, counted on the loop (count.c). */
struct mcount {
	__u64 trans[TCPW_STATE_MAX][TCPW_STATE_MAX];	/* [from][to] */
	__u64 conns[DIR_MAX][RES_MAX];
	__u64 lat[LAT_NB + 1];		/* per bucket, not cumulative */
	__u64 lat_sum_ns;
	__u64 retrans, synack, rst_sent, rst_recv;
};

void metrics_count(struct mcount *c, const struct tcpw_event *ev,
		   const struct apply_result *res);

/* A series of a top-K family: where, and its numbers. */
struct mpeer {
	__u32 netns;
	__u16 family, port;
	__u8 addr[16];
	__u64 a, b;		/* listener: queue, limit; dest: used, range */
};

struct mns {			/* per netns (--metrics-netns) */
	__u32 inum;
	__u32 by_state[TCPW_STATE_MAX];
	__u32 ports_used, range;	/* distinct local ephemeral ports */
	__u64 overflows;
};

/* Everything a scrape shows, copied by the loop; read-only once out. */
struct msnap {
	__u64 seq;			/* publication number */
	__u32 by_state[TCPW_STATE_MAX];
	struct mcount c;
	__u64 events[TCPW_EV_MAX], drops[TCPW_EV_MAX], bad_records;
	__u64 rec_runs, rec_added, rec_removed, rec_changed, rec_owners;
	__u64 tw_inferred, tw_expired;
	__u32 ring_bytes, ring_used;
	__u64 out_bytes, out_records, out_dropped, out_dropped_bytes;
	__u32 table_count, table_cap;
	__u64 table_bytes;
	__u64 sweeps, sweep_ns_total, sweep_ns_max;
	__u64 overflows;		/* ListenOverflows, all watched netns */
	__u64 collect_ns;		/* loop time spent on this snapshot */
	__u32 collect_ticks;		/* ticks it was spread over */
	__u64 dest_dropped;		/* destinations past the hash's bound */
	/* top-K, largest first */
	struct mpeer *listeners, *dests;
	__u32 nlisteners, ndests;
	struct mns *ns;
	__u32 nns;
	/* findings: [rule][severity] open now, opened per rule */
	__u32 (*f_open)[SEV_MAX];
	__u64 *f_opened;
	bool per_netns;
};

void msnap_free(struct msnap *s);

/* The exposition text of s (and of this process) into f. */
void metrics_render(FILE *f, const struct msnap *s);

#endif
