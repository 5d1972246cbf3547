// SPDX-License-Identifier: GPL-2.0
/* The control socket's client: send one line, read the answer to the end. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/ctl.h"

int ctl_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	/* a unix connect() waits on the send timeout */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ctl_fetch(const char *path, const char *req, ctl_sink sink, void *ctx,
	      int timeout_ms, char *msg, size_t msglen)
{
	static const char end[] = CTL_END;
	const size_t elen = sizeof(end) - 1;
	struct sockaddr_un sa;
	/* the last elen bytes are held back until more come: the marker */
	char buf[65536 + sizeof(end)];
	size_t held = 0, len = strlen(req);
	bool first = true, complete = false;
	int fd, err;

	*msg = 0;
	err = ctl_addr(path, &sa);
	if (err) {
		snprintf(msg, msglen, "control socket path too long: %s", path);
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(msg, msglen, "socket: %s", strerror(-err));
		return err;
	}
	if (timeout_ms > 0)
		set_timeout(fd, timeout_ms);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		struct group *g = NULL;
		struct stat st;

		err = -errno;
		/* the socket's group, if the daemon granted one */
		if (err == -EACCES && !stat(path, &st) &&
		    (st.st_mode & 0060) == 0060)
			g = getgrgid(st.st_gid);
		if (g)
			snprintf(msg, msglen,
				 "%s: permission denied; run as root or join group %s",
				 path, g->gr_name);
		else if (err == -EACCES)
			snprintf(msg, msglen,
				 "%s: permission denied; run as root (or start the daemon with --ctl-group GROUP and join that group)",
				 path);
		else
			snprintf(msg, msglen,
				 "cannot reach the daemon at %s: %s\n"
				 "  is it running? start it with: sudo tcpwatch run",
				 path, strerror(-err));
		close(fd);
		return err;
	}
	/*
	 * A daemon with too many clients answers and closes before reading
	 * the request: the send may fail (EPIPE, no SIGPIPE), the answer is
	 * still there to read.
	 */
	if (send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len)
		send(fd, " end=1\n", 7, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, buf + held, sizeof(buf) - held);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* ECONNRESET: cut short; EAGAIN: past timeout_ms */
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		if (n == 0) {
			complete = held == elen && !memcmp(buf, end, elen);
			break;
		}
		n += held;
		/* The daemon refused the request: say why, fail. */
		if (first && n >= 7 && !memcmp(buf, "error: ", 7)) {
			size_t m = n;

			if (m >= elen && !memcmp(buf + m - elen, end, elen))
				m -= elen;
			if (m && buf[m - 1] == '\n')
				m--;
			snprintf(msg, msglen, "%.*s", (int)m - 7, buf + 7);
			close(fd);
			return -EINVAL;
		}
		first = false;
		/*
		 * Hold back only what may be the start of the marker: a
		 * follower's last record must not wait for the next one.
		 */
		held = (size_t)n < elen ? (size_t)n : elen;
		while (held && memcmp(buf + n - held, end, held))
			held--;
		if (!sink(ctx, buf, n - held)) {
			err = -EIO;
			break;
		}
		memmove(buf, buf + n - held, held);
	}
	close(fd);
	if (!err && !complete) {
		sink(ctx, buf, held);
		err = -EPIPE;
	}
	if (err == -EPIPE || err == -ECONNRESET)
		snprintf(msg, msglen, "the answer from %s was cut short: the daemon dropped the connection (stopped, cut off a subscriber that read too slowly, or this client read nothing for %llu s)",
			 path, CTL_IDLE_NS / 1000000000ULL);
	else if (err == -ETIMEDOUT)
		snprintf(msg, msglen, "the daemon at %s did not answer within %d ms",
			 path, timeout_ms);
	return err;
}

/* Write n bytes to stdout, flushed: a follower's records go out as
 * they come. False once stdout fails. */
static bool out(void *ctx, const char *p, size_t n)
{
	return !n || (fwrite(p, 1, n, stdout) == n && !fflush(stdout));
}

int ctl_request(const char *path, const char *req)
{
	char msg[1024];
	int err = ctl_fetch(path, req, out, NULL, 0, msg, sizeof(msg));

	if (fflush(stdout) && !err)
		err = -errno;
	if (*msg)
		fprintf(stderr, "tcpwatch: %s\n", msg);
	return err;
}
