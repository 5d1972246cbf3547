// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket, root-only (0600 in a 0700
 * directory). A client sends one line, "CMD [key=value ...]\n", and
 * reads the answer until the daemon closes. The daemon never blocks on
 * a client: answers are buffered and written as the socket drains.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/daemon.h"
#include "ctl/ctl.h"
#include "ctl/query.h"

#define CTL_MAX_CLIENTS	32
#define CTL_MAX_REQ	4096
#define CTL_MAX_ARGS	32
#define CTL_TIMEOUT_NS	(10ULL * 1000000000ULL)

/* The control socket as a module of the daemon: its listening socket
 * and clients; the daemon only calls the hooks registered here. */
static struct {
	struct daemon_io io;
	int fd;
	int lock_fd;		/* PATH.lock, flocked: this daemon's path */
	const char *path;
	struct ctl_client *clients;
} ctl = { .fd = -1, .lock_fd = -1 };

struct ctl_client {
	struct daemon_io io;	/* first: the loop's tag */
	struct ctl_client *next;
	int fd;
	size_t in_len, out_off;
	__u64 since_ns;		/* dropped after CTL_TIMEOUT_NS */
	bool answered, shut;
	struct jbuf out;
	char in[CTL_MAX_REQ];
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, err;

	err = make_addr(path, &sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* We hold PATH.lock (ctl_lock): a socket already there is a dead
	 * daemon's, never a live one's. */
	unlink(path);
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ctl_lock(const char *path)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)], lock[sizeof(sa.sun_path) + 8];
	char pid[32] = "";
	ssize_t n;
	int fd;

	if (make_addr(path, &sa)) {
		fprintf(stderr, "tcpwatch: --ctl %s: path too long (at most %zu bytes)\n",
			path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(dir, path);
	/* Its own directory, so the socket is never briefly world-open. */
	if (mkdir(dirname(dir), 0700) && errno != EEXIST) {
		int err = -errno;

		fprintf(stderr, "tcpwatch: cannot create the control socket's directory %s: %s%s\n",
			dir, strerror(-err),
			err == -ENOENT ? " (its parent does not exist: create it, or use --ctl PATH)"
				       : " (use --ctl PATH)");
		return err;
	}
	snprintf(lock, sizeof(lock), "%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int err = -errno;

		fprintf(stderr, "tcpwatch: cannot open the lock file %s: %s (use --ctl PATH)\n",
			lock, strerror(-err));
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = -errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		if (err == -EWOULDBLOCK)
			fprintf(stderr, "tcpwatch: another daemon%s%s%s is running on %s: stop it first, or give this one its own --ctl PATH\n",
				pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "",
				path);
		else
			fprintf(stderr, "tcpwatch: cannot lock %s: %s\n", lock,
				strerror(-err));
		close(fd);
		return err;
	}
	/* The holder's pid, for the second daemon's message only. */
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, n, 0) != n) {
		/* the second daemon's message loses the pid, nothing else */
	}
	ctl.lock_fd = fd;
	return 0;
}

static void client_free(struct daemon *d, struct ctl_client *c)
{
	struct ctl_client **pp = &ctl.clients;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	daemon_io_del(d, c->fd);
	close(c->fd);
	json_free(&c->out);
	free(c);
}

static void ctl_free(struct daemon *d)
{
	while (ctl.clients)
		client_free(d, ctl.clients);
	if (ctl.fd >= 0) {
		close(ctl.fd);
		unlink(ctl.path);
		ctl.fd = -1;
	}
}

static void ctl_io(struct daemon *d, struct daemon_io *io, __u32 events);

static void ctl_accept(struct daemon *d, struct daemon_io *io, __u32 events)
{
	int n = 0;

	for (struct ctl_client *c = ctl.clients; c; c = c->next)
		n++;
	for (;;) {
		struct ctl_client *c;
		int fd;

		fd = accept4(ctl.fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (n >= CTL_MAX_CLIENTS) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || json_init(&c->out, -1, 4096)) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->since_ns = mono_ns();
		c->io.fn = ctl_io;
		if (daemon_io_add(d, fd, EPOLLIN, &c->io)) {
			json_free(&c->out);
			free(c);
			close(fd);
			continue;
		}
		c->next = ctl.clients;
		ctl.clients = c;
		n++;
	}
}

static void answer(struct daemon *d, struct ctl_client *c)
{
	char *argv[CTL_MAX_ARGS], *save = NULL;
	int argc = 0;

	c->answered = true;
	if (!memchr(c->in, '\n', c->in_len) &&
	    c->in_len >= CTL_MAX_REQ - 1) {
		json_lit(&c->out, "error: request too long\n");
		return;
	}
	c->in[c->in_len] = 0;
	c->in[strcspn(c->in, "\r\n")] = 0;
	for (char *t = strtok_r(c->in, " ", &save); t && argc < CTL_MAX_ARGS;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	if (!argc) {
		json_lit(&c->out, "error: empty request\n");
		return;
	}
	for (const struct query_cmd *q = query_cmds; q->name; q++) {
		if (!strcmp(argv[0], q->name)) {
			q->fn(d, &c->out, argv + 1, argc - 1);
			return;
		}
	}
	json_lit(&c->out, "error: unknown request \"");
	json_raw(&c->out, argv[0], strlen(argv[0]));
	json_lit(&c->out, "\"\n");
}

static void ctl_io(struct daemon *d, struct daemon_io *io, __u32 events)
{
	struct ctl_client *c = (struct ctl_client *)io;
	char sink[4096];
	ssize_t n;

	if (!c->answered) {
		n = read(c->fd, c->in + c->in_len, CTL_MAX_REQ - 1 - c->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 && !c->in_len) {
			client_free(d, c);
			return;
		}
		if (n > 0)
			c->in_len += n;
		/* a whole line, the client's end of input, or too long */
		if (n > 0 && !memchr(c->in, '\n', c->in_len) &&
		    c->in_len < CTL_MAX_REQ - 1)
			return;
		answer(d, c);
		daemon_io_mod(d, c->fd, EPOLLOUT, &c->io);
	}
	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_free(d, c);
			return;
		}
		c->out_off += n;
	}
	/*
	 * Answered. Closing with unread input would reset the connection
	 * and could destroy the answer in flight: end our side, then
	 * read until the client closes.
	 */
	if (!c->shut) {
		shutdown(c->fd, SHUT_WR);
		daemon_io_mod(d, c->fd, EPOLLIN, &c->io);
		c->shut = true;
	}
	while ((n = read(c->fd, sink, sizeof(sink))) > 0)
		;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	client_free(d, c);
}

/* drop clients stuck for longer than the control timeout */
static void ctl_expire(struct daemon *d, __u64 now_ns)
{
	struct ctl_client *c = ctl.clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (now_ns - c->since_ns > CTL_TIMEOUT_NS)
			client_free(d, c);
	}
}

static const struct daemon_module ctl_module = {
	.name = "ctl",
	.tick = ctl_expire,
	.free = ctl_free,
};

int ctl_attach(struct daemon *d, const char *path)
{
	int err;

	if (ctl.lock_fd < 0 && (err = ctl_lock(path)))
		return err;
	ctl.fd = ctl_listen(path);
	if (ctl.fd < 0) {
		fprintf(stderr,
			"tcpwatch: cannot listen on %s: %s (use --ctl PATH)\n",
			path, strerror(-ctl.fd));
		return ctl.fd;
	}
	ctl.path = path;
	ctl.io.fn = ctl_accept;
	err = daemon_add_module(d, &ctl_module);
	if (!err)
		err = daemon_io_add(d, ctl.fd, EPOLLIN, &ctl.io);
	if (err) {
		close(ctl.fd);
		unlink(path);
		ctl.fd = -1;
	}
	return err;
}

int ctl_request(const char *path, const char *req)
{
	struct sockaddr_un sa;
	char buf[65536];
	size_t len = strlen(req);
	int fd, err;

	err = make_addr(path, &sa);
	if (err) {
		fprintf(stderr, "tcpwatch: control socket path too long: %s\n",
			path);
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		fprintf(stderr,
			"tcpwatch: cannot reach the daemon at %s: %s\n"
			"  is it running? start it with: sudo tcpwatch run%s\n",
			path, strerror(-err),
			err == -EACCES ? "\n  (the control socket is root-only: use sudo)" : "");
		close(fd);
		return err;
	}
	if (write(fd, req, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		err = -errno;
		close(fd);
		return err;
	}
	shutdown(fd, SHUT_WR);
	for (bool first = true;; first = false) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		/* The daemon refused the request: say why, fail. */
		if (first && n >= 7 && !memcmp(buf, "error: ", 7)) {
			fprintf(stderr, "tcpwatch: %.*s", (int)n - 7, buf + 7);
			err = -EINVAL;
			break;
		}
		if (fwrite(buf, 1, n, stdout) != (size_t)n) {
			err = -EIO;
			break;
		}
	}
	close(fd);
	if (fflush(stdout))
		err = -errno;
	return err;
}
