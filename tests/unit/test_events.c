// SPDX-License-Identifier: GPL-2.0
/*
 * Answers from the backlog without follow=1 (ctl/events.c): a cursor,
 * copied a chunk at a time as the reader's socket drains. The answer is
 * the backlog's matching records of the last 10 s, in order, then the
 * end; none made after the request; a stalled reader costs a chunk, not
 * the backlog; records the writer overwrites before they were sent are
 * counted exactly, in one lost record where they were; an answer the
 * daemon's stop cuts has no end marker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "ctl/ctl.h"
#include "ctl/events.h"
#include "unit.h"

#define MAXREC	8192
#define BACKLOG_LOST	"\"where\":\"backlog\",\"count\":"

static struct daemon d;
static unsigned int next_seq;

/* What a reader got: the records' seq, the lost records' counts. */
struct answer {
	int n, lost, nlost, lost_at;
	bool end;
	unsigned int seq[MAXREC];
};

/* A state record numbered next_seq, on port 2222 when odd, else 1111. */
static void record(__u64 ts)
{
	unsigned int seq = next_seq++;

	emit_head(&d, "state", ts);
	rec_sock(&d, 1, seq & 1 ? 2222 : 1111, 80, 1);
	json_u64_field(&d.out, "seq", seq);
	/* ~250 bytes a record */
	json_lit(&d.out, ",\"pad\":\"........................................"
			 "........................................\"");
	emit_tail(&d);
}

static void records(int n)
{
	while (n--)
		record(mono_ns());
}

static bool setup(__u32 backlog)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	next_seq = 0;
	if (!ASSERT_OK(daemon_init_offline(&d, fd), "init"))
		return false;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.o.backlog_bytes = backlog;
	return ASSERT_OK(events_attach(&d), "events_attach");
}

static struct events_stats stats(void)
{
	struct events_stats st;

	events_get_stats(&st);
	return st;
}

/* `events [ARG]`: the reader's end of its connection. A small send
 * buffer on the daemon's end: a reader that stops stalls it at once. */
static int subscribe(const char *arg)
{
	static struct daemon_io ctl_io;	/* the ctl client's, replaced */
	char buf[32], *argv[1];
	int sv[2], small = 4096;
	struct jbuf err;

	if (!ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				  SOCK_CLOEXEC, 0, sv), "socketpair"))
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	daemon_io_add(&d, sv[0], EPOLLIN, &ctl_io);
	json_init(&err, -1, 256);
	if (arg)
		argv[0] = strcpy(buf, arg);
	ASSERT_OK(events_take(&d, sv[0], argv, !!arg, true, &err),
		  "events_take");
	json_free(&err);
	return sv[1];
}

/* Run the loop's callbacks and read, until max bytes (0: the end). */
static void pump(int fd, struct jbuf *got, size_t max)
{
	size_t at = got->len;

	for (int spin = 0; spin < 1000000; spin++) {
		struct epoll_event e[4];
		int n = epoll_wait(d.epfd, e, 4, 0);
		char buf[4096];
		ssize_t r;

		for (int i = 0; i < n; i++) {
			struct daemon_io *io = e[i].data.ptr;

			io->fn(&d, io, e[i].events);
		}
		if (max && got->len - at >= max)
			return;
		r = read(fd, buf, max && max - (got->len - at) < sizeof(buf) ?
			 max - (got->len - at) : sizeof(buf));
		if (r > 0)
			json_raw(got, buf, r);
		else if (!r || errno != EAGAIN)
			return;
	}
}

static void parse(const struct jbuf *got, struct answer *a)
{
	const char *p = got->p, *end = got->p + got->len;

	memset(a, 0, sizeof(*a));
	a->lost_at = -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *q;

		if (!nl)
			break;
		if (a->end)
			a->end = false;	/* something after the end */
		if (!strncmp(p, CTL_END, strlen(CTL_END))) {
			a->end = true;
		} else if (!strncmp(p, "{\"type\":\"lost\"", 14) &&
			   (q = strstr(p, BACKLOG_LOST))) {
			a->lost += strtoul(q + strlen(BACKLOG_LOST), NULL, 10);
			a->nlost++;
			a->lost_at = a->n;
		} else if ((q = strstr(p, "\"seq\":")) && q < nl &&
			   a->n < MAXREC) {
			a->seq[a->n++] = strtoul(q + 6, NULL, 10);
		}
		p = nl + 1;
	}
}

/* The whole answer to `events [arg]`, read at once. */
static void answer(const char *arg, struct answer *a)
{
	struct jbuf got;
	int fd = subscribe(arg);

	json_init(&got, -1, 1 << 16);
	pump(fd, &got, 0);
	parse(&got, a);
	json_free(&got);
	close(fd);
}

/* s is f with one run of s->lost records left out, told in place. */
static void same_but_lost(const struct answer *f, const struct answer *s)
{
	int a = s->lost_at, after = s->n - a;

	ASSERT_TRUE(s->end, "the answer ends with the end marker");
	ASSERT_EQ(s->nlost, 1, "one lost record");
	ASSERT_EQ(a + s->lost + after, f->n, "records sent + lost");
	ASSERT_OK(memcmp(s->seq, f->seq, a * sizeof(s->seq[0])),
		  "the records before the lost one");
	ASSERT_OK(memcmp(s->seq + a, f->seq + f->n - after,
			 after * sizeof(s->seq[0])),
		  "the records after the lost one");
}

static void test_answer_is_the_window_in_order(void)
{
	static struct answer a, p, s;
	struct events_stats st;
	struct jbuf got;
	__u64 sent;
	int fd, i;

	if (!setup(1 << 20))
		return;
	/* older than the answer's 10 s, among the others */
	for (i = 0; i < 10; i++)
		record(mono_ns() - EVENTS_BACKLOG_NS - 1000000000ULL);
	records(400);
	for (i = 0; i < 10; i++)
		record(mono_ns() - EVENTS_BACKLOG_NS - 1000000000ULL);
	records(400);
	answer(NULL, &a);
	ASSERT_EQ(a.n, 800, "records of the last 10 s");
	ASSERT_TRUE(a.end && !a.nlost, "the end, nothing lost");
	for (i = 0; i < a.n; i++)
		if (!ASSERT_EQ(a.seq[i], i < 400 ? 10 + i : 20 + i, "in order"))
			break;
	answer("port=2222", &p);
	ASSERT_EQ(p.n, 400, "records on port 2222");
	for (i = 0; i < p.n; i++)
		if (!ASSERT_EQ(p.seq[i] & 1, 1, "the filter"))
			break;
	st = stats();
	ASSERT_EQ(st.sent, 1200, "stats: records sent");
	ASSERT_EQ(st.subscribers, 0, "answered and gone");

	/* a reader that reads nothing: a chunk copied, not the backlog */
	sent = st.sent;
	fd = subscribe(NULL);
	json_init(&got, -1, 1 << 16);
	pump(fd, &got, 100);
	st = stats();
	ASSERT_EQ(st.subscribers, 1, "the stalled reader");
	ASSERT_LT(st.sent - sent, 400, "records copied for a stalled reader");
	/* records made after its request are not in its answer */
	records(100);
	pump(fd, &got, 0);
	parse(&got, &s);
	ASSERT_TRUE(s.end && !s.nlost, "the end, nothing lost");
	ASSERT_EQ(s.n, a.n, "the stalled reader's records");
	ASSERT_OK(memcmp(s.seq, a.seq, a.n * sizeof(a.seq[0])),
		  "the same records as at once");
	json_free(&got);
	close(fd);

	/* the daemon stops while an answer is half sent: no end marker,
	 * the client says it was cut short */
	fd = subscribe(NULL);
	json_init(&got, -1, 1 << 16);
	pump(fd, &got, 100);
	daemon_free(&d);
	pump(fd, &got, 0);
	parse(&got, &s);
	ASSERT_FALSE(s.end, "an answer cut by the stop has no end");
	ASSERT_LT(s.n, a.n, "records before the stop");
	json_free(&got);
	close(fd);
}

/* Overwrite one reader's records, a few past where it stands: n more
 * records after stats count the first one lost. */
static void overwrite(int fd, struct jbuf *got, int n)
{
	__u64 before = stats().overwritten;

	pump(fd, got, 1000);	/* it read a little, then stopped */
	for (int i = 0; i < 2000 && stats().overwritten == before; i++)
		record(mono_ns());
	records(n);
}

static void test_overwritten_records_are_counted(void)
{
	static struct answer f, s;
	struct events_stats st;
	struct jbuf got;
	__u64 lost = 0;
	int fd;

	/* halves of 128 KiB, ~600 records each: more than a chunk */
	if (!setup(256 << 10))
		return;
	records(1500);
	json_init(&got, -1, 1 << 16);

	/* a few records lost, the rest of the answer intact */
	answer(NULL, &f);
	fd = subscribe(NULL);
	overwrite(fd, &got, 5);
	pump(fd, &got, 0);
	close(fd);
	parse(&got, &s);
	same_but_lost(&f, &s);
	ASSERT_GT(s.lost, 5, "records lost");
	ASSERT_GT(s.n - s.lost_at, 0, "records after the lost ones");
	lost += s.lost;

	/* all that was not sent yet, across both halves: one record */
	answer(NULL, &f);
	got.len = 0;
	fd = subscribe(NULL);
	pump(fd, &got, 1000);
	records(3000);
	pump(fd, &got, 0);
	close(fd);
	parse(&got, &s);
	same_but_lost(&f, &s);
	ASSERT_EQ(s.n, s.lost_at, "nothing after the lost ones");
	ASSERT_GT(s.lost, f.n / 2, "records lost in both halves");
	lost += s.lost;

	/* with a filter, only the records it asked for are counted */
	answer("port=2222", &f);
	got.len = 0;
	fd = subscribe("port=2222");
	overwrite(fd, &got, 20);
	pump(fd, &got, 0);
	close(fd);
	parse(&got, &s);
	same_but_lost(&f, &s);
	ASSERT_LT(s.lost, 20, "records on port 2222 lost");
	for (int i = 0; i < s.n; i++)
		if (!ASSERT_EQ(s.seq[i] & 1, 1, "the filter"))
			break;
	lost += s.lost;

	st = stats();
	ASSERT_EQ(st.overwritten, lost, "stats: records overwritten");
	ASSERT_EQ(st.overrun, 3, "stats: answers overrun");
	json_free(&got);
	daemon_free(&d);
}

UNIT_MAIN(test_answer_is_the_window_in_order,
	  test_overwritten_records_are_counted)
