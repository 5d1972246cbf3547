// SPDX-License-Identifier: GPL-2.0
/*
 * A subscription: an `events` request line of any bytes, split by
 * ctl_parse() and taken by events_take() (its filters: types, states,
 * ports, netns, follow). Records of every kind go through the daemon
 * before the request (the backlog's answer) and after it (a follower's);
 * whatever the filter, the subscriber reads whole JSON lines and, at
 * most, the end marker.
 */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/daemon.h"
#include "ctl/ctl.h"
#include "ctl/events.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void feed(struct daemon *d, int n, __u64 ts)
{
	static const __u8 kinds[] = { TCPW_EV_STATE, TCPW_EV_RETRANS,
				      TCPW_EV_RST_SENT, TCPW_EV_SAMPLE };
	struct tcpw_event ev;

	for (int i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.version = TCPW_ABI_VERSION;
		ev.kind = kinds[i % 4];
		ev.cookie = 100 + i / 4;
		ev.netns = 4026531840u + i % 2;
		ev.family = AF_INET;
		ev.sport = 1000 + i % 3;
		ev.dport = 80;
		ev.oldstate = TCPW_CLOSE;
		ev.newstate = i % 4 ? TCPW_ESTABLISHED : TCPW_SYN_SENT;
		ev.ts_ns = ts + i;
		daemon_handle_event(d, &ev);
	}
}

/* Run the loop's callbacks and read what the subscriber got. */
static void pump(struct daemon *d, int fd, struct jbuf *got)
{
	for (int spin = 0; spin < 64; spin++) {
		struct epoll_event e[4];
		int n = epoll_wait(d->epfd, e, 4, 0);
		char buf[4096];
		ssize_t r;

		for (int i = 0; i < n; i++) {
			struct daemon_io *io = e[i].data.ptr;

			io->fn(d, io, e[i].events);
		}
		r = read(fd, buf, sizeof(buf));
		if (r > 0)
			json_raw(got, buf, r);
		else if (!n)
			return;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct daemon_io ctl_io;	/* the ctl client's, replaced */
	struct daemon d;
	char in[4096], *argv[32];
	struct jbuf err, got;
	const char *perr;
	int argc, sv[2], fd;
	size_t n;
	bool end;

	if (size > sizeof(in) - 1)
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	argc = ctl_parse(in, size, argv, 32, &end, &perr);
	if (perr || argc < 1 || strcmp(argv[0], "events"))
		return 0;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (daemon_init_offline(&d, fd))
		return 0;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.o.backlog_bytes = 1 << 16;
	if (events_attach(&d) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv)) {
		daemon_free(&d);
		return 0;
	}
	json_init(&err, -1, 256);
	json_init(&got, -1, 1 << 16);
	feed(&d, 64, mono_ns());
	daemon_io_add(&d, sv[0], EPOLLIN, &ctl_io);
	if (!events_take(&d, sv[0], argv + 1, argc - 1, end, &err)) {
		feed(&d, 64, mono_ns());
		pump(&d, sv[1], &got);
		/* the end marker, if any, is the last line */
		n = strlen(CTL_END);
		if (got.len >= n && !memcmp(got.p + got.len - n, CTL_END, n))
			got.len -= n;
		fuzz_lines_parse(&got, 0);
		close(sv[1]);
		pump(&d, -1, &got);	/* the subscriber sees the hangup */
	} else {
		if (err.len < 7 || memcmp(err.p, "error: ", 7))
			abort();	/* a refusal says why */
		close(sv[0]);
		close(sv[1]);
	}
	json_free(&err);
	json_free(&got);
	daemon_free(&d);
	return 0;
}
