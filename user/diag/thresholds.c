// SPDX-License-Identifier: GPL-2.0
/* The rules' thresholds: defaults and `--threshold KEY=VALUE`. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag.h"

enum kind { U32, REAL };

static const struct {
	const char *key;
	enum kind kind;
	size_t off;
	double def, min, max;
} keys[] = {
#define U(k, d, lo, hi)	{ #k, U32, offsetof(struct diag_opts, k), d, lo, hi }
#define R(k, d, lo, hi)	{ #k, REAL, offsetof(struct diag_opts, k), d, lo, hi }
	U(sweep_ms, 1000, 50, 60000),
	U(window_s, 10, 1, 3600),
	U(quiet_s, 10, 0, 3600),
	U(update_s, 10, 0, 3600),
	U(max_findings, 100, 1, 4096),
	R(tw_fraction, 0.5, 0, 1),
	R(tw_critical, 0.9, 0, 1),
	U(tw_exhaust_s, 120, 0, 86400),
	U(close_wait_s, 60, 0, 86400),
	U(refused_min, 3, 1, 1000000),
	U(synack_min, 1, 1, 1000000),
	U(zero_window_s, 5, 0, 86400),
	R(buf_fill, 0.9, 0.01, 1),
	R(rcv_fill, 0.5, 0.01, 1),
	R(rst_rate, 10, 0.01, 1e9),
	R(retrans_rate, 5, 0.01, 1e9),
	R(retrans_fraction, 0.02, 0, 1),
	R(churn_rate, 20, 0.01, 1e9),
	U(short_ms, 1000, 1, 3600000),
#undef U
#undef R
};

const char diag_opts_help[] =
"  thresholds (--threshold KEY=VALUE, repeatable; Documentation/diagnostics.md):\n"
"    sweep_ms=1000        how often the rules run\n"
"    window_s=10          rates are counted over one to two windows\n"
"    quiet_s=10           a finding resolves after this long without cause\n"
"    update_s=10          an open finding is re-sent at most this often\n"
"    max_findings=100     open findings per rule\n"
"    tw_fraction=0.5      TIME_WAIT share of the ephemeral range (warning)\n"
"    tw_critical=0.9      ... (critical)\n"
"    tw_exhaust_s=120     warn when the range runs out sooner at this rate\n"
"    close_wait_s=60      CLOSE_WAIT older than this is a leak\n"
"    refused_min=3        refused connects per window to one port\n"
"    synack_min=1         SYN-ACK retransmits per window on a listener\n"
"    zero_window_s=5      a zero window / full buffer held this long\n"
"    buf_fill=0.9         send buffer share that counts as full\n"
"    rcv_fill=0.5         receive buffer share that counts as full\n"
"    rst_rate=10          resets per second with one peer\n"
"    retrans_rate=5       retransmits per second to one peer\n"
"    retrans_fraction=0.02  ... and of the data segments sent\n"
"    churn_rate=20        new connections per second to one peer\n"
"    short_ms=1000        connections shorter than this are short-lived\n";

void diag_opts_default(struct diag_opts *o)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		void *p = (char *)o + keys[i].off;

		if (keys[i].kind == U32)
			*(__u32 *)p = (__u32)keys[i].def;
		else
			*(double *)p = keys[i].def;
	}
}

int diag_opts_set(struct diag_opts *o, const char *kv, char *err,
		  size_t errlen)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;

	for (size_t i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
		void *p = (char *)o + keys[i].off;
		char *end;
		double v;

		if (strlen(keys[i].key) != klen ||
		    strncmp(keys[i].key, kv, klen))
			continue;
		errno = 0;
		v = strtod(eq + 1, &end);
		if (errno || end == eq + 1 || *end || v < keys[i].min ||
		    v > keys[i].max ||
		    (keys[i].kind == U32 && v != (double)(__u32)v)) {
			snprintf(err, errlen,
				 "bad value for threshold %s: \"%s\" (%s %g..%g)",
				 keys[i].key, eq + 1,
				 keys[i].kind == U32 ? "an integer" : "a number",
				 keys[i].min, keys[i].max);
			return -EINVAL;
		}
		if (keys[i].kind == U32)
			*(__u32 *)p = (__u32)v;
		else
			*(double *)p = v;
		return 0;
	}
	snprintf(err, errlen,
		 "unknown threshold \"%s\" (KEY=VALUE; `tcpwatch run --help` lists the keys)",
		 kv);
	return -EINVAL;
}
