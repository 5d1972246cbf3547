// SPDX-License-Identifier: GPL-2.0
/* open(2) off the loop (opener.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/opener.h"

struct open_job {
	int wfd;
	int flags;
	mode_t mode;
	char path[];
};

static void *open_main(void *arg)
{
	struct open_job *j = arg;
	int fd = open(j->path, j->flags, j->mode);
	int r = fd < 0 ? -errno : fd;

	/* the loop gave up (its end is closed: EPIPE): the fd is ours */
	if (write(j->wfd, &r, sizeof(r)) != sizeof(r) && fd >= 0)
		close(fd);
	close(j->wfd);
	free(j);
	return NULL;
}

int opener_start(const char *path, int flags, mode_t mode)
{
	size_t n = strlen(path) + 1;
	struct open_job *j = malloc(sizeof(*j) + n);
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t t;
	int p[2], err;

	if (!j)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		err = -errno;
		free(j);
		return err;
	}
	j->wfd = p[1];
	j->flags = flags;
	j->mode = mode;
	memcpy(j->path, path, n);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* signals are the loop's (signalfd): none for the thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &a, open_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (err) {
		close(p[0]);
		close(p[1]);
		free(j);
		return -err;
	}
	return p[0];
}

int opener_result(int rfd)
{
	int r;
	ssize_t n = read(rfd, &r, sizeof(r));

	if (n != sizeof(r))
		r = n < 0 ? -errno : -EIO;
	close(rfd);
	return r;
}
