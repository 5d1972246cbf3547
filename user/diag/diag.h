/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Diagnostics: the table and the event stream turned into findings
 * ("what is wrong, and who is doing it"). Documentation/diagnostics.md
 * lists the rules.
 *
 * Two halves keep the cost off the event path:
 *  - peers.c: O(1) per event. A few transitions and every retransmit or
 *    reset bump counters of a peer aggregate (one hash lookup);
 *  - rules.c: a periodic sweep (sweep_ms) walks the table once, reads
 *    the aggregates, asks sock_diag for what events can't carry (accept
 *    queues, half-open requests, unread bytes) and reports findings.
 * findings.c gives each finding its lifecycle (opened, updated at a
 * bounded rate, resolved) and writes it as NDJSON or text.
 */
#ifndef TCPW_DIAG_H
#define TCPW_DIAG_H

#include <stdbool.h>
#include <linux/types.h>

struct daemon;
struct jbuf;
struct tcpw_event;
struct apply_result;

/* Thresholds: `tcpwatch run --threshold KEY=VALUE` (diag_opts_set). */
struct diag_opts {
	__u32 sweep_ms;		/* sweep period */
	__u32 window_s;		/* rates are counted over 1-2 windows */
	__u32 quiet_s;		/* a finding resolves after this long
				 * without its condition */
	__u32 update_s;		/* an open finding is re-sent at most this
				 * often, and only when its evidence moved */
	__u32 max_findings;	/* open findings per rule */
	double tw_fraction;	/* TIME_WAIT share of the port range: warn */
	double tw_critical;	/* ... critical */
	__u32 tw_exhaust_s;	/* warn when the range would run out in
				 * this many seconds at the current rate */
	__u32 close_wait_s;	/* CLOSE_WAIT older than this is a leak */
	__u32 refused_min;	/* refused connects per window */
	__u32 synack_min;	/* SYN-ACK retransmits per window */
	__u32 zero_window_s;	/* zero window / full buffer held this long */
	double buf_fill;	/* "full": this share of sndbuf */
	double rcv_fill;	/* "full": this share of rcvbuf */
	double rst_rate;	/* resets per second per peer */
	double retrans_rate;	/* retransmits per second per peer */
	double retrans_fraction;	/* of the data segments sent */
	double churn_rate;	/* new connections per second per peer */
	__u32 short_ms;		/* a connection shorter than this is "short" */
};

void diag_opts_default(struct diag_opts *o);
/* Parse "key=value"; 0 or -EINVAL with a message in err. */
int diag_opts_set(struct diag_opts *o, const char *kv, char *err,
		  size_t errlen);
/* The keys, defaults and meanings, for --help. */
extern const char diag_opts_help[];

/* Per-peer counters, kept two windows deep (peers.c). */
enum agg_type {
	AGG_DEST = 1,	/* remote addr:port of active opens */
	AGG_HOST,	/* remote addr: resets, retransmits */
	AGG_LISTEN,	/* local addr:port of a listener (SYN-ACKs) */
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
	__u32 _pad2;
};

struct findings;

struct diag {
	struct diag_opts o;
	struct agg *aggs;
	__u32 cap, used, free_head, count;
	__u32 *heads;
	__u32 mask;
	__u64 agg_full;		/* events not counted: too many peers */
	__u64 host_bits[64];	/* a bit per hash of every AGG_HOST: most
				 * connections end with no aggregate to feed */
	__u32 last[AGG_LISTEN + 1];	/* last hit per type: churn and storms
					 * hit one peer again and again */
	__u64 next_sweep_ns;
	__u64 sweeps, sweep_ns_total, sweep_ns_max;
	struct findings *f;
	void *scratch;		/* rules.c's per-sweep state */
};

int diag_init(struct diag *g, const struct diag_opts *o);
void diag_free(struct diag *g);

/* peers.c: called for every applied event. O(1). */
void diag_event(struct diag *g, const struct tcpw_event *ev,
		const struct apply_result *res);
struct agg *agg_find(struct diag *g, __u8 type, __u32 netns, __u16 family,
		     const __u8 *addr, __u16 port);
/* Roll the agg's windows forward to now. */
void agg_roll(struct diag *g, struct agg *a, __u64 now);
/* Latency percentile (0..100) over both windows, in µs; 0: no data. */
__u64 agg_lat_pct(const struct agg *a, unsigned int pct, __u64 *count);
/* Drop aggregates idle for two windows; keeps the ones marked. */
void agg_gc(struct diag *g, __u64 now);

/* rules.c: the periodic sweep (from the daemon's tick) */
void diag_sweep(struct daemon *d, __u64 now);
void diag_free_scratch(struct diag *g);
/* A rule's explanation and usual fix ("" for an unknown rule). */
void rule_text(const char *rule, const char **explain, const char **fix);

/* findings.c: lifecycle, records, `tcpwatch diag` */
enum severity { SEV_INFO = 1, SEV_WARNING, SEV_CRITICAL };

struct finding_in {
	const char *rule;	/* stable id, e.g. "close_wait_leak" */
	enum severity sev;
	const char *key;	/* identifies the subject within the rule */
	const char *subject;	/* JSON object text */
	const char *evidence;	/* JSON object text */
	const char *summary;	/* one line, plain words */
};

struct findings *findings_new(void);
void findings_free(struct findings *f);
void findings_begin(struct findings *f);
/* Report a condition seen in this sweep. */
void finding_report(struct daemon *d, const struct finding_in *in,
		    __u64 now);
/* After a sweep: resolve what was not reported for quiet_s. */
void findings_end(struct daemon *d, __u64 now);
__u32 findings_open(const struct findings *f, __u64 *opened,
		    __u64 *resolved, __u64 *suppressed);
void query_diag(struct daemon *d, struct jbuf *b, char **argv, int argc);

#endif
