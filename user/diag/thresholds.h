/* SPDX-License-Identifier: GPL-2.0 */
/* The rules' thresholds: `tcpwatch run --threshold KEY=VALUE`. */
#ifndef TCPW_DIAG_THRESHOLDS_H
#define TCPW_DIAG_THRESHOLDS_H

#include <stddef.h>
#include <linux/types.h>

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
	__u32 drop_min;		/* packets dropped per window, one reason */
};

/*
 * One threshold: its key is its field's name in struct diag_opts. The
 * rule that uses it defines it (diag_rule.thresholds); --help and
 * Documentation/diagnostics.md's table come from these definitions
 * (tests/unit/test_rules.c checks the table).
 */
struct diag_threshold {
	const char *key;
	enum { DT_U32 = 1, DT_REAL } kind;
	size_t off;
	double def, min, max;
	const char *help;
};

#define DIAG_U32(k, d, lo, hi, h) \
	{ #k, DT_U32, offsetof(struct diag_opts, k), d, lo, hi, h }
#define DIAG_REAL(k, d, lo, hi, h) \
	{ #k, DT_REAL, offsetof(struct diag_opts, k), d, lo, hi, h }

/* Every threshold, the sweep's own first, then each rule's; NULL after
 * the last. */
const struct diag_threshold *diag_threshold_at(size_t i);
void diag_opts_default(struct diag_opts *o);
/* Parse "key=value"; 0 or -EINVAL with a message in err. */
int diag_opts_set(struct diag_opts *o, const char *kv, char *err,
		  size_t errlen);
/* The thresholds that bound each other (tw_critical >= tw_fraction),
 * once every -T is in: 0 or -EINVAL with a message in err. */
int diag_opts_check(const struct diag_opts *o, char *err, size_t errlen);
/* The keys, defaults and meanings, for --help. */
const char *diag_opts_help(void);

#endif
