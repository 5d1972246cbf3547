// SPDX-License-Identifier: GPL-2.0
/*
 * churn: TCP connection churn on loopback, the workload of the overhead
 * benchmark (scripts/bench.sh). Each thread owns one listener and loops:
 *
 *   connect -> accept -> client writes N bytes -> server echoes them ->
 *   client reads them -> close client -> close server
 *
 * Close modes:
 *   --rst (default)  the client closes with SO_LINGER 0: it sends a RST
 *                    and never enters TIME_WAIT, so a run of any length
 *                    does not exhaust the ephemeral ports.
 *   --fin            orderly close, client first; the client waits for
 *                    the server's FIN, so every connection goes through
 *                    the full FIN handshake. The client ends in TIME_WAIT:
 *                    run it where net.ipv4.tcp_max_tw_buckets is small
 *                    (scripts/bench.sh sets it in its netns) or the
 *                    ports run out after ~28k connections.
 *
 * Output: a human line on stderr, and on stdout one machine-readable line
 *   conns=N secs=S cps=X threads=T family=4|6 close=rst|fin errors=E
 *
 *   churn [-t THREADS] [-d SECONDS] [-n CONNS] [-6] [--rst|--fin]
 *         [-p PORT] [-s BYTES]
 *
 * -n stops each thread after CONNS/THREADS connections instead of after a
 * time (used to check events per connection exactly).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS	64
#define MAX_BYTES	65536

static struct {
	int threads;
	double secs;
	long long conns;	/* 0: run for secs */
	int family;
	bool fin;
	int port;
	int bytes;
} o = { .threads = 1, .secs = 5, .family = AF_INET, .port = 23000,
	.bytes = 1 };

struct worker {
	pthread_t th;
	int id;
	int lfd;
	struct sockaddr_storage sa;
	socklen_t salen;
	long long done;		/* connections completed */
	long long errors;
	char err[160];		/* first error */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static socklen_t make_sa(struct sockaddr_storage *ss, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (o.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*s4);
}

static int fail(struct worker *w, const char *what)
{
	if (!w->err[0])
		snprintf(w->err, sizeof(w->err), "thread %d: %s: %s", w->id,
			 what, strerror(errno));
	w->errors++;
	return -1;
}

static int xfer(int fd, char *buf, int n, bool wr)
{
	int off = 0;

	while (off < n) {
		ssize_t r = wr ? write(fd, buf + off, n - off)
			       : read(fd, buf + off, n - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += r;
	}
	return 0;
}

/* One connection, start to end. Returns 0 or -1 (errno set). */
static int one(struct worker *w, char *buf)
{
	static const struct linger l0 = { .l_onoff = 1, .l_linger = 0 };
	int c, s = -1, one_ = 1;
	char eof;

	c = socket(o.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return fail(w, "socket");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof(one_));
	if (connect(c, (struct sockaddr *)&w->sa, w->salen)) {
		fail(w, "connect");
		goto out;
	}
	s = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		fail(w, "accept");
		goto out;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof(one_));
	if (xfer(c, buf, o.bytes, true) || xfer(s, buf, o.bytes, false) ||
	    xfer(s, buf, o.bytes, true) || xfer(c, buf, o.bytes, false)) {
		fail(w, "echo");
		goto out;
	}
	if (!o.fin) {
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l0, sizeof(l0));
		close(c);
		c = -1;
		close(s);
		w->done++;
		return 0;
	}
	/* FIN: client first; server sees EOF, closes; client sees EOF. */
	if (shutdown(c, SHUT_WR) || read(s, &eof, 1) != 0) {
		fail(w, "fin");
		goto out;
	}
	close(s);
	s = -1;
	if (read(c, &eof, 1) != 0) {
		fail(w, "fin eof");
		goto out;
	}
	close(c);
	w->done++;
	return 0;
out:
	if (c >= 0) {
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l0, sizeof(l0));
		close(c);
	}
	if (s >= 0)
		close(s);
	return -1;
}

static double deadline;
static long long per_thread;

static void *run(void *arg)
{
	struct worker *w = arg;
	char *buf = calloc(1, o.bytes);

	if (!buf) {
		fail(w, "malloc");
		return NULL;
	}
	for (;;) {
		if (per_thread ? w->done >= per_thread : now_s() >= deadline)
			break;
		/* Bounded errors: a broken setup must not spin for secs. */
		if (one(w, buf) && w->errors > 1000)
			break;
	}
	free(buf);
	return NULL;
}

static int setup(struct worker *w)
{
	int one_ = 1;

	w->salen = make_sa(&w->sa, o.port + w->id);
	w->lfd = socket(o.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->lfd < 0)
		return fail(w, "socket");
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_));
	if (bind(w->lfd, (struct sockaddr *)&w->sa, w->salen))
		return fail(w, "bind");
	if (listen(w->lfd, 128))
		return fail(w, "listen");
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: churn [-t THREADS] [-d SECONDS] [-n CONNS] [-6] [--rst|--fin]\n"
	      "             [-p PORT] [-s BYTES]\n"
	      "  -t  threads, each with its own listener on PORT+i (default 1)\n"
	      "  -d  run time in seconds (default 5)\n"
	      "  -n  stop after this many connections in all instead\n"
	      "  -6  IPv6 (::1) instead of 127.0.0.1\n"
	      "  --rst  client closes with SO_LINGER 0 (default)\n"
	      "  --fin  orderly close, client first\n"
	      "  -p  first listening port (default 23000)\n"
	      "  -s  bytes echoed per connection (default 1)\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rst", no_argument, NULL, 'R' },
		{ "fin", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct worker w[MAX_THREADS];
	long long total = 0, errors = 0;
	double t0, secs;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "t:d:n:6p:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': o.threads = atoi(optarg); break;
		case 'd': o.secs = atof(optarg); break;
		case 'n': o.conns = atoll(optarg); break;
		case '6': o.family = AF_INET6; break;
		case 'R': o.fin = false; break;
		case 'F': o.fin = true; break;
		case 'p': o.port = atoi(optarg); break;
		case 's': o.bytes = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || o.threads < 1 || o.threads > MAX_THREADS ||
	    o.secs <= 0 || o.conns < 0 || o.port < 1 ||
	    o.port + o.threads > 65536 || o.bytes < 1 || o.bytes > MAX_BYTES) {
		usage(stderr);
		return 2;
	}
	if (o.conns && o.conns % o.threads) {
		fprintf(stderr, "churn: -n must be a multiple of -t\n");
		return 2;
	}
	per_thread = o.conns / o.threads;

	memset(w, 0, sizeof(w));
	for (int i = 0; i < o.threads; i++) {
		w[i].id = i;
		if (setup(&w[i])) {
			fprintf(stderr, "churn: %s\n", w[i].err);
			return 1;
		}
	}
	t0 = now_s();
	deadline = t0 + o.secs;
	for (int i = 0; i < o.threads; i++)
		if (pthread_create(&w[i].th, NULL, run, &w[i])) {
			fprintf(stderr, "churn: cannot start thread %d\n", i);
			return 1;
		}
	for (int i = 0; i < o.threads; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].done;
		errors += w[i].errors;
		if (w[i].err[0]) {
			fprintf(stderr, "churn: %s (%lld errors)\n", w[i].err,
				w[i].errors);
			rc = 1;
		}
	}
	secs = now_s() - t0;
	for (int i = 0; i < o.threads; i++)
		close(w[i].lfd);
	fprintf(stderr, "churn: %lld connections in %.2f s: %.0f conn/s (%d thread%s, IPv%d, %s close)\n",
		total, secs, total / secs, o.threads, o.threads > 1 ? "s" : "",
		o.family == AF_INET6 ? 6 : 4, o.fin ? "FIN" : "RST");
	printf("conns=%lld secs=%.3f cps=%.1f threads=%d family=%d close=%s errors=%lld\n",
	       total, secs, total / secs, o.threads,
	       o.family == AF_INET6 ? 6 : 4, o.fin ? "fin" : "rst", errors);
	return rc;
}
