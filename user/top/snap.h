/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `tcpwatch top` shows, asked of the daemon over the control
 * socket in one refresh: totals (stats json=1), the first rows of the
 * table in the chosen order (ls sort= limit= count=1 json=1, so the
 * daemon sends only what fits on the screen) and the open findings as
 * of the daemon's last sweep (diag sweep=0 json=1).
 */
#ifndef TCPW_TOP_SNAP_H
#define TCPW_TOP_SNAP_H

#include <stdbool.h>
#include <linux/types.h>

#define SNAP_STATES	16
#define SNAP_FINDINGS	64

/* What to ask for: the filters and the order of the rows. */
struct snap_query {
	int state;		/* -1: any */
	int port;		/* local or remote; -1: any */
	__u32 netns;		/* 0: any */
	const char *sort;	/* ls's sort= name */
	__u32 limit;		/* rows wanted (at least 1 is asked for) */
};

struct snap_row {
	__u64 cookie, netns, retrans, rst, recvq, sendq, in_state_ms;
	__u32 pid;		/* 0: unknown */
	char state[16];
	char local[56], peer[56];	/* "addr:port", "[v6]:port" */
	char comm[16];
};

struct snap_finding {
	char severity[12];	/* "critical", "warning", "info" */
	char rule[40];
	char summary[256];
};

struct snap {
	char source[16];
	__u64 uptime_ms, sockets, events, lost;
	struct {
		char name[16];
		__u64 n;
	} states[SNAP_STATES];
	int nstates;
	__u64 matched;		/* sockets matching the filters */
	struct snap_row *rows;
	__u32 nrows, rows_cap;
	struct snap_finding findings[SNAP_FINDINGS];
	__u32 nfindings;
	__u64 findings_open;	/* more than nfindings when past the cap */
};

/*
 * Ask the daemon at path for a new snapshot into s (whose old contents
 * are freed first). On failure, a negative errno and err says why in
 * the CLI's words.
 */
int snap_fetch(const char *path, const struct snap_query *q, struct snap *s,
	       char *err, size_t errlen);
void snap_free(struct snap *s);

#endif
