// SPDX-License-Identifier: GPL-2.0
/*
 * NDJSON socket records through the daemon's record path
 * (daemon_handle_event), parsed back with json-c: when a record carries
 * its "snap", and that leaving one out never loses a value (a reader
 * that keeps the last snap per cookie always has the record's); and
 * that records in batches (daemon_handle_batch) write the same bytes.
 */
#include <json-c/json.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "diag/sweep.h"
#include "unit.h"

#define NETNS	4026531840u

static bool setup(struct daemon *d)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (!ASSERT_GE(fd, 0, "open /dev/null"))
		return false;
	return ASSERT_EQ(daemon_init_offline(d, fd), 0, "daemon_init_offline");
}

static __u64 now = 1000000000ULL;

static void ev_init(struct tcpw_event *ev, __u64 cookie, __u8 kind,
		    __u8 old, __u8 new, __u16 sport, __u16 dport)
{
	__u32 lo = htonl(0x7f000001);

	memset(ev, 0, sizeof(*ev));
	ev->version = TCPW_ABI_VERSION;
	ev->ts_ns = now += 1000;
	ev->cookie = cookie;
	ev->netns = NETNS;
	ev->family = AF_INET;
	ev->kind = kind;
	ev->oldstate = old;
	ev->newstate = new;
	ev->sport = sport;
	ev->dport = dport;
	memcpy(ev->saddr, &lo, 4);
	memcpy(ev->daddr, &lo, 4);
}

static void set_snap(struct tcpw_event *ev, __u32 v)
{
	ev->flags |= TCPW_F_SNAPSHOT;
	ev->snd_wnd = 65536;
	ev->rcv_wnd = 65536;
	ev->snd_cwnd = 10;
	ev->srtt_us = v;
	ev->rcvbuf = 131072;
	ev->sndbuf = 16384;
	ev->bytes_acked = v * 3;
	ev->bytes_received = v * 5;
}

/* The lines written since *off, parsed; *off moves past them. */
static int lines(struct daemon *d, size_t *off, json_object **out, int max)
{
	int n = 0;

	while (*off < d->out.len && n < max) {
		char *nl = memchr(d->out.p + *off, '\n', d->out.len - *off);

		if (!nl)
			break;
		*nl = '\0';
		out[n++] = json_tokener_parse(d->out.p + *off);
		*nl = '\n';
		*off = nl - d->out.p + 1;
	}
	return n;
}

static bool has_snap(json_object *o)
{
	json_object *s;

	return o && json_object_object_get_ex(o, "snap", &s);
}

/*
 * An RST close on loopback, in the kernel's order: the client's reset
 * is traced after the server's reset_recv and CLOSE. Snapshots of
 * records from the same instant are equal.
 */
static void test_rst_close(void)
{
	/* what each record is, and whether it must carry snap */
	static const struct {
		int side;	/* 0 client, 1 server */
		__u8 kind, old, new;
		__u32 snap;	/* snapshot value; 0: none */
		bool want;
	} seq[] = {
		{ 1, TCPW_EV_STATE, TCPW_CLOSE, TCPW_LISTEN, 1, false },
		{ 0, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 2, false },
		{ 2, TCPW_EV_STATE, TCPW_LISTEN, TCPW_SYN_RECV, 3, false },
		{ 0, TCPW_EV_STATE, TCPW_SYN_SENT, TCPW_ESTABLISHED, 4, true },
		{ 2, TCPW_EV_STATE, TCPW_SYN_RECV, TCPW_ESTABLISHED, 5, true },
		{ 0, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_CLOSE, 6, true },
		{ 2, TCPW_EV_RST_RECV, TCPW_ESTABLISHED, TCPW_ESTABLISHED, 7,
		  true },
		{ 2, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_CLOSE, 7, false },
		{ 0, TCPW_EV_RST_SENT, TCPW_CLOSE, TCPW_CLOSE, 6, false },
		/* a sample always carries it, changed or not */
		{ 1, TCPW_EV_SAMPLE, TCPW_LISTEN, TCPW_LISTEN, 1, true },
		{ 1, TCPW_EV_STATE, TCPW_LISTEN, TCPW_CLOSE, 1, false },
	};
	static const __u64 cookies[] = { 100, 50, 101 };
	static const __u16 ports[][2] = { { 40000, 8080 }, { 8080, 0 },
					  { 8080, 40000 } };
	json_object *out[4];
	struct tcpw_event ev;
	struct daemon d;
	size_t off = 0;

	if (!setup(&d))
		return;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		int s = seq[i].side, n;
		char name[32];

		ev_init(&ev, cookies[s], seq[i].kind, seq[i].old, seq[i].new,
			ports[s][0], ports[s][1]);
		if (seq[i].snap)
			set_snap(&ev, seq[i].snap);
		daemon_handle_event(&d, &ev);
		n = lines(&d, &off, out, 4);
		snprintf(name, sizeof(name), "record %zu", i);
		if (ASSERT_EQ(n, 1, name) && ASSERT_TRUE(out[0], name))
			ASSERT_EQ(has_snap(out[0]), seq[i].want, name);
		while (n--)
			json_object_put(out[n]);
	}
	daemon_free(&d);
}

/*
 * Random records for a few sockets, snapshots often repeated: every
 * record with a snapshot either shows it or shows none while the last
 * snap shown for its cookie is equal. Checked on srtt_us, which differs
 * between any two snapshots here.
 */
static void test_never_lost(void)
{
	static const __u8 path[] = { TCPW_CLOSE, TCPW_SYN_SENT,
				     TCPW_ESTABLISHED, TCPW_FIN_WAIT1,
				     TCPW_FIN_WAIT2 };
	__s64 last[8] = { 0 };
	int at[8] = { 0 }, shown = 0, left_out = 0, bad = 0;
	__u32 val[8] = { 0 };
	json_object *out[4];
	struct tcpw_event ev;
	struct daemon d;
	size_t off = 0;

	if (!setup(&d))
		return;
	srand(1);
	for (int i = 0; i < 4000; i++) {
		int s = rand() % 8, n, r = rand() % 10;
		__u64 cookie = 1000 + s;
		__u8 kind = TCPW_EV_STATE, old, new;

		if (r < 3)
			val[s] = rand() % 1000 + 1;
		if (!val[s])
			val[s] = 1;
		if (at[s] + 1 < (int)sizeof(path) && r < 6) {
			old = path[at[s]];
			new = path[++at[s]];
		} else {
			kind = r < 8 ? TCPW_EV_RST_RECV : TCPW_EV_SAMPLE;
			old = new = path[at[s]];
		}
		ev_init(&ev, cookie, kind, old, new, 40000 + s, 80);
		set_snap(&ev, val[s]);
		daemon_handle_event(&d, &ev);
		n = lines(&d, &off, out, 4);
		d.out.len = off = 0;	/* never flushed */
		if (!ASSERT_EQ(n, 1, "one record per event"))
			break;
		if (has_snap(out[0])) {
			json_object *snap, *srtt;

			json_object_object_get_ex(out[0], "snap", &snap);
			json_object_object_get_ex(snap, "srtt_us", &srtt);
			last[s] = json_object_get_int64(srtt);
			bad += last[s] != val[s];
			shown++;
		} else if (!(kind == TCPW_EV_STATE && new == TCPW_SYN_SENT)) {
			bad += last[s] != val[s];
			left_out++;
		}
		json_object_put(out[0]);
	}
	ASSERT_EQ(bad, 0, "records whose snapshot a reader would not know");
	ASSERT_GT(shown, 0, "snaps shown");
	ASSERT_GT(left_out, 0, "snaps left out");
	daemon_free(&d);
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ?
	       json_object_get_string(v) : "(none)";
}

static __s64 int_of(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ?
	       json_object_get_int64(v) : -1;
}

/*
 * --records conn: one conn record per connection, none for a listener;
 * a close that a reset of its own may follow (SO_LINGER 0 traces CLOSE,
 * then the reset) waits for it, or for CONN_HOLD_NS.
 */
static void test_conn_records(void)
{
	static const struct {
		int side;	/* 0 client, 1 listener, 2 server child, 3 a
				 * client the kernel gives up on */
		__u8 kind, old, new;
		int lines;	/* conn records this event writes */
	} seq[] = {
		{ 1, TCPW_EV_STATE, TCPW_CLOSE, TCPW_LISTEN, 0 },
		{ 0, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 0 },
		{ 3, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 0 },
		{ 2, TCPW_EV_STATE, TCPW_SYN_RECV, TCPW_ESTABLISHED, 0 },
		{ 0, TCPW_EV_STATE, TCPW_SYN_SENT, TCPW_ESTABLISHED, 0 },
		{ 3, TCPW_EV_STATE, TCPW_SYN_SENT, TCPW_ESTABLISHED, 0 },
		{ 0, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_CLOSE, 0 },
		{ 2, TCPW_EV_RST_RECV, TCPW_ESTABLISHED, TCPW_ESTABLISHED, 0 },
		{ 2, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_CLOSE, 1 },
		{ 0, TCPW_EV_RST_SENT, TCPW_CLOSE, TCPW_CLOSE, 1 },
		{ 3, TCPW_EV_RETRANS, TCPW_ESTABLISHED, TCPW_ESTABLISHED, 0 },
		{ 3, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_CLOSE, 0 },
		{ 1, TCPW_EV_STATE, TCPW_LISTEN, TCPW_CLOSE, 0 },
	};
	static const __u64 cookies[] = { 100, 50, 101, 102 };
	static const __u16 ports[][2] = { { 40000, 8080 }, { 8080, 0 },
					  { 8080, 40000 }, { 40001, 8080 } };
	json_object *out[4] = { NULL };
	struct tcpw_event ev;
	struct daemon d;
	size_t off = 0;
	int n;

	if (!setup(&d))
		return;
	d.o.records = REC_BIT(REC_CONN);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		int s = seq[i].side;
		char name[32];

		ev_init(&ev, cookies[s], seq[i].kind, seq[i].old, seq[i].new,
			ports[s][0], ports[s][1]);
		if (seq[i].new != TCPW_SYN_SENT && seq[i].new != TCPW_LISTEN)
			set_snap(&ev, 10 + i);
		daemon_handle_event(&d, &ev);
		/* the reset of no socket (a closed port's) is not ours */
		ev_init(&ev, 0, TCPW_EV_RST_SENT, TCPW_CLOSE, TCPW_CLOSE,
			40000, 8080);
		ev.flags |= TCPW_F_NOSOCK;
		daemon_handle_event(&d, &ev);
		n = lines(&d, &off, out, 4);
		snprintf(name, sizeof(name), "conn records after %zu", i);
		ASSERT_EQ(n, seq[i].lines, name);
		if (i == 8) {
			ASSERT_STREQ(str_of(out[0], "outcome"), "reset_recv",
				     "server child");
			ASSERT_STREQ(str_of(out[0], "direction"), "passive",
				     "server child's direction");
		}
		if (i == 9) {
			ASSERT_STREQ(str_of(out[0], "outcome"), "reset_sent",
				     "SO_LINGER 0 client, once its reset came");
			ASSERT_EQ(int_of(out[0], "cookie"), 100, "its cookie");
			ASSERT_EQ(int_of(out[0], "rst_sent"), 1, "one reset");
			ASSERT_EQ(int_of(out[0], "handshake_us"), 6,
				  "SYN_SENT to ESTABLISHED, µs (2 µs an event)");
			ASSERT_STREQ(str_of(out[0], "type"), "conn", "type");
		}
		for (int k = 0; k < n; k++)
			json_object_put(out[k]);
	}
	/* the retransmitting client's close waits for a reset ... */
	conn_flush(&d, ev.ts_ns + CONN_HOLD_NS / 2, false);
	ASSERT_EQ(lines(&d, &off, out, 4), 0, "held while a reset may come");
	/* ... that never comes: the kernel gave up */
	conn_flush(&d, ev.ts_ns + CONN_HOLD_NS + 1, false);
	n = lines(&d, &off, out, 4);
	if (ASSERT_EQ(n, 1, "written once held long enough")) {
		ASSERT_STREQ(str_of(out[0], "outcome"), "timeout",
			     "data retries gave up");
		ASSERT_EQ(int_of(out[0], "retrans"), 1, "its retransmit");
		json_object_put(out[0]);
	}
	conn_flush(&d, 0, true);
	ASSERT_EQ(lines(&d, &off, out, 4), 0, "nothing written twice");
	daemon_free(&d);
}

/* More SO_LINGER 0 closes than the queue holds, each reset right
 * after its CLOSE: one record each, none repeated. */
static void test_conn_many_resets(void)
{
	json_object *out[4];
	struct tcpw_event ev;
	struct daemon d;
	size_t off = 0;
	int total = 0, n;

	if (!setup(&d))
		return;
	d.o.records = REC_BIT(REC_CONN);
	for (int i = 0; i < 3 * CONN_PENDING; i++) {
		__u64 c = 1000 + i;

		ev_init(&ev, c, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT,
			41000 + i, 80);
		daemon_handle_event(&d, &ev);
		ev_init(&ev, c, TCPW_EV_STATE, TCPW_SYN_SENT,
			TCPW_ESTABLISHED, 41000 + i, 80);
		daemon_handle_event(&d, &ev);
		ev_init(&ev, c, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_CLOSE,
			41000 + i, 80);
		daemon_handle_event(&d, &ev);
		ev_init(&ev, c, TCPW_EV_RST_SENT, TCPW_CLOSE, TCPW_CLOSE,
			41000 + i, 80);
		daemon_handle_event(&d, &ev);
		while ((n = lines(&d, &off, out, 4)) > 0)
			for (int k = 0; k < n; k++, total++) {
				ASSERT_EQ(int_of(out[k], "cookie"), c,
					  "written as its reset comes");
				ASSERT_STREQ(str_of(out[k], "outcome"),
					     "reset_sent", "outcome");
				json_object_put(out[k]);
			}
	}
	conn_flush(&d, 0, true);
	ASSERT_EQ(lines(&d, &off, out, 4), 0, "nothing left to write");
	ASSERT_EQ(total, 3 * CONN_PENDING, "one record per connection");
	daemon_free(&d);
}

/* A reconcile found a socket gone unseen: "unknown", except for a
 * listener or a timewait socket (its record is already out). */
static void test_conn_vanished(void)
{
	struct sock_entry e = {
		.cookie = 77, .family = AF_INET, .state = TCPW_ESTABLISHED,
		.flags = SOCK_SEEDED, .birth_ns = 1000,
	};
	json_object *out[4];
	struct daemon d;
	size_t off = 0;

	if (!setup(&d))
		return;
	d.o.records = REC_BIT(REC_CONN);
	conn_vanished(&d, &e, 5000000);
	if (ASSERT_EQ(lines(&d, &off, out, 4), 1, "one record")) {
		ASSERT_STREQ(str_of(out[0], "outcome"), "unknown", "outcome");
		ASSERT_STREQ(str_of(out[0], "direction"), "unknown",
			     "seeded: not seen opening");
		ASSERT_EQ(int_of(out[0], "tx_bytes"), 0, "no snapshot, no bytes");
		json_object_put(out[0]);
	}
	e.state = TCPW_LISTEN;
	conn_vanished(&d, &e, 5000000);
	e.state = TCPW_TIME_WAIT;
	e.flags |= SOCK_TW;
	conn_vanished(&d, &e, 5000000);
	ASSERT_EQ(lines(&d, &off, out, 4), 0, "none for a listener or timewait");
	d.o.records = REC_DEFAULT;
	e.state = TCPW_ESTABLISHED;
	e.flags = 0;
	conn_vanished(&d, &e, 5000000);
	ASSERT_EQ(lines(&d, &off, out, 4), 0, "none unless --records conn");
	daemon_free(&d);
}

/*
 * --cgroup: the kernel side applied it to every event already, so an
 * event whose cgroup the daemon cannot name (yet) is kept; the daemon
 * checks again only where the source did not (a module loaded with
 * another cgroup=). A timewait sock (cgroup 0) counts only if tracked.
 */
static void test_cgroup_filtered_by_source(void)
{
	struct tcpw_event ev;
	struct daemon d;

	if (!setup(&d))
		return;
	d.o.filter.cgroup = 777;
	d.o.filter.cgroup_path = "/a";
	d.o.filter.cgc = &d.cg;	/* offline: names nothing */
	ev_init(&ev, 1, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 40000, 80);
	ev.cgroup = 778;
	daemon_handle_event(&d, &ev);
	ASSERT_TRUE(!table_find(&d.tab, 1),
		    "checked by the daemon: an unnamed cgroup is not under /a");
	d.o.filter.cgroup_by_source = true;
	ev_init(&ev, 2, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 40001, 80);
	ev.cgroup = 778;
	daemon_handle_event(&d, &ev);
	ASSERT_TRUE(table_find(&d.tab, 2) != NULL,
		    "checked by the source: kept though unnamed");
	ev_init(&ev, 3, TCPW_EV_STATE, TCPW_FIN_WAIT2, TCPW_CLOSE, 40002, 80);
	daemon_handle_event(&d, &ev);	/* a timewait sock's: cgroup 0 */
	ASSERT_TRUE(!table_find(&d.tab, 3), "cgroup 0, untracked: not kept");
	daemon_free(&d);
}

/* The record path into memory, as the fuzz target has it. */
static bool setup_mem(struct daemon *d)
{
	if (!ASSERT_EQ(daemon_init_offline(d, -1), 0, "daemon_init_offline"))
		return false;
	if (!ASSERT_EQ(json_init(&d->out, -1, 1 << 16), 0, "json_init"))
		return false;
	d->has_out = true;
	d->o.records = REC_ALL;
	return true;
}

/*
 * The sources hand records over in batches (daemon_handle_batch), which
 * prefetches the table ahead of the record it applies: the output, the
 * table and the counters must be those of the records applied one by
 * one. 6000 sockets, 3000 at a time, so that the table grows (its
 * buckets are rehashed) inside a batch; records of a bad version and
 * kind among them.
 */
static void test_batch_same_as_single(void)
{
	static const __u8 path[] = { TCPW_CLOSE, TCPW_SYN_SENT,
				     TCPW_ESTABLISHED, TCPW_FIN_WAIT1,
				     TCPW_FIN_WAIT2, TCPW_CLOSE };
	enum { SOCKS = 6000, LIVE = 3000, MAX = SOCKS * 8 };
	static const size_t sizes[] = { 1, 7, SOURCE_BATCH, 64, 3 };
	struct tcpw_event *v = calloc(MAX, sizeof(*v));
	const struct tcpw_event *batch[SOURCE_BATCH];
	int at[LIVE] = { 0 }, next = LIVE;
	__u64 cookie[LIVE];
	struct daemon one, many;
	size_t n = 0, i, k = 0;

	if (!ASSERT_TRUE(v, "calloc") || !setup_mem(&one) ||
	    !setup_mem(&many))
		return;
	/* one clock for both: each daemon read its own, a µs apart */
	many.wc = one.wc;
	for (int s = 0; s < LIVE; s++)
		cookie[s] = 1000 + s;
	srand(2);
	while (n < MAX - 1) {
		int s = rand() % LIVE, r = rand() % 10;
		struct tcpw_event *ev = &v[n++];

		if (r == 0) {
			ev_init(ev, cookie[s], TCPW_EV_SAMPLE, path[at[s]],
				path[at[s]], 1024 + cookie[s], 80);
		} else {
			ev_init(ev, cookie[s], TCPW_EV_STATE, path[at[s]],
				path[at[s] + 1], 1024 + cookie[s], 80);
			ev->flags |= at[s] == 4 ? TCPW_F_FIN_RCVD : 0;
			at[s]++;
		}
		set_snap(ev, rand() % 1000 + 1);
		if (n % 997 == 0)
			ev->version = TCPW_ABI_VERSION + 1;
		if (n % 1009 == 0)
			ev->kind = TCPW_EV_MAX;
		if (at[s] == (int)sizeof(path) - 1) {
			if (next == SOCKS)
				break;
			cookie[s] = 1000 + next++;
			at[s] = 0;
		}
	}
	for (i = 0; i < n; i++)
		daemon_handle_event(&one, &v[i]);
	for (i = 0; i < n;) {
		size_t m = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];

		for (size_t j = 0; j < m && i + j < n; j++)
			batch[j] = &v[i + j];
		m = m < n - i ? m : n - i;
		if (!ASSERT_EQ(daemon_handle_batch(&many, batch, m), 0,
			       "daemon_handle_batch"))
			break;
		i += m;
	}
	ASSERT_GT(one.tab.mask + 1, 4096, "the table grew");
	ASSERT_EQ(many.out.len, one.out.len, "bytes written");
	ASSERT_TRUE(many.out.len == one.out.len &&
		    !memcmp(many.out.p, one.out.p, one.out.len),
		    "the same NDJSON");
	ASSERT_GT(one.bad_records, 0, "bad records fed");
	ASSERT_EQ(many.bad_records, one.bad_records, "bad records");
	ASSERT_EQ(many.tab.count, one.tab.count, "sockets in the table");
	ASSERT_TRUE(!memcmp(many.events, one.events, sizeof(one.events)),
		    "records counted by kind");
	daemon_free(&one);
	daemon_free(&many);
	free(v);
}

UNIT_MAIN(test_rst_close, test_never_lost, test_conn_records,
	  test_conn_many_resets, test_conn_vanished,
	  test_cgroup_filtered_by_source, test_batch_same_as_single)
