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
#include "core/output.h"

/* The live daemon's fd on the loop (one daemon per process). */
static struct daemon_io out_io;

size_t output_pending(const struct daemon *d)
{
	const struct output *q = &d->outq;

	return q->live ? d->out.len - q->off : d->out.len;
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

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE	0x00000080	/* Linux 6.14 */
#endif

/*
 * A regular file is written uncached where the kernel can (RWF_DONTCACHE:
 * its pages are dropped once written back): the log is written once and
 * read at most once by a shipper, and must not push the host's own page
 * cache out. Fresh page-cache pages cost as much as the JSON here;
 * dropped ones are reused warm. Else (EOPNOTSUPP: an older kernel or a
 * filesystem without it), plain write() from then on.
 */
static ssize_t write_out(struct output *q, int fd, const char *p, size_t n)
{
	if (q->uncached) {
		struct iovec v = { .iov_base = (void *)p, .iov_len = n };
		ssize_t r = pwritev2(fd, &v, 1, -1, RWF_DONTCACHE);

		if (r >= 0 || errno != EOPNOTSUPP)
			return r;
		q->uncached = false;
	}
	return write(fd, p, n);
}

/* Write [off, end) as far as the fd takes it, without waiting. */
static void write_some(struct daemon *d, size_t end)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;

	while (q->off < end && !q->gone) {
		ssize_t n = write_out(q, b->fd, b->p + q->off, end - q->off);
		int err;

		if (n > 0) {
			q->off += n;
			b->written += n;
			q->midline = b->p[q->off - 1] != '\n';
			if (q->err_reported) {
				fprintf(stderr, "tcpwatch: writing output resumed\n");
				q->err_reported = false;
			}
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
			/*
			 * ENOSPC, EIO, ...: say it once per episode, count
			 * every failed write, keep everything already handed
			 * over (the line is completed when the fd takes it)
			 * and retry at the next flush (every tick).
			 */
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
		write_some(d, prev);
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
	write_some(d, q->mark);
	if (q->off == q->mark && q->dropped) {
		/* caught up: say what could not be written */
		emit_output_lost(d);
		write_some(d, q->mark);
	}
	if (q->off == q->mark)
		watch(d, false);
	return q->gone ? -EPIPE : 0;
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
	q->uncached = S_ISREG(st.st_mode) && !d->o.output_cache;
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

/* The open file description for -o FILE, non-blocking where it can be,
 * or -errno. */
static int open_file(struct daemon *d)
{
	int fd = open(d->o.output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		      0640);

	return fd < 0 ? -errno : make_nonblock(d, fd, true);
}

void output_init_offline(struct daemon *d)
{
	memset(&d->outq, 0, sizeof(d->outq));
	d->outq.restore_fd = -1;
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

	if (!d->has_out || !q->live)
		return output_flush(d);
	for (;;) {
		__u64 now;
		struct pollfd p = { .fd = d->out.fd, .events = POLLOUT };

		output_flush(d);
		now = mono_ns();
		if (q->gone || q->off == q->mark || now >= until)
			break;
		if (q->pollable)
			poll(&p, 1, (int)((until - now) / 1000000) + 1);
		else
			usleep(50000);	/* a failing file: a few retries */
	}
	if (q->off < q->mark && !q->gone)
		fprintf(stderr, "tcpwatch: output: %zu bytes not written at exit (%s)\n",
			q->mark - q->off,
			q->last_err ? strerror(q->last_err) : "the reader is not reading");
	if (q->gone)
		return -EPIPE;
	/* a write error kept the last records from the file: a failure */
	return q->off < q->mark && q->last_err ? -q->last_err : 0;
}

int output_reopen(struct daemon *d)
{
	struct output *q = &d->outq;
	struct jbuf *b = &d->out;
	int fd, old = b->fd;
	bool pollable = q->pollable;

	if (!d->has_out || !q->live || q->discard || !d->o.output ||
	    !strcmp(d->o.output, "-"))
		return 0;
	/* Whatever the old file takes now is its own. */
	q->stalled = false;
	write_some(d, q->mark);
	if (q->midline && q->off < q->mark) {
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
	fd = open_file(d);
	if (fd < 0) {
		q->pollable = pollable;
		fprintf(stderr, "tcpwatch: SIGHUP: cannot open %s again: %s; still writing to the file already open\n",
			d->o.output, strerror(-fd));
		return fd;
	}
	if (pollable)
		daemon_io_del(d, old);
	close(old);
	b->fd = fd;
	q->watching = q->stalled = false;
	if (q->pollable && daemon_io_add(d, fd, 0, &out_io))
		q->pollable = false;
	q->reopens++;
	/* Anything still waiting goes to the new file, whole lines only. */
	write_some(d, q->mark);
	return 0;
}

void output_free(struct daemon *d)
{
	struct output *q = &d->outq;

	if (!d->has_out && !q->discard)
		return;
	if (q->live && q->pollable)
		daemon_io_del(d, d->out.fd);
	if (d->out.fd > STDERR_FILENO)
		close(d->out.fd);
	if (q->restore_fd >= 0)
		fcntl(q->restore_fd, F_SETFL, q->restore_fl);
	json_free(&d->out);
	d->has_out = false;
}
