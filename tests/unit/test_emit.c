// SPDX-License-Identifier: GPL-2.0
/*
 * NDJSON socket records through the daemon's record path
 * (daemon_handle_event), parsed back with json-c: when a record carries
 * its "snap", and that leaving one out never loses a value (a reader
 * that keeps the last snap per cookie always has the record's).
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

UNIT_MAIN(test_rst_close, test_never_lost)
