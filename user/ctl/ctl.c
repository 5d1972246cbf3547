// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket, root-only (0600 in a 0755
 * directory), or root and one group (--ctl-group: 0660). A client sends one line, "CMD [key=value ...]\n", and
 * reads the answer until the daemon closes. With "end=1" among the
 * arguments, a complete answer ends with CTL_END, so that a client can
 * tell it from one cut short (the CLI always asks, and strips it).
 *
 * The daemon never blocks on a client, and never holds a whole big
 * answer: an ls answer is a cursor (query.h) that fills the client's
 * buffer up to CTL_CHUNK, resumed each time the socket drains. There is
 * no deadline for the answer: a client is dropped only when it takes
 * nothing for CTL_TIMEOUT_NS. Past CTL_MAX_CLIENTS, a new client gets
 * one "error: too many clients" line.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/events.h"
#include "ctl/query.h"

#define CTL_MAX_CLIENTS	32
#define CTL_MAX_REQ	4096
#define CTL_MAX_ARGS	32
/* A request must come within CTL_TIMEOUT_NS; an answer is never cut
 * while the client takes it, only after CTL_IDLE_NS of taking nothing
 * (long enough for `ls | less` paused on a page). */
#define CTL_TIMEOUT_NS	(10ULL * 1000000000ULL)
/* A client's buffer: a chunk of rows, plus the row that crosses it. */
#define CTL_CHUNK	(256 * 1024 - 8192)

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
	__u64 since_ns;		/* last progress; dropped CTL_TIMEOUT_NS on */
	bool answered, shut, end;
	bool taken;		/* a subscriber now (events.c owns fd) */
	struct query_cursor *cur;	/* the rest of the answer, or NULL */
	struct jbuf out;
	char in[CTL_MAX_REQ];
};

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, err;

	err = ctl_addr(path, &sa);
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

	if (ctl_addr(path, &sa)) {
		fprintf(stderr, "tcpwatch: --ctl %s: path too long (at most %zu bytes)\n",
			path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(dir, path);
	/* 0755, so that --ctl-group can open the socket to a group; the
	 * socket itself is never world-open (bound under umask 0177). */
	if (mkdir(dirname(dir), 0755) && errno != EEXIST) {
		int err = -errno;

		fprintf(stderr, "tcpwatch: cannot create the control socket's directory %s: %s%s\n",
			dir, strerror(-err),
			err == -ENOENT ? " (its parent does not exist: create it, or use --ctl PATH)" :
			err == -EACCES ? " (run as root, or use --ctl PATH in a directory you own)" :
					 " (use --ctl PATH)");
		return err;
	}
	snprintf(lock, sizeof(lock), "%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int err = -errno;

		fprintf(stderr, "tcpwatch: cannot open the lock file %s: %s (%s)\n",
			lock, strerror(-err),
			err == -EACCES || err == -EPERM ?
				"run as root, or use --ctl PATH in a directory you own" :
				"use --ctl PATH");
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
	if (!c->taken) {
		daemon_io_del(d, c->fd);
		close(c->fd);
	}
	query_cursor_free(c->cur);
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
			char msg[80];
			int len = snprintf(msg, sizeof(msg),
					   "error: too many clients (%d); try again\n",
					   CTL_MAX_CLIENTS);

			/* A new socket's buffer always takes one line. */
			if (send(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* nothing else to tell it */
			}
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

int ctl_parse(char *in, size_t len, char **argv, int max, bool *end,
	      const char **err)
{
	char *save = NULL;
	int argc = 0;

	*end = false;
	*err = NULL;
	if (!memchr(in, '\n', len) && len >= CTL_MAX_REQ - 1) {
		*err = "request too long";
		return 0;
	}
	in[len] = 0;
	in[strcspn(in, "\r\n")] = 0;
	for (char *t = strtok_r(in, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		if (argc && !strcmp(t, "end=1")) {
			*end = true;	/* the protocol's, not the query's */
			continue;
		}
		if (argc == max) {
			*err = "too many arguments";
			return 0;
		}
		argv[argc++] = t;
	}
	if (!argc)
		*err = "empty request";
	return argc;
}

static void answer(struct daemon *d, struct ctl_client *c)
{
	char *argv[CTL_MAX_ARGS];
	const char *err;
	int argc;

	c->answered = true;
	argc = ctl_parse(c->in, c->in_len, argv, CTL_MAX_ARGS, &c->end, &err);
	if (err) {
		json_lit(&c->out, "error: ");
		json_raw(&c->out, err, strlen(err));
		json_ch(&c->out, '\n');
		return;
	}
	/* A subscriber: its connection is events.c's from now on. */
	if (!strcmp(argv[0], "events")) {
		c->taken = !events_take(d, c->fd, argv + 1, argc - 1, c->end,
					&c->out);
		return;
	}
	for (const struct query_cmd *q = query_cmds; q->name; q++) {
		if (!strcmp(argv[0], q->name)) {
			if (q->open)
				c->cur = q->open(d, &c->out, argv + 1,
						 argc - 1);
			else
				q->fn(d, &c->out, argv + 1, argc - 1);
			return;
		}
	}
	json_lit(&c->out, "error: unknown request \"");
	json_raw(&c->out, argv[0], strlen(argv[0]));
	json_lit(&c->out, "\"\n");
}

/*
 * Refill the client's buffer from its cursor once what was there has
 * been sent; at the end, the end marker if it asked for one.
 */
static void fill(struct daemon *d, struct ctl_client *c)
{
	if (c->out_off < c->out.len)
		return;
	c->out_off = c->out.len = 0;
	if (!c->cur)
		return;
	if (query_next(d, c->cur, &c->out, CTL_CHUNK)) {
		query_cursor_free(c->cur);
		c->cur = NULL;
		if (c->end)
			json_lit(&c->out, CTL_END);
	}
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
		if (c->taken) {
			client_free(d, c);
			return;
		}
		if (!c->cur && c->end)
			json_lit(&c->out, CTL_END);	/* already whole */
		c->since_ns = mono_ns();
		daemon_io_mod(d, c->fd, EPOLLOUT, &c->io);
	}
	for (;;) {
		fill(d, c);
		if (c->out_off == c->out.len)
			break;
		n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_free(d, c);
			return;
		}
		c->out_off += n;
		c->since_ns = mono_ns();	/* it reads: no deadline */
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

/* drop clients that took nothing (or sent no request) for the timeout */
static void ctl_expire(struct daemon *d, __u64 now_ns)
{
	struct ctl_client *c = ctl.clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (now_ns - c->since_ns >
		    (c->answered ? CTL_IDLE_NS : CTL_TIMEOUT_NS))
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

int ctl_grant_group(const char *name)
{
	struct group *g = getgrnam(name);
	struct stat st;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (!g) {
		fprintf(stderr, "tcpwatch: --ctl-group %s: no such group (create it with groupadd)\n",
			name);
		return -ENOENT;
	}
	if (chown(ctl.path, -1, g->gr_gid) || chmod(ctl.path, 0660)) {
		int err = -errno;

		fprintf(stderr, "tcpwatch: --ctl-group %s: cannot give %s to the group: %s\n",
			name, ctl.path, strerror(-err));
		return err;
	}
	snprintf(dir, sizeof(dir), "%s", ctl.path);
	if (!stat(dirname(dir), &st) && (st.st_mode & 0011) != 0011)
		fprintf(stderr, "tcpwatch: --ctl-group %s: warning: the group cannot reach the socket through %s (mode %04o): chmod 0755 it\n",
			name, dir, st.st_mode & 07777);
	return 0;
}
