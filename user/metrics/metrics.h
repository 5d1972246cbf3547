/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics: GET /metrics in the text exposition format 0.0.4
 * (Documentation/metrics.md lists every family, its labels and bound).
 *
 * The loop never renders and never waits for a scrape. It counts what
 * the events say (count.c, O(1) a record) and, when a scrape asks for
 * fresh numbers, walks its own table in bounded chunks over a few ticks
 * (collect.c) and publishes a snapshot under a short lock. The HTTP
 * server's own thread (http.c, libmicrohttpd) renders the last snapshot
 * (render.c). Nothing here asks the kernel: listener queues come from
 * the sweep's sock_diag cache (core/dumps.h).
 */
#ifndef TCPW_METRICS_H
#define TCPW_METRICS_H

#include <stdbool.h>
#include <linux/types.h>

struct daemon;

#define METRICS_TOPK_DEFAULT	10
#define METRICS_TOPK_MAX	1000

struct metrics_opts {
	const char *listen;	/* NULL: off */
	__u32 topk;		/* per-peer and per-listener series */
	bool per_netns;		/* per-netns series too */
};

/* "[HOST:]PORT" (a bare port: 127.0.0.1; "[::1]:PORT" for IPv6);
 * 0 or -EINVAL. */
int metrics_parse_listen(const char *s);
/* Bind the port, while the daemon still may (a port below 1024); errors
 * are printed. */
int metrics_listen(const struct metrics_opts *o);
/* After metrics_listen(): start the HTTP server (its thread gets the
 * capabilities left then) and hook the counters into the loop. Errors
 * are printed. */
int metrics_attach(struct daemon *d, const struct metrics_opts *o);

#endif
