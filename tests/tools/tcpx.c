// SPDX-License-Identifier: GPL-2.0
/*
 * tcpx: drives real TCP sockets into the states the integration tests
 * assert on. It prints one line per step ("listening 8080",
 * "connected 41234", "accepted 41234") so a test can wait for it.
 *
 *   tcpx server [opts] PORT    listen, accept (-n 0: forever), then per
 *                              connection:
 *       (default) read to EOF, close     --hold     never close, never read
 *       --close-first  close at once    --no-accept never accept
 *       --echo         echo what it reads
 *       --stall        read nothing until SIGUSR1 ("reading"), then
 *                      read to EOF, close
 *   tcpx client [opts] PORT    connect, send, then:
 *       (default) close at once           --linger0  close with RST
 *       --wait-eof  shutdown, wait for the peer's FIN, close
 *       --hold      keep it open until killed ("sent N" once sent)
 *       --flood     write -s bytes (default 64 KiB) per write, every -i
 *                   ms, until killed or the write fails
 *       --loop      -n connections (0: until a connect fails), one line
 *                   at the end: "connects N", "refused N", "timeouts N",
 *                   "stopped ERRNO" if a connect error ended it
 *   tcpx simclose [opts] PORT  both ends in one process: shutdown both,
 *                              wait for both FINs, close
 *   tcpx now                   print CLOCK_MONOTONIC in ns (the clock of
 *                              the daemon's ts_ns)
 *   tcpx badsum [opts] PORT    send -n SYNs (0: until killed) with a
 *                              wrong TCP checksum to ADDR:PORT (IPv4, raw
 *                              socket), -s at a time (default 1) every -i
 *                              ms, from source port 40000 (--loop: a new
 *                              one each, 1024..65535); "sent N"
 * options: -6 (IPv6), -a ADDR, -n COUNT, -s BYTES to send, -b BACKLOG,
 *          -t SECONDS timeout for waits and connects (default 10),
 *          -i MS pause between connections (--loop) or writes (--flood)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct {
	int family;
	const char *addr;
	int count, backlog, send_bytes, timeout_s, interval_ms;
	bool hold, close_first, no_accept, echo, linger0, wait_eof;
	bool stall, flood, loop;
} o = { .family = AF_INET, .count = 1, .backlog = 128, .timeout_s = 10 };

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void die(const char *what)
{
	printf("error %s %s\n", what, strerror(errno));
	fflush(stdout);
	exit(3);
}

static socklen_t make_sa(struct sockaddr_storage *ss, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (o.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, o.addr ? o.addr : "::1",
			      &s6->sin6_addr) != 1)
			die("address");
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (void *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (inet_pton(AF_INET, o.addr ? o.addr : "127.0.0.1",
		      &s4->sin_addr) != 1)
		die("address");
	return sizeof(*s4);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("getsockname");
	return ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
}

static int peer_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
}

/* Read until EOF (or timeout); returns true on EOF. */
static bool read_to_eof(int fd, bool echo)
{
	char buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, o.timeout_s * 1000) <= 0)
			return false;
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return true;
		if (n < 0)
			return false;
		if (echo && write(fd, buf, n) != n)
			return false;
	}
}

static void send_bytes(int fd, int n)
{
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	while (n > 0) {
		ssize_t w = write(fd, buf, n < (int)sizeof(buf) ? n
							 : (int)sizeof(buf));

		if (w <= 0)
			die("write");
		n -= w;
	}
}

static void set_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)))
		die("SO_LINGER");
}

static int do_listen(int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_sa(&ss, port);
	int one = 1, fd = socket(o.family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	if (listen(fd, o.backlog))
		die("listen");
	return fd;
}

static const char *errname(int e)
{
	switch (e) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ECONNRESET: return "ECONNRESET";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	default: return strerror(e);
	}
}

/*
 * Nonblocking connect that gives up after -t seconds (closing the
 * SYN_SENT socket, as an application timeout would): the socket, or -1
 * with errno set (ETIME for our own timeout).
 */
static int try_connect(int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_sa(&ss, port), elen = sizeof(int);
	int fd = socket(o.family, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		if (errno != EINPROGRESS)
			goto fail;
		for (;;) {
			int n = poll(&p, 1, o.timeout_s * 1000);

			if (n > 0)
				break;
			if (n == 0) {
				errno = ETIME;
				goto fail;
			}
			if (errno != EINTR)
				goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
			goto fail;
		if (err) {
			errno = err;
			goto fail;
		}
	}
	/* blocking again: writes and reads below wait as before */
	if (fcntl(fd, F_SETFL, 0))
		die("fcntl");
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int do_connect(int port)
{
	int fd = try_connect(port);

	if (fd < 0) {
		printf("error connect %s\n",
		       errno == ETIME ? "timeout" : errname(errno));
		fflush(stdout);
		exit(3);
	}
	return fd;
}

static void hold_forever(void)
{
	for (;;)
		pause();
}

static int server(int port)
{
	int lfd = do_listen(port);

	printf("listening %d\n", local_port(lfd));
	fflush(stdout);
	if (o.no_accept)
		hold_forever();
	for (int i = 0; o.count == 0 || i < o.count; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		printf("accepted %d\n", peer_port(fd));
		fflush(stdout);
		if (o.linger0)
			set_linger0(fd);
		if (o.hold)
			continue;	/* leak it: CLOSE_WAIT when the peer closes */
		if (o.stall) {	/* the peer's writes fill our receive queue */
			sigset_t usr1, old;

			/* no lost wakeup between the test and the wait */
			sigemptyset(&usr1);
			sigaddset(&usr1, SIGUSR1);
			sigprocmask(SIG_BLOCK, &usr1, &old);
			while (!got_usr1)
				sigsuspend(&old);
			sigprocmask(SIG_SETMASK, &old, NULL);
			printf("reading\n");
			fflush(stdout);
		}
		if (!o.close_first)
			read_to_eof(fd, o.echo);
		close(fd);
	}
	if (o.hold)
		hold_forever();
	close(lfd);
	return 0;
}

/* Write forever (until killed or the peer goes away), paced by -i. */
static void flood(int fd)
{
	static char buf[1 << 20];
	size_t n = o.send_bytes ? (size_t)o.send_bytes : 65536;

	if (n > sizeof(buf))
		n = sizeof(buf);
	memset(buf, 'x', n);
	printf("flooding\n");
	fflush(stdout);
	for (;;) {
		if (write(fd, buf, n) < 0 && errno != EINTR)
			die("write");
		pause_ms(o.interval_ms);
	}
}

/*
 * Connect -n times (0: until a connect fails), closing each at once
 * (or with a reset, --linger0); refused and timed-out connects are
 * counted and the loop goes on, any other connect error ends it.
 */
static int client_loop(int port)
{
	int connects = 0, refused = 0, timeouts = 0, stop = 0;

	for (int i = 0; o.count == 0 || i < o.count; i++) {
		int fd;

		if (i && o.interval_ms)
			pause_ms(o.interval_ms);
		fd = try_connect(port);
		if (fd < 0) {
			if (errno == ECONNREFUSED) {
				refused++;
				continue;
			}
			if (errno == ETIME || errno == ETIMEDOUT) {
				timeouts++;
				continue;
			}
			stop = errno;
			break;
		}
		connects++;
		if (o.send_bytes)
			send_bytes(fd, o.send_bytes);
		if (o.linger0)
			set_linger0(fd);
		close(fd);
	}
	printf("connects %d\nrefused %d\ntimeouts %d\n",
	       connects, refused, timeouts);
	if (stop)
		printf("stopped %s\n", errname(stop));
	fflush(stdout);
	return 0;
}

static int client(int port)
{
	if (o.loop)
		return client_loop(port);
	for (int i = 0; i < o.count; i++) {
		int fd = do_connect(port);

		printf("connected %d\n", local_port(fd));
		fflush(stdout);
		if (o.flood)
			flood(fd);
		if (o.send_bytes) {
			send_bytes(fd, o.send_bytes);
			printf("sent %d\n", o.send_bytes);
			fflush(stdout);
		}
		if (o.hold)
			hold_forever();
		if (o.linger0) {
			set_linger0(fd);
		} else if (o.wait_eof) {
			shutdown(fd, SHUT_WR);
			if (!read_to_eof(fd, false)) {
				printf("error no FIN from the peer\n");
				exit(3);
			}
		}
		close(fd);
	}
	return 0;
}

static int simclose(int port)
{
	int lfd = do_listen(port), c, s;

	c = do_connect(local_port(lfd));
	s = accept(lfd, NULL, NULL);
	if (s < 0)
		die("accept");
	printf("listening %d\nconnected %d\n", local_port(lfd), local_port(c));
	fflush(stdout);
	/* Both FINs leave before either arrives (the test drops them). */
	shutdown(c, SHUT_WR);
	shutdown(s, SHUT_WR);
	printf("shutdown\n");
	fflush(stdout);
	if (!read_to_eof(c, false) || !read_to_eof(s, false)) {
		printf("error FINs did not cross\n");
		return 3;
	}
	close(c);
	close(s);
	close(lfd);
	printf("closed\n");
	return 0;
}

/*
 * A bare TCP header through a raw socket: the kernel adds the IP header
 * and leaves the TCP checksum alone (CHECKSUM_NONE), so the receiver
 * finds it wrong (TcpInCsumErrors, drop reason TCP_CSUM).
 */
static int badsum(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned char pkt[40] = { 0 }, *th = pkt + 20;
	int fd, i, batch = o.send_bytes > 0 ? o.send_bytes : 1;
	unsigned int sport = 40000;

	/*
	 * IPPROTO_RAW: send only. A raw IPPROTO_TCP socket also receives a
	 * copy of every TCP segment on loopback, its own included; past its
	 * rcvbuf those copies are dropped (SOCKET_RCVBUFF, 6.1) and would
	 * count as TCP drops.
	 */
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("tcpx: raw socket");
		return 1;
	}
	inet_pton(AF_INET, o.addr ? o.addr : "127.0.0.1", &sa.sin_addr);
	/* the IP header: the kernel fills in the length, id, checksum and
	 * (0 here) the source address */
	pkt[0] = 0x45;
	pkt[8] = 64;		/* ttl */
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 16, &sa.sin_addr, 4);
	th[0] = 40000 >> 8;
	th[1] = 40000 & 0xff;
	th[2] = port >> 8;
	th[3] = port & 0xff;
	th[7] = 1;		/* seq */
	th[12] = 5 << 4;	/* data offset: 5 words */
	th[13] = 0x02;		/* SYN */
	th[14] = 0xff;		/* window */
	th[16] = 0xde;		/* checksum: wrong (never 0xdead here) */
	th[17] = 0xad;
	for (i = 0; !o.count || i < o.count; i++) {
		if (i && o.interval_ms && !(i % batch))
			usleep(o.interval_ms * 1000);
		if (o.loop) {
			sport = sport >= 65535 ? 1024 : sport + 1;
			th[0] = sport >> 8;
			th[1] = sport & 0xff;
		}
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa,
			   sizeof(sa)) != sizeof(pkt)) {
			perror("tcpx: sendto");
			return 1;
		}
	}
	printf("sent %d\n", o.count);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hold", no_argument, NULL, 1 },
		{ "close-first", no_argument, NULL, 2 },
		{ "no-accept", no_argument, NULL, 3 },
		{ "echo", no_argument, NULL, 4 },
		{ "linger0", no_argument, NULL, 5 },
		{ "wait-eof", no_argument, NULL, 6 },
		{ "stall", no_argument, NULL, 7 },
		{ "flood", no_argument, NULL, 8 },
		{ "loop", no_argument, NULL, 9 },
		{}
	};
	const char *mode;
	int c, port;

	if (argc < 2) {
		fprintf(stderr, "usage: tcpx server|client|simclose|badsum [opts] PORT | tcpx now\n");
		return 2;
	}
	mode = argv[1];
	if (!strcmp(mode, "now")) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "6a:n:s:b:t:i:", opts, NULL)) != -1) {
		switch (c) {
		case '6': o.family = AF_INET6; break;
		case 'a': o.addr = optarg; break;
		case 'n': o.count = atoi(optarg); break;
		case 's': o.send_bytes = atoi(optarg); break;
		case 'b': o.backlog = atoi(optarg); break;
		case 't': o.timeout_s = atoi(optarg); break;
		case 'i': o.interval_ms = atoi(optarg); break;
		case 1: o.hold = true; break;
		case 2: o.close_first = true; break;
		case 3: o.no_accept = true; break;
		case 4: o.echo = true; break;
		case 5: o.linger0 = true; break;
		case 6: o.wait_eof = true; break;
		case 7: o.stall = true; break;
		case 8: o.flood = true; break;
		case 9: o.loop = true; break;
		default: return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: tcpx server|client|simclose|badsum [opts] PORT | tcpx now\n");
		return 2;
	}
	port = atoi(argv[optind]);
	/* our pid, not a wrapper's (ip netns exec, a shell) */
	printf("pid %d\n", getpid());
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	if (!strcmp(mode, "server"))
		return server(port);
	if (!strcmp(mode, "client"))
		return client(port);
	if (!strcmp(mode, "simclose"))
		return simclose(port);
	if (!strcmp(mode, "badsum"))
		return badsum(port);
	fprintf(stderr, "tcpx: unknown mode %s\n", mode);
	return 2;
}
