// SPDX-License-Identifier: GPL-2.0
/*
 * The output writer (core/output.c) on a pipe nobody reads: records are
 * dropped whole, never cut; once the pipe drains, a "lost" record with
 * "where":"output" counts them. SIGHUP's reopen, the -n sink, and the
 * option number parser.
 */
#include <json-c/json.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "lib/parse.h"
#include "unit.h"

#define RECORDS	20000

static void test_stalled_pipe_drops_whole_records(void)
{
	static struct daemon d;
	static char got[8 << 20];
	char path[64];
	size_t len = 0, starts = 0, lost = 0, lost_count = 0;
	struct reconcile_result r = { .sockets = 12345 };
	__u64 dropped;
	int p[2];

	if (!ASSERT_OK(pipe2(p, O_CLOEXEC), "pipe") ||
	    !ASSERT_OK(daemon_init_offline(&d, -1), "init"))
		return;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	d.o.output = path;
	if (!ASSERT_OK(output_open(&d), "output_open"))
		return;
	close(p[1]);	/* output_open has its own */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < RECORDS; i++)	/* the reader reads nothing */
		emit_reconcile(&d, &r, "periodic", 1000);
	dropped = d.outq.dropped;
	ASSERT_GT(dropped, 0, "records dropped while the pipe is full");
	ASSERT_EQ(d.lines + dropped, RECORDS, "every record kept or dropped");
	ASSERT_LE(d.out.cap, OUT_BUF, "the buffer stayed bounded");
	/* the reader resumes */
	for (int i = 0; i < 100000 && len < sizeof(got); i++) {
		ssize_t n = read(p[0], got + len, sizeof(got) - len);

		if (n > 0)
			len += n;
		else if (!output_pending(&d) && !d.outq.dropped)
			break;
		output_flush(&d);
	}
	ASSERT_EQ(output_pending(&d), 0, "everything written");
	ASSERT_TRUE(len && got[len - 1] == '\n', "ends with a whole line");
	for (size_t off = 0; off < len;) {
		char *nl = memchr(got + off, '\n', len - off);
		struct json_object *o, *v;

		if (!ASSERT_TRUE(nl != NULL, "whole line"))
			break;
		*nl = 0;
		o = json_tokener_parse(got + off);
		if (!ASSERT_TRUE(o != NULL, "a line parses"))
			break;
		json_object_object_get_ex(o, "type", &v);
		if (!strcmp(json_object_get_string(v), "reconcile")) {
			starts++;
		} else if (!strcmp(json_object_get_string(v), "lost")) {
			lost++;
			json_object_object_get_ex(o, "where", &v);
			ASSERT_STREQ(json_object_get_string(v), "output",
				     "where");
			json_object_object_get_ex(o, "count", &v);
			lost_count = json_object_get_int64(v);
		}
		json_object_put(o);
		off = nl - got + 1;
	}
	ASSERT_EQ(starts + dropped, RECORDS, "records written + dropped");
	ASSERT_EQ(lost, 1, "one lost record");
	ASSERT_EQ(lost_count, dropped, "its count");
	close(p[0]);
	daemon_free(&d);
}

static size_t lines_of(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c, last = '\n';

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		n += c == '\n';
		last = c;
	}
	fclose(f);
	return last == '\n' ? n : (size_t)-1;	/* a cut line */
}

/* The loop's turns (its fds' callbacks) until SIGHUP's open returned. */
static void until_reopened(struct daemon *d)
{
	struct epoll_event ev;

	for (int i = 0; i < 500 && d->outq.opening >= 0; i++) {
		if (epoll_wait(d->epfd, &ev, 1, 10) == 1) {
			struct daemon_io *io = ev.data.ptr;

			io->fn(d, io, ev.events);
		}
	}
}

/* SIGHUP (output_reopen): the records made before it end, whole, in the
 * renamed file; the ones after go to a new file at the same path. */
static void test_reopen_after_rename(void)
{
	static struct daemon d;
	struct reconcile_result r = { .sockets = 1 };
	char dir[] = "/tmp/tcpw-unit.XXXXXX", path[64], old[64];

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp") ||
	    !ASSERT_OK(daemon_init_offline(&d, -1), "init"))
		return;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	snprintf(path, sizeof(path), "%s/ev.ndjson", dir);
	snprintf(old, sizeof(old), "%s/ev.ndjson.1", dir);
	d.o.output = path;
	if (!ASSERT_OK(output_open(&d), "output_open"))
		return;
	for (int i = 0; i < 1000; i++)	/* buffered: under 1 MiB */
		emit_reconcile(&d, &r, "periodic", 1000);
	ASSERT_GT(output_pending(&d), 0, "records waiting");
	ASSERT_OK(rename(path, old), "rename");
	/* opened on a thread; taken at a turn of the loop */
	ASSERT_EQ(output_reopen(&d), 1, "reopen");
	ASSERT_EQ(d.outq.reopens, 0, "the new file is not taken yet");
	until_reopened(&d);
	for (int i = 0; i < 500; i++)
		emit_reconcile(&d, &r, "periodic", 1000);
	/* a file's writes are the writer thread's: wait for them */
	ASSERT_OK(output_close(&d), "close");
	ASSERT_EQ(output_pending(&d), 0, "all written");
	ASSERT_EQ(lines_of(old), 1000, "records before the reopen, whole, in the renamed file");
	ASSERT_EQ(lines_of(path), 500, "records after it in the new file");
	ASSERT_EQ(d.outq.reopens, 1, "reopens counted");
	ASSERT_EQ(d.outq.dropped, 0, "nothing dropped");
	daemon_free(&d);
	unlink(old);
	unlink(path);
	rmdir(dir);
}

/* -n: no destination; records are made only for the tap, and only while
 * has_out says someone wants them. */
static size_t tapped;
static void count_tap(struct daemon *d, const char *rec, size_t len)
{
	tapped += len && rec[len - 1] == '\n' && rec[0] == '{';
}

static void test_discard_sink(void)
{
	static struct daemon d;
	struct reconcile_result r = { .sockets = 1 };

	if (!ASSERT_OK(daemon_init_offline(&d, -1), "init"))
		return;
	d.o.output = NULL;
	if (!ASSERT_OK(output_open(&d), "output_open"))
		return;
	ASSERT_TRUE(d.outq.discard && !d.has_out, "a discard sink, no records yet");
	d.tap = count_tap;
	emit_reconcile(&d, &r, "periodic", 1000);
	ASSERT_EQ(tapped, 0, "no record while nobody wants them");
	d.has_out = true;
	for (int i = 0; i < 3 * (int)(OUT_BUF / 100); i++)
		emit_reconcile(&d, &r, "periodic", 1000);
	ASSERT_EQ(tapped, 3 * (OUT_BUF / 100), "every record tapped");
	ASSERT_EQ(d.out.len, 0, "none kept");
	ASSERT_EQ(d.lines, 0, "none counted as written");
	ASSERT_OK(output_close(&d), "close");
	daemon_free(&d);
}

static void test_parse_uint(void)
{
	__u64 v = 0;

	ASSERT_OK(parse_uint("1G", true, 4096, 1u << 30, &v), "1G");
	ASSERT_EQ(v, 1ULL << 30, "1G value");
	ASSERT_OK(parse_uint("8m", true, 4096, 1u << 30, &v), "8m");
	ASSERT_EQ(v, 8ULL << 20, "8m value");
	ASSERT_EQ(parse_uint("2G", true, 4096, 1u << 30, &v), -ERANGE, "2G");
	ASSERT_EQ(parse_uint("17592186044420M", true, 0, 1u << 30, &v),
		  -ERANGE, "wraps to 4M");
	ASSERT_EQ(parse_uint("18446744073709551616", false, 0, ~0ULL, &v),
		  -ERANGE, "past 2^64");
	ASSERT_EQ(parse_uint("0", false, 1, 10000, &v), -ERANGE, "0 < min");
	ASSERT_EQ(parse_uint("1K", false, 0, 10000, &v), -EINVAL,
		  "no suffix where none is taken");
	ASSERT_EQ(parse_uint("-1", false, 0, 10, &v), -EINVAL, "sign");
	ASSERT_EQ(parse_uint(" 1", false, 0, 10, &v), -EINVAL, "space");
	ASSERT_EQ(parse_uint("1KB", true, 0, ~0ULL, &v), -EINVAL, "junk");
	ASSERT_EQ(parse_uint("", true, 0, 10, &v), -EINVAL, "empty");
}

UNIT_MAIN(test_stalled_pipe_drops_whole_records, test_reopen_after_rename,
	  test_discard_sink, test_parse_uint)
