// SPDX-License-Identifier: GPL-2.0
/*
 * kmod_test: drives /dev/tcpwatch for the VM tests (tests/vm/kmod.sh).
 *
 *   kmod_test dev [-p PORT]           device interface and record checks
 *   kmod_test count [-r N] [-f N] [-p PORT] [-x PORT -m N] [-t NAME] [-D]
 *                                     hold the device without reading,
 *                                     make a known set of transitions,
 *                                     then check read + drops == made
 *                                     (-D: the ring must have overflowed)
 *   kmod_test churn -t SECONDS [-p PORT]   connection churn, no device
 *   kmod_test drain -t MILLISECONDS [-g]
 *                                     read and validate for a while
 *                                     (-g: the device may be gone: an
 *                                     open that lost a race with rmmod)
 *   kmod_test abuse -t MILLISECONDS [-p PORT]
 *                                     churn on every CPU, concurrent
 *                                     readers with odd read sizes, bad
 *                                     ioctls; then read + pending must
 *                                     equal what the module counted
 *   kmod_test dump [-r N] [-f N] [-t MILLISECONDS]
 *                                     print records as text (debugging)
 *
 * Every subcommand runs its sockets in a private network namespace
 * (loopback only) and prints one "ok NAME" / "FAIL NAME: why" line per
 * check; the exit status is 1 if any check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uapi/tcpwatch.h"

_Static_assert(sizeof(struct tcpw_event) == TCPW_EVENT_SIZE,
	       "struct tcpw_event changed size");

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define DEV_PATH	"/dev/" TCPW_DEV_NAME
#define LOOPBACK	htonl(INADDR_LOOPBACK)

static const char *prefix = "kmod";
/* An unmapped address the compiler cannot see through. */
static volatile uintptr_t bad_addr = 8;
static int failures;

static const char *const kind_names[TCPW_EV_MAX] = {
	[TCPW_EV_STATE] = "state",
	[TCPW_EV_RETRANS] = "retrans",
	[TCPW_EV_SYNACK_RETRANS] = "synack_retrans",
	[TCPW_EV_RST_SENT] = "rst_sent",
	[TCPW_EV_RST_RECV] = "rst_recv",
	[TCPW_EV_SAMPLE] = "sample",
};

static void report(bool good, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (good) {
		printf("ok %s/%s\n", prefix, name);
	} else {
		failures++;
		printf("FAIL %s/%s: ", prefix, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

#define CHECK(cond, name, ...) report((cond), (name), __VA_ARGS__)

static void die(const char *what)
{
	printf("FAIL %s/setup: %s: %s\n", prefix, what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A private network namespace with loopback up. */
static void private_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo");
	close(fd);
}

static uint32_t netns_inode(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		die("stat /proc/self/ns/net");
	return (uint32_t)st.st_ino;
}

/* -- sockets ------------------------------------------------------------ */

static int listener(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = LOOPBACK };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	if (listen(fd, 128))
		die("listen");
	return fd;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = LOOPBACK };
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	return fd;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len))
		die("getsockopt(SO_COOKIE)");
	return c;
}

static void linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)))
		die("SO_LINGER");
}

static void read_exact(int fd, size_t n)
{
	char buf[4096];
	ssize_t r;

	while (n) {
		r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
		if (r <= 0)
			die("read from socket");
		n -= r;
	}
}

static void expect_eof(int fd)
{
	char c;

	if (read(fd, &c, 1) != 0)
		die("expected EOF");
}

/*
 * One connection closed by an RST: the client closes with SO_LINGER 0.
 * client:  CLOSE>SYN_SENT, SYN_SENT>ESTABLISHED, ESTABLISHED>CLOSE
 * server:  LISTEN>SYN_RECV, SYN_RECV>ESTABLISHED, ESTABLISHED>CLOSE
 * plus one RST_SENT (client) and one RST_RECV (server).
 */
#define RST_STATES	6
static void conn_rst(int lfd, uint16_t port, uint64_t *cli_cookie)
{
	int c = connect_to(port), s = accept(lfd, NULL, NULL);

	if (s < 0)
		die("accept");
	if (cli_cookie)
		*cli_cookie = cookie_of(c);
	linger0(c);
	close(c);
	/* The RST has been processed once the server sees the error. */
	{
		char ch;

		while (read(s, &ch, 1) > 0)
			;
	}
	close(s);
}

/*
 * One connection closed with FINs, client first, after the client sent
 * `bytes` that the server reads only after the FIN arrived:
 * client:  CLOSE>SYN_SENT, SYN_SENT>ESTABLISHED, ESTABLISHED>FIN_WAIT1,
 *          FIN_WAIT1>FIN_WAIT2, FIN_WAIT2>CLOSE (to TIME_WAIT)
 * server:  LISTEN>SYN_RECV, SYN_RECV>ESTABLISHED, ESTABLISHED>CLOSE_WAIT,
 *          CLOSE_WAIT>LAST_ACK, LAST_ACK>CLOSE
 */
#define FIN_STATES	10
static void conn_fin(int lfd, uint16_t port, size_t bytes,
		     uint64_t *cli_cookie, uint64_t *srv_cookie)
{
	static char buf[4096];
	int c = connect_to(port), s = accept(lfd, NULL, NULL);

	if (s < 0)
		die("accept");
	if (cli_cookie)
		*cli_cookie = cookie_of(c);
	if (srv_cookie)
		*srv_cookie = cookie_of(s);
	if (bytes > sizeof(buf))
		bytes = sizeof(buf);
	if (bytes && write(c, buf, bytes) != (ssize_t)bytes)
		die("write");
	/*
	 * On loopback the FIN is processed and acked before shutdown()
	 * returns; an ACK the server delays rides on its own FIN, and the
	 * client still goes FIN_WAIT1 > FIN_WAIT2 > CLOSE.
	 */
	if (shutdown(c, SHUT_WR))
		die("shutdown");
	read_exact(s, bytes);
	expect_eof(s);
	close(s);
	expect_eof(c);
	close(c);
}

/* -- the device ------------------------------------------------------- */

struct evbuf {
	struct tcpw_event *v;
	size_t n, cap;
};

static void evbuf_add(struct evbuf *b, const struct tcpw_event *ev,
		      size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		if (!b->v)
			die("realloc");
	}
	memcpy(b->v + b->n, ev, n * sizeof(*ev));
	b->n += n;
}

/* Read everything pending from a non-blocking fd; -errno on error. */
static int drain(int fd, struct evbuf *b)
{
	static struct tcpw_event buf[2048];
	ssize_t r;

	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (r == 0 || r % TCPW_EVENT_SIZE)
			return -EPROTO;
		evbuf_add(b, buf, r / TCPW_EVENT_SIZE);
	}
}

static int get_stats(int fd, struct tcpw_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, TCPW_IOC_GET_STATS, st);
}

static bool record_valid(const struct tcpw_event *e)
{
	return e->version == TCPW_ABI_VERSION && e->kind > 0 &&
	       e->kind < TCPW_EV_MAX && e->ts_ns &&
	       (e->family == AF_INET || e->family == AF_INET6) &&
	       e->oldstate < TCPW_STATE_MAX && e->newstate < TCPW_STATE_MAX;
}

static unsigned int module_param(const char *name)
{
	char path[128];
	unsigned int v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/tcpwatch/parameters/%s",
		 name);
	f = fopen(path, "r");
	if (!f)
		die(path);
	if (fscanf(f, "%u", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static const struct tcpw_event *find_state(const struct evbuf *b,
					   uint64_t cookie, int from, int to)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		const struct tcpw_event *e = &b->v[i];

		if (e->kind == TCPW_EV_STATE && e->cookie == cookie &&
		    e->oldstate == from && e->newstate == to)
			return e;
	}
	return NULL;
}

static const struct tcpw_event *find_kind(const struct evbuf *b,
					  uint64_t cookie, int kind)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].kind == kind && b->v[i].cookie == cookie)
			return &b->v[i];
	return NULL;
}

/* The cookie ss -tanHe reports as sk:<hex> for the listener on port. */
static uint64_t ss_listener_cookie(uint16_t port)
{
	char cmd[128], line[1024];
	uint64_t c = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "ss -tlnHe 'sport = :%u' 2>/dev/null", port);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		char *s = strstr(line, " sk:");

		if (s)
			c = strtoull(s + 4, NULL, 16);
	}
	pclose(p);
	return c;
}

/* -- kmod_test dev ---------------------------------------------------- */

static void dev_errors(int fd)
{
	static struct tcpw_event big[4];
	char small[TCPW_EVENT_SIZE - 1];
	struct tcpw_stats st;
	struct tcpw_lost_netns ln;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned int ring_bytes = module_param("ring_bytes");
	__u32 ver = 0;
	struct stat sb;
	int r;

	r = stat(DEV_PATH, &sb);
	CHECK(!r && S_ISCHR(sb.st_mode) && (sb.st_mode & 07777) == 0600,
	      "dev-mode-0600", "mode %o", (unsigned int)sb.st_mode & 07777);

	r = ioctl(fd, TCPW_IOC_GET_VERSION, &ver);
	CHECK(!r && ver == TCPW_ABI_VERSION, "ioctl-version",
	      "r=%d errno=%d version=%u", r, errno, ver);

	r = get_stats(fd, &st);
	CHECK(!r && st.ring_bytes == ring_bytes / TCPW_EVENT_SIZE *
				     TCPW_EVENT_SIZE && st.ring_used == 0,
	      "ioctl-stats", "r=%d ring_bytes=%u (param %u) used=%u", r,
	      st.ring_bytes, ring_bytes, st.ring_used);

	errno = 0;
	r = read(fd, small, sizeof(small));
	CHECK(r == -1 && errno == EINVAL, "read-short-einval",
	      "read(135) = %d errno=%d", r, errno);
	errno = 0;
	r = read(fd, small, 0);
	CHECK(r == -1 && errno == EINVAL, "read-zero-einval",
	      "read(0) = %d errno=%d", r, errno);

	errno = 0;
	r = read(fd, big, sizeof(big));
	CHECK(r == -1 && errno == EAGAIN, "read-nonblock-eagain",
	      "read = %d errno=%d", r, errno);

	r = poll(&pfd, 1, 100);
	CHECK(r == 0, "poll-empty-timeout", "poll = %d revents=%#x", r,
	      pfd.revents);

	errno = 0;
	r = ioctl(fd, _IO(TCPW_IOC_MAGIC, 99));
	CHECK(r == -1 && errno == ENOTTY, "ioctl-unknown-enotty",
	      "r=%d errno=%d", r, errno);
	errno = 0;
	r = ioctl(fd, TCGETS, &st);
	CHECK(r == -1 && errno == ENOTTY, "ioctl-foreign-enotty",
	      "r=%d errno=%d", r, errno);
	errno = 0;
	r = ioctl(fd, TCPW_IOC_GET_STATS, (void *)bad_addr);
	CHECK(r == -1 && errno == EFAULT, "ioctl-stats-efault",
	      "r=%d errno=%d", r, errno);
	errno = 0;
	r = ioctl(fd, TCPW_IOC_GET_VERSION, (void *)bad_addr);
	CHECK(r == -1 && errno == EFAULT, "ioctl-version-efault",
	      "r=%d errno=%d", r, errno);
	/* a set that could not be handed over is not lost: overflow */
	errno = 0;
	r = ioctl(fd, TCPW_IOC_LOST_NETNS, (void *)bad_addr);
	CHECK(r == -1 && errno == EFAULT, "ioctl-lost-netns-efault",
	      "r=%d errno=%d", r, errno);
	memset(&ln, 0xff, sizeof(ln));
	r = ioctl(fd, TCPW_IOC_LOST_NETNS, &ln);
	CHECK(r == 0 && ln.overflow && ln.nr == 0,
	      "ioctl-lost-netns-overflow-after-efault",
	      "r=%d nr=%u overflow=%u", r, ln.nr, ln.overflow);
	r = ioctl(fd, TCPW_IOC_LOST_NETNS, &ln);
	CHECK(r == 0 && !ln.overflow && ln.nr == 0, "ioctl-lost-netns-taken",
	      "r=%d nr=%u overflow=%u", r, ln.nr, ln.overflow);
}

static void dev_records(int fd, uint16_t port)
{
	uint64_t lcookie, ccookie, scookie, rcookie, sscookie;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const struct tcpw_event *e;
	struct tcpw_event one[2];
	struct evbuf b = { 0 };
	struct tcpw_stats st;
	uint32_t netns = netns_inode();
	size_t cnt[TCPW_EV_MAX] = { 0 }, i;
	uint64_t t0;
	bool ok;
	int lfd, r, k;

	lfd = listener(port);
	lcookie = cookie_of(lfd);
	sscookie = ss_listener_cookie(port);
	CHECK(sscookie && sscookie == lcookie, "cookie-equals-ss",
	      "ss sk:%" PRIx64 " SO_COOKIE %" PRIx64, sscookie, lcookie);

	conn_fin(lfd, port, 100, &ccookie, &scookie);
	conn_rst(lfd, port, &rcookie);
	close(lfd);

	t0 = now_ns();
	r = poll(&pfd, 1, 2000);
	CHECK(r == 1 && (pfd.revents & POLLIN), "poll-wakes",
	      "poll = %d revents=%#x after %" PRIu64 " ms", r, pfd.revents,
	      (now_ns() - t0) / 1000000);

	errno = 0;
	r = read(fd, (void *)bad_addr, 4096);
	CHECK(r == -1 && errno == EFAULT, "read-efault",
	      "r=%d errno=%d", r, errno);

	r = read(fd, one, TCPW_EVENT_SIZE + 50);
	CHECK(r == TCPW_EVENT_SIZE, "read-whole-records",
	      "read(186) = %d", r);
	if (r == TCPW_EVENT_SIZE)
		evbuf_add(&b, one, 1);
	r = drain(fd, &b);
	CHECK(r == 0, "drain", "%s", strerror(-r));

	ok = true;
	for (i = 0; i < b.n; i++) {
		if (!record_valid(&b.v[i]))
			ok = false;
		else
			cnt[b.v[i].kind]++;
	}
	CHECK(ok, "records-valid", "a record has a bad version/kind/family");
	CHECK(cnt[TCPW_EV_STATE] == 2 + RST_STATES + FIN_STATES &&
	      cnt[TCPW_EV_RST_SENT] == 1 && cnt[TCPW_EV_RST_RECV] == 1,
	      "records-counted", "state=%zu rst_sent=%zu rst_recv=%zu",
	      cnt[TCPW_EV_STATE], cnt[TCPW_EV_RST_SENT],
	      cnt[TCPW_EV_RST_RECV]);

	r = get_stats(fd, &st);
	ok = !r;
	for (k = 1; k < TCPW_EV_MAX; k++)
		if (st.events[k] != cnt[k] || st.drops[k])
			ok = false;
	CHECK(ok, "stats-match-read", "events/drops differ from what was read");

	/* The listener: owner on CLOSE>LISTEN and LISTEN>CLOSE. */
	e = find_state(&b, lcookie, TCPW_CLOSE, TCPW_LISTEN);
	CHECK(e && (e->flags & TCPW_F_OWNER) && e->pid == (uint32_t)getpid() &&
	      !strncmp(e->comm, "kmod_test", 16) && e->sport == port &&
	      e->dport == 0 && e->family == AF_INET &&
	      !memcmp(e->saddr, "\x7f\0\0\1", 4) && e->netns == netns &&
	      (e->flags & TCPW_F_SNAPSHOT),
	      "listen-record", "%s", e ? "wrong owner/tuple/netns" : "missing");
	e = find_state(&b, lcookie, TCPW_LISTEN, TCPW_CLOSE);
	CHECK(e && (e->flags & TCPW_F_OWNER) && e->sport == port,
	      "listen-close-record", "%s", e ? "no owner/port" : "missing");

	/* The FIN client. */
	e = find_state(&b, ccookie, TCPW_CLOSE, TCPW_SYN_SENT);
	CHECK(e && (e->flags & TCPW_F_OWNER) && e->pid == (uint32_t)getpid() &&
	      e->dport == port && !memcmp(e->daddr, "\x7f\0\0\1", 4),
	      "connect-record-owner", "%s", e ? "owner/tuple" : "missing");
	e = find_state(&b, ccookie, TCPW_SYN_SENT, TCPW_ESTABLISHED);
	CHECK(e && !(e->flags & TCPW_F_OWNER) && e->pid == 0 && !e->comm[0] &&
	      (e->flags & TCPW_F_SNAPSHOT) && e->snd_cwnd > 0 &&
	      e->sndbuf > 0 && e->rcvbuf > 0 && e->sport != 0 &&
	      e->dport == port,
	      "established-record", "%s", e ? "owner set or no snapshot" :
					       "missing");
	e = find_state(&b, ccookie, TCPW_ESTABLISHED, TCPW_FIN_WAIT1);
	CHECK(e && (e->flags & TCPW_F_OWNER) && e->pid == (uint32_t)getpid(),
	      "fin-wait1-record-owner", "%s", e ? "owner" : "missing");
	e = find_state(&b, ccookie, TCPW_FIN_WAIT2, TCPW_CLOSE);
	CHECK(e && (e->flags & TCPW_F_FIN_RCVD) && e->sport != 0 &&
	      e->bytes_acked >= 100 && !(e->flags & TCPW_F_OWNER),
	      "time-wait-close-record", "%s bytes_acked=%llu flags=%#x",
	      e ? "FIN_RCVD/port/bytes_acked" : "missing",
	      e ? (unsigned long long)e->bytes_acked : 0ULL, e ? e->flags : 0);

	/* The FIN server: data unread when the FIN came. */
	/*
	 * inet_csk_clone_lock() sets SYN_RECV on the fresh clone of the
	 * listener before it gives the child its own tuple and cookie: the
	 * record carries the listener's cookie and tuple.
	 */
	e = find_state(&b, lcookie, TCPW_LISTEN, TCPW_SYN_RECV);
	CHECK(e && e->sport == port && e->dport == 0 &&
	      !(e->flags & TCPW_F_OWNER), "syn-recv-record",
	      "LISTEN>SYN_RECV with the listener's cookie: %s",
	      e ? "tuple/owner" : "missing");
	e = find_state(&b, scookie, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT);
	CHECK(e && !(e->flags & TCPW_F_OWNER) &&
	      (e->flags & TCPW_F_FIN_RCVD) && e->bytes_received >= 100 &&
	      e->rcv_queued >= 100,
	      "close-wait-record", "%s rcv_queued=%u bytes_received=%llu",
	      e ? "flags/bytes" : "missing", e ? e->rcv_queued : 0,
	      e ? (unsigned long long)e->bytes_received : 0ULL);
	e = find_state(&b, scookie, TCPW_CLOSE_WAIT, TCPW_LAST_ACK);
	CHECK(e && (e->flags & TCPW_F_OWNER) && e->pid == (uint32_t)getpid(),
	      "last-ack-record-owner", "%s", e ? "owner" : "missing");

	/* The RST client. */
	e = find_kind(&b, rcookie, TCPW_EV_RST_SENT);
	CHECK(e && e->oldstate == e->newstate && e->pid == 0 &&
	      !(e->flags & (TCPW_F_OWNER | TCPW_F_NOSOCK)) &&
	      e->dport == port,
	      "rst-sent-record", "%s", e ? "fields" : "missing");
	e = find_state(&b, rcookie, TCPW_ESTABLISHED, TCPW_CLOSE);
	CHECK(e && !(e->flags & (TCPW_F_OWNER | TCPW_F_FIN_RCVD)),
	      "rst-close-record", "%s flags=%#x",
	      e ? "owner or FIN_RCVD set" : "missing", e ? e->flags : 0);
	ok = false;
	for (i = 0; i < b.n; i++)
		if (b.v[i].kind == TCPW_EV_RST_RECV && b.v[i].sport == port &&
		    b.v[i].cookie && b.v[i].cookie != rcookie)
			ok = true;
	CHECK(ok, "rst-recv-record", "no RST_RECV on the server side");

	ok = true;
	for (i = 1; i < b.n; i++)
		if (b.v[i].ts_ns < b.v[i - 1].ts_ns)
			ok = false;
	CHECK(ok, "timestamps-ordered", "ts_ns goes backwards in the stream");
	free(b.v);
}

/* A blocking read() must return once the flush timer sees data. */
static void dev_blocking(uint16_t port)
{
	struct tcpw_event buf[64];
	uint64_t t0;
	pid_t pid;
	int fd, r, lfd;

	fd = open(DEV_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open " DEV_PATH);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		sleep_ms(300);
		lfd = listener(port);
		conn_rst(lfd, port, NULL);
		close(lfd);
		_exit(0);
	}
	alarm(10);
	t0 = now_ns();
	r = read(fd, buf, sizeof(buf));
	alarm(0);
	CHECK(r > 0 && r % TCPW_EVENT_SIZE == 0, "read-blocks-then-wakes",
	      "read = %d errno=%d after %" PRIu64 " ms", r, errno,
	      (now_ns() - t0) / 1000000);
	waitpid(pid, NULL, 0);
	close(fd);
}

/* epoll sees the device become readable. */
static void dev_epoll(uint16_t port)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	int fd, ep, r, lfd;

	fd = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll setup");
	r = epoll_wait(ep, &out, 1, 100);
	CHECK(r == 0, "epoll-empty", "epoll_wait = %d", r);
	lfd = listener(port);
	conn_rst(lfd, port, NULL);
	close(lfd);
	r = epoll_wait(ep, &out, 1, 2000);
	CHECK(r == 1 && (out.events & EPOLLIN), "epoll-wakes",
	      "epoll_wait = %d events=%#x", r, r == 1 ? out.events : 0);
	close(ep);
	close(fd);
}

/* Samples of a busy socket: one per walk (every sample_ms) at most. */
static void dev_samples(uint16_t port)
{
	unsigned int ms = module_param("sample_ms");
	static char buf[65536];
	struct evbuf b = { 0 };
	uint64_t cookie, t0, elapsed;
	size_t i, n = 0, max;
	int fd, lfd, c, s;
	pid_t pid;

	if (!ms) {
		printf("ok %s/samples # skipped: sample_ms=0\n", prefix);
		return;
	}
	fd = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("open " DEV_PATH);
	lfd = listener(port);
	c = connect_to(port);
	s = accept(lfd, NULL, NULL);
	if (s < 0)
		die("accept");
	cookie = cookie_of(s);
	pid = fork();
	if (pid == 0) {
		close(s);
		while (write(c, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(c);
	t0 = now_ns();
	while (now_ns() - t0 < 8ull * ms * 1000000ull)
		if (read(s, buf, sizeof(buf)) <= 0)
			break;
	elapsed = now_ns() - t0;
	close(s);
	waitpid(pid, NULL, 0);
	close(lfd);
	sleep_ms(100);
	drain(fd, &b);
	close(fd);
	for (i = 0; i < b.n; i++)
		if (b.v[i].kind == TCPW_EV_SAMPLE && b.v[i].cookie == cookie) {
			n++;
			if (!(b.v[i].flags & TCPW_F_SNAPSHOT))
				n = 1000000;
		}
	max = elapsed / (ms * 1000000ull) + 2;
	CHECK(n >= 2 && n <= max, "samples-rate-limited",
	      "%zu samples for the receiver in %" PRIu64 " ms (allowed 2..%zu)",
	      n, elapsed / 1000000, max);
	free(b.v);
}

static int cmd_dev(uint16_t port)
{
	int fd;

	fd = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("open " DEV_PATH);
	private_netns();
	dev_errors(fd);
	dev_records(fd, port);
	close(fd);
	dev_blocking(port + 1);
	dev_epoll(port + 2);
	dev_samples(port + 3);
	return failures ? 1 : 0;
}

/* -- kmod_test count ---------------------------------------------------- */

static int cmd_count(int n_rst, int n_fin, uint16_t port, uint16_t xport,
		     int n_x, bool want_drops, const char *name)
{
	uint64_t dropped = 0;
	uint64_t expect[TCPW_EV_MAX] = { 0 }, got[TCPW_EV_MAX] = { 0 };
	struct evbuf b = { 0 };
	struct tcpw_stats st;
	struct tcpw_lost_netns ln;
	uint64_t table_dropped;
	char what[64];
	size_t i;
	int fd, lfd, k, r;
	bool ok;

	fd = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("open " DEV_PATH);
	private_netns();

	if (n_rst || n_fin) {
		lfd = listener(port);
		for (i = 0; i < (size_t)n_rst; i++)
			conn_rst(lfd, port, NULL);
		for (i = 0; i < (size_t)n_fin; i++)
			conn_fin(lfd, port, 10, NULL, NULL);
		close(lfd);
		expect[TCPW_EV_STATE] = 2 + (uint64_t)n_rst * RST_STATES +
					(uint64_t)n_fin * FIN_STATES;
		expect[TCPW_EV_RST_SENT] = n_rst;
		expect[TCPW_EV_RST_RECV] = n_rst;
	}
	/* Connections on a port the module filters out: nothing expected. */
	if (n_x) {
		lfd = listener(xport);
		for (i = 0; i < (size_t)n_x; i++)
			conn_rst(lfd, xport, NULL);
		close(lfd);
	}
	sleep_ms(200);

	r = drain(fd, &b);
	if (r)
		die("drain");
	if (get_stats(fd, &st))
		die("GET_STATS");
	if (ioctl(fd, TCPW_IOC_LOST_NETNS, &ln))
		die("TCPW_IOC_LOST_NETNS");
	close(fd);

	ok = true;
	for (i = 0; i < b.n; i++) {
		if (!record_valid(&b.v[i]))
			ok = false;
		else
			got[b.v[i].kind]++;
	}
	snprintf(what, sizeof(what), "%s-records-valid", name);
	CHECK(ok, what, "a record has a bad version/kind/family");

	for (k = 1; k < TCPW_EV_MAX; k++) {
		printf("# %s %-14s expected %6" PRIu64 " read %6" PRIu64
		       " dropped %6llu events %6llu\n", name, kind_names[k],
		       expect[k], got[k], (unsigned long long)st.drops[k],
		       (unsigned long long)st.events[k]);
		snprintf(what, sizeof(what), "%s-%s", name, kind_names[k]);
		CHECK(got[k] + st.drops[k] == expect[k] &&
		      st.events[k] == got[k], what,
		      "expected %" PRIu64 " = read %" PRIu64 " + dropped %llu"
		      " (events counter %llu)", expect[k], got[k],
		      (unsigned long long)st.drops[k],
		      (unsigned long long)st.events[k]);
		dropped += st.drops[k];
	}
	/* the loss is noted in this netns, the only one with churn */
	table_dropped = dropped - st.drops[TCPW_EV_SAMPLE] -
			st.drops[TCPW_EV_DROP];
	snprintf(what, sizeof(what), "%s-lost-netns", name);
	CHECK(!ln.overflow && (table_dropped ?
			       ln.nr == 1 && ln.netns[0] == netns_inode() :
			       ln.nr == 0),
	      what, "%" PRIu64 " table records dropped: nr=%u overflow=%u",
	      table_dropped, ln.nr, ln.overflow);
	if (want_drops) {
		snprintf(what, sizeof(what), "%s-ring-overflowed", name);
		CHECK(dropped > 0 && b.n <= st.ring_bytes / TCPW_EVENT_SIZE,
		      what, "%" PRIu64 " dropped, %zu read, ring of %u records",
		      dropped, b.n, st.ring_bytes / TCPW_EVENT_SIZE);
	}
	free(b.v);
	return failures ? 1 : 0;
}

/* -- kmod_test churn / drain -------------------------------------------- */

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

/* Until SIGTERM or the time is up. */
static int cmd_churn(unsigned int secs, uint16_t port)
{
	uint64_t t0 = now_ns(), end = t0 + secs * 1000000000ull, n = 0;
	int lfd;

	signal(SIGTERM, on_term);
	private_netns();
	lfd = listener(port);
	while (!stop && now_ns() < end) {
		if (n & 1)
			conn_rst(lfd, port, NULL);
		else
			conn_fin(lfd, port, 1, NULL, NULL);
		n++;
	}
	close(lfd);
	printf("# churn: %" PRIu64 " connections in %.1f s\n", n,
	       (now_ns() - t0) / 1e9);
	return 0;
}

static int cmd_drain(unsigned int ms, const char *name, bool may_be_gone)
{
	uint64_t end = now_ns() + ms * 1000000ull;
	struct pollfd pfd;
	struct evbuf b = { 0 };
	size_t i, bad = 0, total = 0;
	int fd, r;

	fd = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && may_be_gone &&
	    (errno == ENOENT || errno == ENODEV || errno == ENXIO)) {
		printf("# %s: the module was gone before open (%s)\n", name,
		       strerror(errno));
		return 0;
	}
	if (fd < 0)
		die("open " DEV_PATH);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (now_ns() < end) {
		poll(&pfd, 1, 20);
		b.n = 0;
		r = drain(fd, &b);
		if (r)
			die("read");
		for (i = 0; i < b.n; i++)
			if (!record_valid(&b.v[i]))
				bad++;
		total += b.n;
	}
	close(fd);
	free(b.v);
	CHECK(!bad, name, "%zu of %zu records invalid", bad, total);
	printf("# %s: %zu records\n", name, total);
	return failures ? 1 : 0;
}

/* -- kmod_test abuse ---------------------------------------------------- */

/*
 * Everything a hostile user can do to the device at once, under churn on
 * every CPU: several readers on one file and on their own files, each
 * with odd read sizes (smaller than a record, not a multiple of one, one
 * record, many), and bad ioctls (unknown numbers, bad pointers) in a
 * loop. The module must hand out whole valid records only, and when the
 * churn stops, the records read by all readers plus what is still
 * pending must equal what the module says it queued.
 */
#define ABUSE_READERS	4

struct abuse_reader {
	pthread_t th;
	int fd;
	size_t size;		/* bytes per read() */
	uint64_t records, bad, torn;
};

static volatile bool abuse_stop, churn_stop;

static void *abuse_read_fn(void *arg)
{
	struct abuse_reader *r = arg;
	char *buf = malloc(r->size);
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	size_t i;
	ssize_t n;

	if (!buf)
		die("malloc");
	while (!abuse_stop) {
		poll(&pfd, 1, 5);
		n = read(r->fd, buf, r->size);
		if (n < 0) {
			/* EINVAL: a buffer smaller than one record. */
			if (errno != EAGAIN && errno != EINVAL)
				r->bad++;
			continue;
		}
		if (n % TCPW_EVENT_SIZE) {
			r->torn++;
			continue;
		}
		for (i = 0; i < (size_t)n / TCPW_EVENT_SIZE; i++) {
			struct tcpw_event e;

			memcpy(&e, buf + i * TCPW_EVENT_SIZE, sizeof(e));
			if (!record_valid(&e))
				r->bad++;
		}
		r->records += n / TCPW_EVENT_SIZE;
	}
	free(buf);
	return NULL;
}

static void *abuse_ioctl_fn(void *arg)
{
	int fd = *(int *)arg;
	unsigned long n = 0;

	while (!abuse_stop) {
		/* Unknown commands, and the real ones at unmapped memory. */
		ioctl(fd, _IO('t', 0x7f));
		ioctl(fd, 0xdeadbeef, bad_addr);
		ioctl(fd, TCPW_IOC_GET_STATS, (void *)bad_addr);
		ioctl(fd, TCPW_IOC_GET_VERSION, (void *)bad_addr);
		ioctl(fd, TCPW_IOC_LOST_NETNS, (void *)bad_addr);
		read(fd, (void *)bad_addr, TCPW_EVENT_SIZE * 4);
		if (++n % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static void *abuse_churn_fn(void *arg)
{
	uint16_t port = (uint16_t)(uintptr_t)arg;
	uint64_t n = 0;
	int lfd;

	private_netns();
	lfd = listener(port);
	while (!churn_stop) {
		if (n++ & 1)
			conn_rst(lfd, port, NULL);
		else
			conn_fin(lfd, port, 1, NULL, NULL);
	}
	close(lfd);
	return NULL;
}

static int cmd_abuse(unsigned int ms, uint16_t port)
{
	static const size_t sizes[ABUSE_READERS] = {
		TCPW_EVENT_SIZE - 1, TCPW_EVENT_SIZE,
		3 * TCPW_EVENT_SIZE + 7, 512 * TCPW_EVENT_SIZE + 100,
	};
	struct abuse_reader rd[ABUSE_READERS] = { 0 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t churn[64], ioc;
	uint64_t read_total = 0, bad = 0, torn = 0, queued = 0, pending;
	struct tcpw_stats st;
	struct evbuf rest = { 0 };
	int shared, i, k;

	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 64)
		ncpu = 64;
	/* Two readers share one file, the others have their own. */
	shared = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (shared < 0)
		die("open " DEV_PATH);
	for (i = 0; i < ABUSE_READERS; i++) {
		rd[i].size = sizes[i];
		rd[i].fd = i < 2 ? shared :
			   open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (rd[i].fd < 0)
			die("open " DEV_PATH);
		if (pthread_create(&rd[i].th, NULL, abuse_read_fn, &rd[i]))
			die("pthread_create");
	}
	if (pthread_create(&ioc, NULL, abuse_ioctl_fn, &shared))
		die("pthread_create");
	for (i = 0; i < ncpu; i++)
		if (pthread_create(&churn[i], NULL, abuse_churn_fn,
				   (void *)(uintptr_t)(port + i)))
			die("pthread_create");
	sleep_ms(ms);
	churn_stop = true;
	for (i = 0; i < ncpu; i++)
		pthread_join(churn[i], NULL);
	/* Churn is over: let the readers take what is left, then stop. */
	sleep_ms(200);
	abuse_stop = true;
	pthread_join(ioc, NULL);
	for (i = 0; i < ABUSE_READERS; i++) {
		pthread_join(rd[i].th, NULL);
		read_total += rd[i].records;
		bad += rd[i].bad;
		torn += rd[i].torn;
	}
	if (drain(shared, &rest))
		die("read");
	pending = rest.n;
	if (get_stats(shared, &st))
		die("TCPW_IOC_GET_STATS");
	for (k = 1; k < TCPW_EV_MAX; k++)
		queued += st.events[k];
	CHECK(!bad && !torn, "abuse-whole-records",
	      "%" PRIu64 " invalid records or errors, %" PRIu64
	      " reads not a whole number of records", bad, torn);
	CHECK(read_total + pending == queued, "abuse-nothing-lost",
	      "read %" PRIu64 " + pending %" PRIu64 " != queued %" PRIu64,
	      read_total, pending, queued);
	CHECK(read_total > 0, "abuse-readers-read", "no records read");
	printf("# abuse: %ld churn threads, %d readers, %" PRIu64
	       " records read, %" PRIu64 " pending, %" PRIu64 " queued\n",
	       ncpu, ABUSE_READERS, read_total, pending, queued);
	for (i = 2; i < ABUSE_READERS; i++)
		close(rd[i].fd);
	close(shared);
	free(rest.v);
	return failures ? 1 : 0;
}

static const char *state_name(int s)
{
	static const char *const n[TCPW_STATE_MAX] = {
		"-", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
		"LISTEN", "CLOSING", "NEW_SYN_RECV",
	};

	return s >= 0 && s < TCPW_STATE_MAX ? n[s] : "?";
}

static void print_event(const struct tcpw_event *e)
{
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];

	inet_ntop(e->family, e->saddr, sa, sizeof(sa));
	inet_ntop(e->family, e->daddr, da, sizeof(da));
	printf("%" PRIu64 ".%06" PRIu64 " %-14s %s:%u > %s:%u %s>%s "
	       "cookie=%" PRIx64 " netns=%u flags=%#x pid=%u comm=%.16s "
	       "cwnd=%u srtt=%u rq=%u acked=%llu rcvd=%llu\n",
	       (uint64_t)e->ts_ns / 1000000000, (uint64_t)e->ts_ns / 1000 % 1000000,
	       e->kind < TCPW_EV_MAX ? kind_names[e->kind] : "?",
	       sa, e->sport, da, e->dport, state_name(e->oldstate),
	       state_name(e->newstate), (uint64_t)e->cookie, e->netns,
	       e->flags, e->pid, e->comm, e->snd_cwnd, e->srtt_us,
	       e->rcv_queued, (unsigned long long)e->bytes_acked,
	       (unsigned long long)e->bytes_received);
}

/* Make some connections (or none) and print every record, as text. */
static int cmd_dump(int n_rst, int n_fin, uint16_t port, unsigned int ms)
{
	struct evbuf b = { 0 };
	uint64_t end = now_ns() + ms * 1000000ull;
	size_t i;
	int fd, lfd;

	fd = open(DEV_PATH, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("open " DEV_PATH);
	if (n_rst || n_fin) {
		private_netns();
		lfd = listener(port);
		printf("# listener cookie %" PRIx64 "\n", cookie_of(lfd));
		for (i = 0; i < (size_t)n_rst; i++)
			conn_rst(lfd, port, NULL);
		for (i = 0; i < (size_t)n_fin; i++)
			conn_fin(lfd, port, 10, NULL, NULL);
		close(lfd);
	}
	do {
		sleep_ms(50);
		b.n = 0;
		if (drain(fd, &b))
			die("read");
		for (i = 0; i < b.n; i++)
			print_event(&b.v[i]);
	} while (now_ns() < end);
	close(fd);
	free(b.v);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: kmod_test dev [-p PORT]\n"
		"       kmod_test count [-r N] [-f N] [-p PORT] [-x PORT -m N] [-t NAME] [-D]\n"
		"       kmod_test churn -t SECONDS [-p PORT]\n"
		"       kmod_test drain -t MILLISECONDS [-n NAME] [-g]\n"
		"       kmod_test abuse -t MILLISECONDS [-p PORT]\n"
		"       kmod_test dump [-r N] [-f N] [-p PORT] [-t MILLISECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int n_rst = 0, n_fin = 0, n_x = 0, opt;
	bool want_drops = false, may_be_gone = false;
	unsigned int t = 1;
	uint16_t port = 7100, xport = 7200;
	const char *name = "count", *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "r:f:p:x:m:t:n:P:Dg")) != -1) {
		switch (opt) {
		case 'r': n_rst = atoi(optarg); break;
		case 'f': n_fin = atoi(optarg); break;
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'x': xport = (uint16_t)atoi(optarg); break;
		case 'm': n_x = atoi(optarg); break;
		case 't':
			if (!strcmp(cmd, "count"))
				name = optarg;
			else
				t = (unsigned int)atoi(optarg);
			break;
		case 'n': name = optarg; break;
		case 'P': prefix = optarg; break;
		case 'D': want_drops = true; break;
		case 'g': may_be_gone = true; break;
		default: usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "dev"))
		return cmd_dev(port);
	if (!strcmp(cmd, "count"))
		return cmd_count(n_rst, n_fin, port, xport, n_x, want_drops,
				 name);
	if (!strcmp(cmd, "churn"))
		return cmd_churn(t, port);
	if (!strcmp(cmd, "drain"))
		return cmd_drain(t, name, may_be_gone);
	if (!strcmp(cmd, "abuse"))
		return cmd_abuse(t, port);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(n_rst, n_fin, port, t);
	usage();
	return 2;
}
