// SPDX-License-Identifier: GPL-2.0
/* The NDJSON destination: bounded, non-blocking, whole lines (output.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "core/opener.h"
#include "core/output.h"
#include "lib/notify.h"

/* The live daemon's fd on the loop (one daemon per process). */
static struct daemon_io out_io;

size_t output_pending(struct daemon *d)
{
	const struct output *q = &d->outq;
	size_t n = q->live ? d->out.len - q->off : d->out.len;

	return q->writer_on ? n + writer_pending(&d->outq.w) : n;
}

static void watch(struct daemon *d, bool want_out)
{
	struct output *q = &d->outq;

	if (!q->pollable || q->watching == want_out)
		return;
	/* 0: EPOLLERR still says when a pipe's reader has gone */
	if (!daemon_io_mod(d, d->out.fd, want_out ? EPOLLOUT : 0, &out_io))
		q->watching = want_out;
}

/* Move what is still to write to the front, now and then. */
static void compact(struct daemon *d)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;

	if (!q->off)
		return;
	if (q->off == b->len) {
		q->off = q->mark = b->len = 0;
	} else if (q->off >= b->len / 2 || b->len >= OUT_FLUSH_AT) {
		memmove(b->p, b->p + q->off, b->len - q->off);
		b->len -= q->off;
		q->mark -= q->off;
		q->off = 0;
	}
}

/* Say a failed write once per episode; count every one. */
static void write_failed(struct daemon *d, int err)
{
	struct output *q = &d->outq;

	q->errors++;
	q->last_err = err;
	if (!q->err_reported)
		fprintf(stderr,
			"tcpwatch: writing output %s: %s; new records are dropped (counted in `tcpwatch stats` and a \"lost\" record) and writing is retried every tick\n",
			d->o.output && strcmp(d->o.output, "-") ?
				d->o.output : "(stdout)",
			strerror(err));
	q->err_reported = true;
}

static void write_resumed(struct output *q)
{
	if (q->err_reported) {
		fprintf(stderr, "tcpwatch: writing output resumed\n");
		q->err_reported = false;
	}
}

static void writer_ready(struct daemon *d, struct daemon_io *io,
			 __u32 events);
static struct daemon_io writer_io = { .fn = writer_ready };

/*
 * How long a full buffer waits for the writer's job. A healthy disk
 * takes a megabyte in a few ms, and the loop formats records faster
 * than a disk takes them: without a wait, every burst would drop. A
 * job that takes longer is a disk that holds its writes (a frozen
 * filesystem, a stalled volume): records are dropped, and nothing
 * waits again until the job ends. The 8 MiB ring holds well over this.
 */
#define WRITER_WAIT_MS	100

/*
 * A regular file: [off, end) goes to the writer thread when it is idle
 * (the buffers swap, the bytes stay put), else it waits in d->out as it
 * would for a full pipe; when d->out is full (full), for at most
 * WRITER_WAIT_MS. A failed job is retried once per flush that is not
 * its own wakeup, i.e. once a tick.
 */
static void hand_over(struct daemon *d, size_t end, bool full)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;
	__u64 n, lines;
	int err;

	err = writer_collect(&q->w, &n);
	if (err == -EAGAIN && full && !q->writer_stuck) {
		struct pollfd p = { .fd = q->w.efd, .events = POLLIN };
		__u64 more;

		poll(&p, 1, WRITER_WAIT_MS);
		err = writer_collect(&q->w, &more);
		n += more;
		q->writer_stuck = err == -EAGAIN;
	} else if (err != -EAGAIN) {
		q->writer_stuck = false;
	}
	b->written += n;
	q->uncached = writer_uncached(&q->w);
	if (n && !err)
		write_resumed(q);
	if (err && err != -EAGAIN && q->w.fd != b->fd) {
		/* SIGHUP moved on: the old file's rest is dropped whole */
		writer_discard(&q->w, &n, &lines);
		q->dropped += lines;
		q->dropped_bytes += n;
		err = 0;
	}
	if (err == -EAGAIN) {
		/* busy: wait for it when full, unless it is stuck */
		q->stalled = q->writer_stuck;
		return;
	}
	if (err) {
		q->stalled = true;	/* the tick retries */
		if (q->retry_due) {
			q->retry_due = false;
			writer_retry(&q->w);
		} else {
			write_failed(d, -err);
			q->retry_due = true;
		}
		return;
	}
	q->retry_due = false;
	if (q->old_fd >= 0) {	/* SIGHUP's old file is done with */
		close(q->old_fd);
		q->old_fd = -1;
	}
	if (q->off >= end) {
		compact(d);
		return;
	}
	if (writer_submit(&q->w, b->fd, &b->p, &b->cap, q->off, end, b->len)) {
		q->stalled = true;	/* no memory for the spare: wait */
		return;
	}
	b->len -= end;
	q->mark -= end;
	q->off = 0;
}

/* The first write of a regular file starts its thread: after the daemon
 * dropped its capabilities, which a thread keeps as they were. */
static bool writer_up(struct daemon *d)
{
	struct output *q = &d->outq;
	int err;

	if (q->writer_on)
		return true;
	err = writer_start(&q->w, d->out.cap, q->uncached);
	if (!err) {
		err = daemon_io_add(d, q->w.efd, EPOLLIN, &writer_io);
		if (err)
			writer_stop(&q->w);
	}
	if (err) {
		fprintf(stderr, "tcpwatch: output writer thread: %s; writing %s from the loop\n",
			strerror(-err), d->o.output ? d->o.output : "(stdout)");
		q->threaded = q->uncached = false;
		return false;
	}
	q->writer_on = true;
	return true;
}

/* Write [off, end) as far as the fd takes it, without waiting (but a
 * full buffer's bounded wait for the writer thread). */
static void write_some(struct daemon *d, size_t end, bool full)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;

	if (q->threaded && writer_up(d)) {
		hand_over(d, end, full);
		return;
	}
	while (q->off < end && !q->gone) {
		ssize_t n = write(b->fd, b->p + q->off, end - q->off);
		int err;

		if (n > 0) {
			q->off += n;
			b->written += n;
			q->midline = b->p[q->off - 1] != '\n';
			write_resumed(q);
			continue;
		}
		err = n < 0 ? errno : EIO;
		if (err == EINTR)
			continue;
		q->stalled = true;
		if (err == EAGAIN) {
			watch(d, true);
		} else if (err == EPIPE) {
			/* `tcpwatch run | head`: the reader is done: end */
			q->gone = true;
			b->err = -EPIPE;
			d->stop = true;
		} else {
			/* ENOSPC, EIO, ...: everything already handed over
			 * is kept (the line is completed when the fd takes
			 * it) and retried at the next flush (every tick) */
			write_failed(d, err);
		}
		break;
	}
	compact(d);
}

void output_full(struct daemon *d)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;
	size_t prev = q->mark;

	if (!q->live) {
		/* the offline daemon: write it all, as the tests expect */
		d->lines++;
		if (b->fd >= 0)
			json_flush(b);
		return;
	}
	/* Write the records before this one: this one can still go. */
	if (!q->stalled)
		write_some(d, prev, true);
	prev = q->mark;		/* compact() may have moved everything */
	if (b->len < OUT_FLUSH_AT) {
		q->mark = b->len;
		d->lines++;
		return;
	}
	q->dropped++;
	q->dropped_bytes += b->len - prev;
	b->len = prev;
}

static void emit_output_lost(struct daemon *d)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;

	q->dropped_total += q->dropped;
	q->dropped_bytes_total += q->dropped_bytes;
	if (!emit_wants(d, REC_LOST)) {	/* --records: counted in stats */
		q->dropped = q->dropped_bytes = 0;
		return;
	}
	emit_head(d, "lost", mono_ns());
	json_lit(b, ",\"where\":\"output\"");
	json_u64_field(b, "count", q->dropped);
	json_u64_field(b, "bytes", q->dropped_bytes);
	json_u64_field(b, "total", q->dropped_total);
	json_u64_field(b, "total_bytes", q->dropped_bytes_total);
	json_u64_field(b, "write_errors", q->errors);
	q->dropped = q->dropped_bytes = 0;
	q->lost_records++;
	emit_tail(d);
}

int output_flush(struct daemon *d)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;

	if (!d->has_out)
		return 0;
	if (!q->live)
		return b->len ? json_flush(b) : b->err;
	if (q->gone)
		return -EPIPE;
	q->stalled = false;	/* a tick, or EPOLLOUT: try again */
	write_some(d, q->mark, false);
	if (q->off == q->mark && q->dropped) {
		/* caught up: say what could not be written */
		emit_output_lost(d);
		write_some(d, q->mark, false);
	}
	if (q->off == q->mark)
		watch(d, false);
	return q->gone ? -EPIPE : 0;
}

static void writer_ready(struct daemon *d, struct daemon_io *io,
			 __u32 events)
{
	(void)io;
	(void)events;
	output_flush(d);
}

void output_sync(struct daemon *d)
{
	struct output *q = &d->outq;
	__u64 until = mono_ns() + WRITER_WAIT_MS * 1000000ULL;

	output_flush(d);
	/* a failed or stuck writer stalls: only a healthy one is waited for */
	while (q->writer_on && !q->stalled && output_pending(d)) {
		struct pollfd p = { .fd = q->w.efd, .events = POLLIN };
		__u64 now = mono_ns();

		if (now >= until) {
			q->writer_stuck = q->stalled = true;
			break;
		}
		poll(&p, 1, (int)((until - now) / 1000000) + 1);
		output_flush(d);
	}
}

static void out_ready(struct daemon *d, struct daemon_io *io, __u32 events)
{
	struct output *q = &d->outq;

	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT)) {
		/* the pipe's reader is gone, with nothing written to see it */
		q->gone = true;
		d->out.err = -EPIPE;
		d->stop = true;
		return;
	}
	output_flush(d);
}

/*
 * Non-blocking, on a file description of our own where possible: a
 * pipe or tty given as stdout is reopened through /proc, so the shell
 * sharing it never sees O_NONBLOCK. A socket can't be reopened: its
 * flags are set, and put back at exit. A regular file is never slow
 * to take a write; it can't be polled either.
 */
static int make_nonblock(struct daemon *d, int fd, bool own)
{
	struct output *q = &d->outq;
	struct stat st;
	int fl;

	if (fstat(fd, &st))
		return fd;
	q->threaded = S_ISREG(st.st_mode);
	q->uncached = q->threaded && !d->o.output_cache;
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) &&
	    !S_ISSOCK(st.st_mode))
		return fd;
	q->pollable = true;
	if (!own && !S_ISSOCK(st.st_mode)) {
		char path[64];
		int nfd;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (nfd >= 0)
			return nfd;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK) &&
	    !fcntl(fd, F_SETFL, fl | O_NONBLOCK) && !own) {
		q->restore_fd = fd;
		q->restore_fl = fl;
	}
	return fd;
}

#define OPEN_FLAGS	(O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC)

/* The open file description for -o FILE, non-blocking where it can be,
 * or -errno. */
static int open_file(struct daemon *d)
{
	int fd = open(d->o.output, OPEN_FLAGS, 0640);

	return fd < 0 ? -errno : make_nonblock(d, fd, true);
}

void output_init_offline(struct daemon *d)
{
	memset(&d->outq, 0, sizeof(d->outq));
	d->outq.restore_fd = -1;
	d->outq.old_fd = -1;
	d->outq.opening = -1;
}

int output_open(struct daemon *d)
{
	struct output *q = &d->outq;
	int fd, err;

	output_init_offline(d);
	if (!d->o.output) {
		/* -n: records only for the subscribers and the backlog,
		 * which say when they want them (d->has_out). */
		err = json_init(&d->out, -1, OUT_BUF);
		q->live = q->discard = !err;
		return err;
	}
	if (!strcmp(d->o.output, "-")) {
		fd = make_nonblock(d, STDOUT_FILENO, false);
	} else {
		fd = open_file(d);
		if (fd < 0) {
			fprintf(stderr, "tcpwatch: cannot open output %s: %s\n",
				d->o.output, strerror(-fd));
			return fd;
		}
	}
	err = json_init(&d->out, fd, OUT_BUF);
	if (err) {
		if (fd > STDERR_FILENO)
			close(fd);
		return err;
	}
	d->has_out = true;
	q->live = true;
	out_io.fn = out_ready;
	/* Files can't be polled (EPERM): the tick retries them. */
	if (q->pollable && daemon_io_add(d, fd, 0, &out_io))
		q->pollable = false;
	return 0;
}

int output_close(struct daemon *d)
{
	struct output *q = &d->outq;
	__u64 until = mono_ns() + 1000000000ULL;
	size_t left;

	if (!d->has_out || !q->live)
		return output_flush(d);
	for (;;) {
		__u64 now;
		struct pollfd p = { .fd = d->out.fd, .events = POLLOUT };
		int ms;

		output_flush(d);
		now = mono_ns();
		if (q->gone || !output_pending(d) || now >= until)
			break;
		ms = (int)((until - now) / 1000000) + 1;
		if (q->writer_on) {
			/* its wakeup; a failing file is retried a few times */
			p.fd = q->w.efd;
			p.events = POLLIN;
			poll(&p, 1, ms < 50 ? ms : 50);
		} else if (q->pollable) {
			poll(&p, 1, ms);
		} else {
			usleep(50000);	/* a failing file: a few retries */
		}
	}
	left = output_pending(d);
	if (left && !q->gone)
		fprintf(stderr, "tcpwatch: output: %zu bytes not written at exit (%s)\n",
			left, q->last_err ? strerror(q->last_err) :
			q->threaded ? "the file's writes did not finish" :
				      "the reader is not reading");
	if (q->gone)
		return -EPIPE;
	/* a write error kept the last records from the file: a failure */
	return left && q->last_err ? -q->last_err : 0;
}

/*
 * SIGHUP's new file is open (fd, or -errno): records go there from now
 * on; the old file keeps what was handed to it.
 */
static void reopened(struct daemon *d, int fd)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;
	int old = b->fd;
	bool pollable = q->pollable;

	notify_ready(NULL);
	if (fd < 0) {
		fprintf(stderr, "tcpwatch: SIGHUP: cannot open %s again: %s; still writing to the file already open\n",
			d->o.output, strerror(-fd));
		return;
	}
	q->stalled = false;
	write_some(d, q->mark, false);
	if (!q->threaded && q->midline && q->off < q->mark) {
		/* it refuses the rest of a line: drop that record whole */
		char *nl = memchr(b->p + q->off, '\n', q->mark - q->off);
		size_t end = nl ? (size_t)(nl - b->p) + 1 : q->mark;

		q->dropped++;
		q->dropped_bytes += end - q->off;
		q->off = end;
		q->midline = false;
		compact(d);
	}
	q->pollable = false;
	fd = make_nonblock(d, fd, true);
	if (pollable)
		daemon_io_del(d, old);
	if (q->writer_on && q->w.fd == old && writer_pending(&q->w))
		q->old_fd = old;	/* the thread still writes to it */
	else
		close(old);
	b->fd = fd;
	q->watching = q->stalled = false;
	if (q->pollable && daemon_io_add(d, fd, 0, &out_io))
		q->pollable = false;
	q->reopens++;
	/* Anything still waiting goes to the new file, whole lines only. */
	write_some(d, q->mark, false);
}

static void open_ready(struct daemon *d, struct daemon_io *io, __u32 events)
{
	struct output *q = &d->outq;

	(void)io;
	(void)events;
	daemon_io_del(d, q->opening);
	reopened(d, opener_result(q->opening));
	q->opening = -1;
}

static struct daemon_io open_io = { .fn = open_ready };

int output_reopen(struct daemon *d)
{
	struct output *q = &d->outq;
	int rfd, err;

	if (!d->has_out || !q->live || q->discard || !d->o.output ||
	    !strcmp(d->o.output, "-"))
		return 0;
	if (q->opening >= 0) {
		fprintf(stderr, "tcpwatch: SIGHUP: %s is still being opened since the last SIGHUP (a frozen filesystem? a FIFO with no reader?)\n",
			d->o.output);
		return 1;
	}
	/* Whatever the old file takes now is its own. */
	q->stalled = false;
	write_some(d, q->mark, false);
	rfd = opener_start(d->o.output, OPEN_FLAGS, 0640);
	if (rfd >= 0) {
		err = daemon_io_add(d, rfd, EPOLLIN, &open_io);
		if (!err) {
			q->opening = rfd;
			return 1;
		}
		close(rfd);
		rfd = err;
	}
	fprintf(stderr, "tcpwatch: SIGHUP: cannot start opening %s: %s; still writing to the file already open\n",
		d->o.output, strerror(-rfd));
	return rfd;
}

void output_free(struct daemon *d)
{
	struct output *q = &d->outq;

	if (!d->has_out && !q->discard)
		return;
	if (q->live && q->pollable)
		daemon_io_del(d, d->out.fd);
	if (q->writer_on) {
		daemon_io_del(d, q->w.efd);
		if (writer_stop(&q->w)) {
			/* still inside a write: its fd stays open */
			if (q->w.fd == q->old_fd)
				q->old_fd = -1;
			else if (q->w.fd == d->out.fd)
				d->out.fd = -1;
		}
		q->writer_on = false;
	}
	if (q->opening >= 0) {
		/* SIGHUP's open never returned: given up */
		daemon_io_del(d, q->opening);
		close(q->opening);
		q->opening = -1;
	}
	if (q->old_fd >= 0)
		close(q->old_fd);
	if (d->out.fd > STDERR_FILENO)
		close(d->out.fd);
	if (q->restore_fd >= 0)
		fcntl(q->restore_fd, F_SETFL, q->restore_fl);
	json_free(&d->out);
	d->has_out = false;
}
