// SPDX-License-Identifier: GPL-2.0
/*
 * GET /metrics, served by libmicrohttpd's own thread. A scrape asks the
 * loop for fresh numbers (an atomic flag), waits at most SCRAPE_WAIT_MS
 * for the loop to publish them, and renders whatever snapshot is newest
 * then. The loop builds a snapshot over a few ticks (collect.c) and
 * swaps a pointer under the lock: it never waits for a scrape, and a
 * scrape never touches the table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "core/daemon.h"
#include "metrics/collect.h"
#include "metrics/metrics.h"

#define SCRAPE_WAIT_MS	2000	/* a pass is a few ticks; the seed longer */
#define MAX_CONNS	16

static struct {
	struct daemon *d;
	struct collector *col;
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	pthread_cond_t published;
	struct msnap *cur;	/* newest; freed when replaced unless read */
	const struct msnap *reading;	/* the HTTP thread renders it */
	__u64 seq;
	atomic_bool want;
	__u64 failed;		/* passes that ran out of memory */
	int listen_fd;		/* metrics_listen()'s socket */
} m = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.listen_fd = -1,
};

static int parse_addr(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	char host[64] = "127.0.0.1";
	const char *port = s, *colon = strrchr(s, ':');
	unsigned long p;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (colon) {
		size_t n = colon - s;

		if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
			s++;
			n -= 2;
		}
		if (!n || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = 0;
		port = colon + 1;
	}
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	errno = 0;
	p = strtoul(port, &end, 10);
	if (!*port || *end || errno || p < 1 || p > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(p);
		*len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(p);
		*len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	return 0;
}

int metrics_parse_listen(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return parse_addr(s, &ss, &len);
}

/* ---- the loop's side ---------------------------------------------------- */

static void publish(struct msnap *s)
{
	struct msnap *old;

	pthread_mutex_lock(&m.lock);
	s->seq = ++m.seq;
	old = m.cur;
	m.cur = s;
	if (old == m.reading)
		old = NULL;	/* the HTTP thread frees it when done */
	pthread_cond_broadcast(&m.published);
	pthread_mutex_unlock(&m.lock);
	msnap_free(old);
}

static void metrics_tick(struct daemon *d, __u64 now)
{
	struct msnap *s;

	if (!collect_busy(m.col)) {
		if (!atomic_exchange(&m.want, false))
			return;
		collect_start(m.col);
	}
	s = collect_step(m.col);
	if (s)
		publish(s);
	else if (!collect_busy(m.col))
		m.failed++;
}

static void metrics_event(struct daemon *d, const struct tcpw_event *ev,
			  const struct apply_result *res)
{
	metrics_count(collect_counts(m.col), ev, res);
}

static void metrics_free(struct daemon *d)
{
	if (m.mhd)
		MHD_stop_daemon(m.mhd);	/* joins its thread */
	m.mhd = NULL;
	msnap_free(m.cur);
	m.cur = NULL;
	collect_free(m.col);
	m.col = NULL;
	pthread_cond_destroy(&m.published);
}

static const struct daemon_module metrics_module = {
	.name = "metrics",
	.tick = metrics_tick,
	.free = metrics_free,
	.event = metrics_event,
};

/* ---- the HTTP thread ------------------------------------------------------ */

/* Ask the loop for a snapshot newer than now; take the newest. */
static const struct msnap *take(void)
{
	struct timespec dl;
	__u64 want;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += SCRAPE_WAIT_MS / 1000;
	dl.tv_nsec += (SCRAPE_WAIT_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m.lock);
	want = m.seq + 1;
	atomic_store(&m.want, true);
	while (m.seq < want &&
	       pthread_cond_timedwait(&m.published, &m.lock, &dl) == 0)
		;
	m.reading = m.cur;
	pthread_mutex_unlock(&m.lock);
	return m.reading;
}

static void done(const struct msnap *s)
{
	bool stale;

	pthread_mutex_lock(&m.lock);
	stale = s != m.cur;
	m.reading = NULL;
	pthread_mutex_unlock(&m.lock);
	if (stale)
		msnap_free((struct msnap *)s);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     char *body, size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	const struct msnap *s;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			     strdup("GET /metrics\n"), 13, "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND,
			     strdup("GET /metrics\n"), 13, "text/plain");
	s = take();
	f = open_memstream(&body, &len);
	if (!f) {
		done(s);
		return MHD_NO;
	}
	if (s)
		metrics_render(f, s);
	fclose(f);
	done(s);
	if (!s)
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body, len,
			     "text/plain");
	return reply(conn, MHD_HTTP_OK, body, len,
		     "text/plain; version=0.0.4; charset=utf-8");
}

/* Our own listening socket: errors we can explain. */
static int listen_on(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_addr(spec, &ss, &len)) {
		fprintf(stderr, "tcpwatch: --metrics \"%s\": give PORT, HOST:PORT or [HOST6]:PORT with a numeric address\n",
			spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		int err = errno;

		fprintf(stderr, "tcpwatch: --metrics %s: %s%s\n", spec,
			strerror(err),
			err == EADDRINUSE ? " (another exporter on this port? choose another)" :
			err == EAFNOSUPPORT ? " (the service: a drop-in with RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6)" : "");
		if (fd >= 0)
			close(fd);
		return -err;
	}
	return fd;
}

int metrics_listen(const struct metrics_opts *o)
{
	int fd = listen_on(o->listen);

	if (fd < 0)
		return fd;
	m.listen_fd = fd;
	return 0;
}

int metrics_attach(struct daemon *d, const struct metrics_opts *o)
{
	pthread_condattr_t ca;
	struct msnap *s;
	int fd, err;

	m.d = d;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m.published, &ca);
	pthread_condattr_destroy(&ca);
	m.col = collect_new(d, o);
	if (!m.col)
		return -ENOMEM;
	err = daemon_add_module(d, &metrics_module);
	if (err) {
		collect_free(m.col);
		m.col = NULL;
		return err;
	}
	/* A first snapshot (the table is empty yet): a scrape during the
	 * seed has something to show. */
	collect_start(m.col);
	s = collect_step(m.col);
	if (s)
		publish(s);
	fd = m.listen_fd;
	m.listen_fd = -1;
	if (fd < 0)
		return -EBADF;	/* metrics_listen() first */
	/* The thread inherits the loop's blocked signals (daemon_start). */
	m.mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL,
				 NULL, on_request, NULL,
				 MHD_OPTION_LISTEN_SOCKET, fd,
				 MHD_OPTION_CONNECTION_LIMIT, MAX_CONNS,
				 MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				 MHD_OPTION_END);
	if (!m.mhd) {
		fprintf(stderr, "tcpwatch: --metrics %s: cannot start the HTTP server\n",
			o->listen);
		close(fd);
		return -EIO;
	}
	return 0;
}
