// SPDX-License-Identifier: GPL-2.0
/* A regular file's writes on a thread of their own (writer.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/writer.h"

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE	0x00000080	/* Linux 6.14 */
#endif

/*
 * Written uncached where the kernel can (RWF_DONTCACHE: the pages are
 * dropped once written back): the log is written once and read at most
 * once by a shipper, and must not push the host's own page cache out.
 * Else (EOPNOTSUPP: an older kernel or a filesystem without it), plain
 * write() from then on.
 */
static ssize_t write_file(int fd, bool *uncached, const char *p, size_t n)
{
	if (*uncached) {
		struct iovec v = { .iov_base = (void *)p, .iov_len = n };
		ssize_t r = pwritev2(fd, &v, 1, -1, RWF_DONTCACHE);

		if (r >= 0 || errno != EOPNOTSUPP)
			return r;
		*uncached = false;
	}
	return write(fd, p, n);
}

/*
 * The job, until done or a write fails. Called and returns locked; the
 * writes run unlocked, on the job's fields, which the loop leaves alone
 * while busy: only off and uncached change, published under the lock.
 */
static int run_job(struct writer *w)
{
	const char *p = w->buf;
	size_t off = w->off, end = w->end;
	bool uncached = w->uncached;
	int fd = w->fd, err = 0;

	while (off < end) {
		ssize_t n;

		pthread_mutex_unlock(&w->lock);
		n = write_file(fd, &uncached, p + off, end - off);
		err = n < 0 ? errno : n == 0 ? EIO : 0;
		pthread_mutex_lock(&w->lock);
		w->uncached = uncached;
		if (n > 0) {
			off += n;
			w->off = off;
			w->done += n;
		} else if (err != EINTR) {
			return err;
		}
	}
	return 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		__u64 one = 1;
		ssize_t r;

		while (!w->busy && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		w->err = run_job(w);
		w->busy = false;
		r = write(w->efd, &one, sizeof(one));
		(void)r;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int writer_start(struct writer *w, size_t cap, bool uncached)
{
	sigset_t all, old;
	int err;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->uncached = uncached;
	w->buf = malloc(cap);
	if (!w->buf)
		return -ENOMEM;
	w->cap = cap;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		err = -errno;
		free(w->buf);
		return err;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* signals are the loop's (signalfd): none for the thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(w->efd);
		free(w->buf);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		return -err;
	}
	return 0;
}

int writer_collect(struct writer *w, __u64 *written)
{
	__u64 n;
	ssize_t r;
	int ret;

	r = read(w->efd, &n, sizeof(n));	/* the wakeup is seen */
	(void)r;
	pthread_mutex_lock(&w->lock);
	*written = w->done;
	w->done = 0;
	ret = w->busy ? -EAGAIN : w->err ? -w->err : 0;
	pthread_mutex_unlock(&w->lock);
	return ret;
}

static void kick(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->err = 0;
	w->busy = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void writer_retry(struct writer *w)
{
	kick(w);
}

void writer_discard(struct writer *w, __u64 *bytes, __u64 *lines)
{
	const char *p;
	__u64 n = 0;

	/* idle and failed: the job's fields are the loop's */
	for (p = w->buf + w->off; p < w->buf + w->end; p++)
		n += *p == '\n';
	*bytes = w->end - w->off;
	*lines = n;
	pthread_mutex_lock(&w->lock);
	w->off = w->end;
	w->err = 0;
	pthread_mutex_unlock(&w->lock);
}

int writer_submit(struct writer *w, int fd, char **buf, size_t *cap,
		  size_t off, size_t end, size_t len)
{
	char *old = *buf, *spare = w->buf;
	size_t old_cap = *cap, spare_cap = w->cap;

	/* idle: the job's fields are the loop's */
	if (spare_cap < len - end) {
		char *p = realloc(spare, len - end);

		if (!p)
			return -ENOMEM;
		spare = p;
		spare_cap = len - end;
	}
	memcpy(spare, old + end, len - end);
	w->buf = old;
	w->cap = old_cap;
	w->off = off;
	w->end = end;
	w->fd = fd;
	*buf = spare;
	*cap = spare_cap;
	kick(w);
	return 0;
}

size_t writer_pending(struct writer *w)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->end - w->off;
	pthread_mutex_unlock(&w->lock);
	return n;
}

bool writer_uncached(struct writer *w)
{
	bool u;

	pthread_mutex_lock(&w->lock);
	u = w->uncached;
	pthread_mutex_unlock(&w->lock);
	return u;
}

bool writer_stop(struct writer *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->busy;
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (busy) {
		/* inside a write that does not end: the exit takes it */
		pthread_detach(w->thread);
		return true;
	}
	pthread_join(w->thread, NULL);
	close(w->efd);
	free(w->buf);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	return false;
}
