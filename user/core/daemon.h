/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon: one thread, one epoll loop. Records come from the source,
 * update the table, and leave as NDJSON; a tick drains the ring (the
 * kernel side batches its wakeups), flushes output, checks the drop
 * counters, expires TIME_WAIT and runs reconcile when it is due.
 */
#ifndef TCPW_DAEMON_H
#define TCPW_DAEMON_H

#include <stdbool.h>
#include <linux/types.h>

#include "diag/diag.h"
#include "lib/json.h"
#include "lib/format.h"
#include "kernel/netns.h"
#include "core/reconcile.h"
#include "source/source.h"
#include "core/table.h"

#define DEFAULT_CTL_PATH	"/run/tcpwatch/tcpwatch.sock"
#define TCPWATCH_VERSION	"0.1.0"

struct daemon_opts {
	enum source_kind source;
	struct source_opts src;
	struct sock_filter filter;
	const char *output;	/* path, "-" for stdout, NULL for none */
	const char *ctl_path;
	__u32 reconcile_ms;	/* periodic reconcile; 0 = only after loss */
	__u32 tick_ms;		/* drain/flush/expire period */
	struct diag_opts diag;	/* thresholds of the rules */
};

struct ctl_client;

#define GONE_SNAPS	4

struct daemon {
	struct daemon_opts o;
	struct source *src;
	struct table tab;
	struct jbuf out;
	bool has_out;
	struct wallclock wc;
	struct netns_set ns;
	int epfd, ctl_fd, sig_fd;
	bool stop;
	__u64 start_ns;

	/* counters, all reported by `tcpwatch stats` */
	__u64 events[TCPW_EV_MAX];	/* received, by kind */
	__u64 drops[TCPW_EV_MAX];	/* lost, by kind, as last read */
	__u64 lost_total;
	__u64 bad_records;		/* wrong version or kind */
	__u64 tw_inferred, tw_expired;
	__u64 rec_runs, rec_added, rec_removed, rec_changed, rec_owners;
	__u64 seeded;
	__u64 next_reconcile_ns;
	__u64 next_ports_ns;		/* SYN_SENT port learning */
	const char *rec_reason;
	__u64 lines;			/* NDJSON records written */
	/*
	 * The snaps last written for the sockets last removed from the
	 * table (cookie 0: none, or not written), so that a reset right
	 * after a CLOSE repeats it only if it changed. A reset sent on
	 * loopback is traced after the peer's reset_recv and CLOSE: two
	 * removals apart, hence more than one.
	 */
	struct {
		__u64 cookie;
		struct sock_snap snap;
	} gone[GONE_SNAPS];
	__u32 gone_next;

	struct ctl_client *clients;
	struct diag diag;
};

int daemon_run(const struct daemon_opts *o);

/*
 * The record path without a kernel, for the replay benchmark and unit
 * tests: init with an output fd (-1: none), feed records, free.
 */
int daemon_init_offline(struct daemon *d, int out_fd);
int daemon_handle_event(void *ctx, const struct tcpw_event *ev);
void daemon_free(struct daemon *d);
/* Apply every pending record and read the drop counters: a query then
 * sees everything the kernel has produced so far. */
void daemon_sync(struct daemon *d);

/* emit.c: NDJSON records */
void emit_head(struct daemon *d, const char *type, __u64 ts_ns);
void emit_tail(struct daemon *d);
struct apply_result;
void emit_event(struct daemon *d, const struct tcpw_event *ev,
		const struct apply_result *res);
/* Returns whether the record carried e's snap (see emit.c: snap_due). */
bool emit_synthetic(struct daemon *d, const struct sock_entry *e, __u8 old,
		    __u8 new, __u64 ts_ns, const char *reason);
void emit_lost(struct daemon *d, const __u64 *delta, __u64 count);
void emit_reconcile(struct daemon *d, const struct reconcile_result *r,
		    const char *reason, __u64 took_ns);
void emit_start(struct daemon *d);
/* Pieces of a socket record, shared with query.c (ls --json):
 * ,"netns":..,"dport":N  /  ,"pid":..,"comm":..,"owner":".."  /
 * ,"retrans":..,"rst_recv":N  /  ,"snap":{...}  /  KEY{"state":N,...} */
void json_tuple(struct jbuf *b, __u32 netns, __u16 family,
		const __u8 *saddr, __u16 sport, const __u8 *daddr,
		__u16 dport);
void json_owner(struct jbuf *b, const struct sock_entry *e,
		const struct tcpw_event *ev);
void json_counters(struct jbuf *b, const struct sock_entry *e);
void json_snap(struct jbuf *b, const struct sock_snap *s);
void json_kinds(struct jbuf *b, const char *key, size_t klen,
		const __u64 *v);
void emit_stop(struct daemon *d);

/* query.c: answers to the control socket */
void query_ls(struct daemon *d, struct jbuf *b, char **argv, int argc);
void query_stats(struct daemon *d, struct jbuf *b, char **argv, int argc);

/* ctl.c: the control socket */
int ctl_listen(const char *path);
void ctl_accept(struct daemon *d);
void ctl_io(struct daemon *d, struct ctl_client *c, __u32 events);
void ctl_close_all(struct daemon *d);
/* drop clients stuck for longer than the control timeout */
void ctl_expire(struct daemon *d, __u64 now_ns);
/* client side: send one request, copy the answer to stdout */
int ctl_request(const char *path, const char *req);

#endif
