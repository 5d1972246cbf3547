/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the NDJSON records go (stdout or -o FILE), without ever holding
 * up the loop. Records are formatted into d->out (emit.c) and handed
 * over whole at emit_tail(); the bytes wait there until the fd takes
 * them: a pipe, tty or socket non-blocking, a regular file through its
 * writer thread (writer.h), which a disk can hold as long as it likes.
 * The buffer is bounded (OUT_BUF): when the reader is too slow (a pipe
 * nobody reads, a frozen disk) or a write fails (ENOSPC, EIO), new
 * records are dropped whole, counted, and reported in a "lost" record
 * with "where":"output" once writing resumes. A line is never cut:
 * bytes already handed to the fd are always completed first.
 *
 * d->out holds [0, off) written, [off, mark) whole records waiting,
 * [mark, len) the record being formatted.
 */
#ifndef TCPW_OUTPUT_H
#define TCPW_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "core/writer.h"

#define OUT_BUF		(1u << 20)
/* Writing starts here; past it (the fd took nothing), records are
 * dropped. A record is far below the 64 KiB left. */
#define OUT_FLUSH_AT	(OUT_BUF - 64 * 1024)

struct daemon;

struct output {
	bool live;		/* the daemon's: non-blocking, bounded */
	bool pollable;		/* pipe, tty or socket: EPOLLOUT wakes us */
	bool watching;		/* EPOLLOUT is armed */
	bool stalled;		/* the last write did not finish: wait */
	bool err_reported;	/* this error episode is on stderr */
	bool gone;		/* EPIPE: the reader is done */
	bool discard;		/* -n: no destination; records are made
				 * for the tap only (emit_tail) */
	bool midline;		/* the last write ended inside a line */
	bool uncached;		/* a regular file, RWF_DONTCACHE works */
	bool threaded;		/* a regular file: written by q->w */
	bool writer_on;		/* q->w runs (started at the first write) */
	bool retry_due;		/* the writer failed: the next flush retries */
	bool writer_stuck;	/* its job outlasted a full buffer's wait */
	int old_fd;		/* SIGHUP's old file, until q->w is done */
	int opening;		/* SIGHUP's open, on its thread: the
				 * result's pipe; -1 none */
	struct writer w;
	int restore_fd, restore_fl;	/* stdout's flags to put back */
	size_t off, mark;
	__u64 dropped, dropped_bytes;	/* since the last lost record */
	__u64 dropped_total, dropped_bytes_total;
	__u64 lost_records;		/* "lost" records written */
	__u64 errors;			/* failed writes (not EAGAIN/EPIPE) */
	__u64 reopens;			/* SIGHUP: -o FILE opened again */
	int last_err;
};

/* The daemon's output: open o.output ("-": stdout) non-blocking where
 * it can be, watch it on the loop. Errors are printed. */
int output_open(struct daemon *d);
/*
 * SIGHUP: open -o FILE again (logrotate renamed it), on a thread
 * (opener.h): until it is open, records go on to the old file. The
 * records handed over by then are completed in the old file, so none
 * is split between the two; if the old file refuses the rest of a line,
 * that record is dropped and counted. On failure, writing goes on to
 * the old one (said on stderr). READY=1 (sd_notify) once the open has
 * returned. 1 while it runs, 0 for stdout or -n, or -errno.
 */
int output_reopen(struct daemon *d);
/* The offline daemon's (tests, replay): blocking json_flush(), no drops. */
void output_init_offline(struct daemon *d);
/* A record ends at d->out.len: keep it, or drop it if there is no room.
 * The hot path is a compare and two stores. */
void output_full(struct daemon *d);
#define output_commit(d) do {						\
		if ((d)->out.len < OUT_FLUSH_AT) {			\
			(d)->outq.mark = (d)->out.len;			\
			(d)->lines++;					\
		} else {						\
			output_full(d);					\
		}							\
	} while (0)
/* Between records: write what the fd takes now (a failed write is
 * retried: this is the retry), and the lost record once the backlog
 * is out. -EPIPE once the reader is gone, else 0. */
int output_flush(struct daemon *d);
/*
 * Before a query's answer: output_flush(), and the file's writer thread
 * waited for (at most WRITER_WAIT_MS, none when it is stuck or failing),
 * so that what the answer counts is in the file.
 */
void output_sync(struct daemon *d);
/* At exit: the rest, waiting at most about a second for a slow reader. */
int output_close(struct daemon *d);
void output_free(struct daemon *d);
/* Bytes handed over but not yet written. */
size_t output_pending(struct daemon *d);

#endif
