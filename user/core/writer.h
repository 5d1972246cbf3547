/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A regular file's writes, on a thread of their own. A regular file
 * can be neither non-blocking nor polled, and a disk can hold a write
 * for any time: a frozen filesystem, a stalled network or cloud volume,
 * writeback throttling. The loop hands the thread one buffer at a time,
 * by swapping buffers (no copy); while the thread writes it, the loop
 * sees a busy writer as it sees a full pipe, and the eventfd says when
 * the thread is done. A job that fails keeps its unwritten rest, which
 * only a retry (the tick's) writes, before anything new: no line is
 * split, no failing disk is retried in a spin.
 */
#ifndef TCPW_WRITER_H
#define TCPW_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;		/* eventfd: a job ended (the loop polls it) */
	/* The job; the thread's while busy, the loop's otherwise. */
	char *buf;
	size_t cap, off, end;	/* [off, end) still to write */
	int fd;
	bool uncached;		/* RWF_DONTCACHE; cleared on EOPNOTSUPP */
	bool busy, stop;
	int err;		/* errno of the job's failed write; 0 */
	__u64 done;		/* bytes written, not yet collected */
};

/* Start the thread; buffers of cap bytes. 0 or -errno. */
int writer_start(struct writer *w, size_t cap, bool uncached);
/*
 * What the last job did: the bytes it wrote since the last call in
 * *written; 0 when idle with nothing left, -EAGAIN while a job runs,
 * -errno when a write failed (the rest waits for writer_retry()).
 */
int writer_collect(struct writer *w, __u64 *written);
/* Write the failed job's rest again. */
void writer_retry(struct writer *w);
/*
 * Give up the failed job's rest (SIGHUP moved on from its file): its
 * bytes, and the lines they hold, in *bytes and *lines.
 */
void writer_discard(struct writer *w, __u64 *bytes, __u64 *lines);
/*
 * Hand [off, end) of *buf to the thread, which owns that buffer until
 * its job is done; *buf and *cap become the thread's spare buffer, with
 * [end, len) of the old one (the record being formatted) at 0. Only
 * when writer_collect() said 0. -ENOMEM: nothing was handed over.
 */
int writer_submit(struct writer *w, int fd, char **buf, size_t *cap,
		  size_t off, size_t end, size_t len);
/* Bytes handed over and not yet written. */
size_t writer_pending(struct writer *w);
bool writer_uncached(struct writer *w);
/*
 * Stop the thread. A thread still inside a write (a frozen disk) can't
 * be joined: it is left to the process's exit, with its buffer and fd
 * (true: the caller must not close that fd).
 */
bool writer_stop(struct writer *w);

#endif
