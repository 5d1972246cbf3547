/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon: one epoll loop owns the table. Records come from the
 * source, update the table, and leave as NDJSON; a tick drains the ring
 * (the kernel side batches its wakeups), flushes output, checks the drop
 * counters, expires TIME_WAIT and asks for reconcile when it is due.
 * Every slow question to the kernel (sock_diag dumps, /proc scans) runs
 * on the kernel worker's thread (core/dumps.h): the loop never waits.
 */
#ifndef TCPW_DAEMON_H
#define TCPW_DAEMON_H

#include <stdbool.h>
#include <linux/types.h>

#include "diag/peers.h"
#include "lib/json.h"
#include "lib/format.h"
#include "kernel/netns.h"
#include "core/cgcache.h"
#include "core/output.h"
#include "core/pktdrop.h"
#include "core/reconcile.h"
#include "source/source.h"
#include "core/table.h"
#include "core/conn.h"
#include "core/records.h"

#define DEFAULT_CTL_PATH	"/run/tcpwatch/tcpwatch.sock"
#define TCPWATCH_VERSION	"0.1.0"

struct daemon_opts {
	enum source_kind source;
	struct source_opts src;
	struct sock_filter filter;
	const char *output;	/* path, "-" for stdout, NULL for none */
	bool output_cache;	/* a file's pages stay cached (no RWF_DONTCACHE) */
	__u32 backlog_bytes;	/* recent records kept for `events`; 0: none */
	const char *ctl_path;
	__u32 reconcile_ms;	/* periodic reconcile; 0 = only after loss */
	__u32 tick_ms;		/* drain/flush/expire period */
	struct diag_opts diag;	/* thresholds of the rules */
	__u32 records;		/* REC_BIT()s to write; 0: REC_DEFAULT */
};

#define GONE_SNAPS	4
#define DAEMON_MODULES_MAX	8

/*
 * What a subscriber's filter sees of the record being formatted (set by
 * emit.c between emit_head and emit_tail): socket records carry their
 * tuple and state, the others (start, lost, finding...) only a type.
 */
struct rec_meta {
	__u64 ts_ns;
	__u32 netns;
	__u16 sport, dport;
	__u8 state;		/* the new state, or the socket's */
	bool sock;		/* a socket record: the fields above are set */
};

struct daemon {
	struct daemon_opts o;
	struct source *src;
	struct table tab;
	struct jbuf out;	/* records on their way out (output.h) */
	struct output outq;
	bool has_out;		/* records are formatted: an output, a
				 * subscriber or the backlog wants them */
	struct rec_meta rec;	/* of the record being formatted */
	/* Each whole record (ctl/events.c: subscribers, backlog). */
	void (*tap)(struct daemon *d, const char *rec, size_t len);
	bool reopen;		/* SIGHUP: reopen -o FILE */
	struct wallclock wc;
	struct dumps *dumps;	/* the kernel worker's jobs (core/dumps.h) */
	struct cgcache cg;	/* cgroup ids -> paths (core/cgcache.h) */
	int epfd, sig_fd;
	bool stop;
	__u64 start_ns;

	/* counters, all reported by `tcpwatch stats` */
	__u64 events[TCPW_EV_MAX];	/* received, by kind */
	__u64 drops[TCPW_EV_MAX];	/* lost, by kind, as last read */
	__u64 lost_total;
	__u64 bad_records;		/* wrong version or kind */
	__u64 tw_inferred, tw_expired;
	__u64 rec_runs, rec_added, rec_removed, rec_changed, rec_owners;
	__u64 rec_slices, rec_slice_max_ns;	/* dumps applied a slice a pass */
	__u64 seeded;
	__u64 next_reconcile_ns;
	__u64 last_round_end_ns;	/* loss rounds keep their distance */
	const char *rec_reason;
	__u64 lines;			/* NDJSON records handed to output */
	/* The source's sample passes run by the worker (core/dumps.c). */
	struct {
		__u64 runs, errors, ns_total, ns_max, ns_last, netns;
		__u64 visited, full, emitted;
	} sample;
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

	struct conns conns;	/* closes awaiting a trailing reset */
	struct diag diag;
	struct pktdrop pkt;		/* packets the kernel dropped */
	const struct daemon_module *mods[DAEMON_MODULES_MAX];
	int nmods;
	/* The sample passes' budget (core/dumps.c). Cold: at the end, off
	 * the lines the records use (inside `sample` it shifted them and
	 * cost the replay 2 %). */
	__u64 sample_stretched;		/* passes put off by the budget */
	__u64 sample_period_ns;		/* a pass's start to the next's */
};

/*
 * The daemon's life: start (source attached, signals, epoll), add the
 * modules (main.c: the control socket, the sweep), run until a signal,
 * free. daemon_start's errors are printed.
 */
int daemon_start(struct daemon *d, const struct daemon_opts *o);
int daemon_loop(struct daemon *d);

/*
 * The record path without a kernel, for the replay benchmark and unit
 * tests: init with an output fd (-1: none), feed records, free.
 */
int daemon_init_offline(struct daemon *d, int out_fd);
int daemon_handle_event(void *ctx, const struct tcpw_event *ev);
/* n records in order, as a source hands them over (source_cb): the
 * path the daemon takes, prefetching ahead of the record it applies. */
int daemon_handle_batch(void *ctx, const struct tcpw_event *const *ev,
			size_t n);
void daemon_free(struct daemon *d);
/* Apply every pending record and read the drop counters: a query then
 * sees everything the kernel has produced so far. */
void daemon_sync(struct daemon *d);
/* Apply every record in the ring now. */
void daemon_drain(struct daemon *d);

/*
 * Modules hang off the loop without the daemon knowing them (the control
 * socket, the diagnostics' sweep, metrics): tick runs every tick, free
 * when the daemon ends, event after each record the table applied; an
 * fd they watch carries a struct daemon_io.
 */
struct daemon_module {
	const char *name;
	void (*tick)(struct daemon *d, __u64 now);
	void (*free)(struct daemon *d);
	/* Optional: every record applied to the table (O(1), no I/O). */
	void (*event)(struct daemon *d, const struct tcpw_event *ev,
		      const struct apply_result *res);
};

struct daemon_io {
	void (*fn)(struct daemon *d, struct daemon_io *io, __u32 events);
};

int daemon_add_module(struct daemon *d, const struct daemon_module *m);
/* epoll on fd for events; io->fn is called with what happened. */
int daemon_io_add(struct daemon *d, int fd, __u32 events,
		  struct daemon_io *io);
int daemon_io_mod(struct daemon *d, int fd, __u32 events,
		  struct daemon_io *io);
void daemon_io_del(struct daemon *d, int fd);

#endif
