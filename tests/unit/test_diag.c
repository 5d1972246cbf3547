// SPDX-License-Identifier: GPL-2.0
/*
 * The diagnostics' arithmetic, fed through the daemon's own record path
 * (daemon_handle_event): thresholds parsing, per-peer counting, the
 * connect-latency percentiles and the rate windows. The rules against
 * real sockets are in tests/integration/test_diag_*.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "core/daemon.h"
#include "core/emit.h"
#include "diag/sweep.h"

#define NETNS	4026531840u
#define MS	1000000ULL

static __u64 next_cookie = 1000;

static void ev_init(struct tcpw_event *ev, __u8 kind, __u64 cookie,
		    __u64 ts, __u16 sport, __u16 dport)
{
	memset(ev, 0, sizeof(*ev));
	ev->version = TCPW_ABI_VERSION;
	ev->kind = kind;
	ev->cookie = cookie;
	ev->ts_ns = ts;
	ev->netns = NETNS;
	ev->family = AF_INET;
	ev->sport = sport;
	ev->dport = dport;
	inet_pton(AF_INET, "10.0.0.1", ev->saddr);
	inet_pton(AF_INET, "10.0.0.2", ev->daddr);
}

static void state(struct daemon *d, __u64 cookie, __u64 ts, __u16 sport,
		  __u8 old, __u8 new)
{
	struct tcpw_event ev;

	ev_init(&ev, TCPW_EV_STATE, cookie, ts, sport, 80);
	ev.oldstate = old;
	ev.newstate = new;
	ev.flags = TCPW_F_SNAPSHOT;
	daemon_handle_event(d, &ev);
}

/* One client connection to 10.0.0.2:80 with this connect latency. */
static void connect_once(struct daemon *d, __u64 t0, __u64 lat_us,
			 __u64 life_ms)
{
	__u64 c = next_cookie++;
	__u16 port = (__u16)(30000 + c % 20000);

	state(d, c, t0, 0, TCPW_CLOSE, TCPW_SYN_SENT);
	state(d, c, t0 + lat_us * 1000, port, TCPW_SYN_SENT,
	      TCPW_ESTABLISHED);
	state(d, c, t0 + lat_us * 1000 + life_ms * MS, port,
	      TCPW_ESTABLISHED, TCPW_CLOSE);
}

static struct agg *dest(struct daemon *d)
{
	__u8 a[16] = { 0 };

	inet_pton(AF_INET, "10.0.0.2", a);
	return agg_find(&d->diag, AGG_DEST, NETNS, AF_INET, a, 80);
}

static void test_thresholds(void)
{
	struct diag_opts o;
	char err[256];

	diag_opts_default(&o);
	ASSERT_EQ(o.close_wait_s, 60, "default close_wait_s");
	ASSERT_EQ(diag_opts_set(&o, "close_wait_s=5", err, sizeof(err)), 0,
		  "set close_wait_s");
	ASSERT_EQ(o.close_wait_s, 5, "close_wait_s set");
	ASSERT_EQ(diag_opts_set(&o, "tw_fraction=0.25", err, sizeof(err)), 0,
		  "set a real");
	ASSERT_TRUE(o.tw_fraction == 0.25, "tw_fraction set");
	ASSERT_EQ(diag_opts_set(&o, "close_wait_s=1.5", err, sizeof(err)),
		  -EINVAL, "an integer key refuses a fraction");
	ASSERT_EQ(diag_opts_set(&o, "tw_fraction=2", err, sizeof(err)),
		  -EINVAL, "out of range");
	ASSERT_TRUE(strstr(err, "0..1") != NULL, "the range is named");
	ASSERT_EQ(diag_opts_set(&o, "nope=1", err, sizeof(err)), -EINVAL,
		  "unknown key");
	ASSERT_TRUE(strstr(err, "unknown threshold") != NULL,
		    "unknown key message");
	ASSERT_EQ(diag_opts_set(&o, "close_wait_s", err, sizeof(err)),
		  -EINVAL, "missing value");
	ASSERT_EQ(diag_opts_set(&o, "sweep_ms=", err, sizeof(err)), -EINVAL,
		  "empty value");
	ASSERT_EQ(o.close_wait_s, 5, "a bad value leaves the old one");
}

/* p50 and p99 within one bucket (12.5%) of the exact order statistic. */
static void test_connect_latency(void)
{
	struct daemon d;
	struct agg *a;
	__u64 n, p50, p99, t = 1000 * MS;

	if (!ASSERT_EQ(daemon_init_offline(&d, -1), 0, "init"))
		return;
	/* 1..1000 µs, each once, in a shuffled order */
	for (__u64 i = 0; i < 1000; i++)
		connect_once(&d, t + i * MS, (i * 7919) % 1000 + 1, 5);
	a = dest(&d);
	if (!ASSERT_TRUE(a != NULL, "peer aggregate exists"))
		goto out;
	p50 = agg_lat_pct(a, 50, &n);
	p99 = agg_lat_pct(a, 99, &n);
	ASSERT_EQ(n, 1000, "samples");
	ASSERT_TRUE(p50 >= 500 * 7 / 8 && p50 <= 500 * 9 / 8, "p50 ~ 500");
	ASSERT_TRUE(p99 >= 990 * 7 / 8 && p99 <= 990 * 9 / 8, "p99 ~ 990");
	ASSERT_EQ(a->cur.conns + a->prev.conns, 1000, "connects counted");
	ASSERT_EQ(a->cur.short_lived + a->prev.short_lived, 1000,
		  "5 ms connections are short-lived");
out:
	daemon_free(&d);
}

/* Counts move from cur to prev, then age out. */
static void test_windows(void)
{
	struct daemon d;
	struct agg *a;
	__u64 t = 1000 * MS, w;

	if (!ASSERT_EQ(daemon_init_offline(&d, -1), 0, "init"))
		return;
	w = d.diag.o.window_s * 1000 * MS;
	for (int i = 0; i < 10; i++)
		connect_once(&d, t + i * MS, 100, 1);
	a = dest(&d);
	if (!ASSERT_TRUE(a != NULL, "aggregate"))
		goto out;
	agg_roll(&d.diag, a, t + w + 20 * MS);
	ASSERT_EQ(a->cur.conns, 0, "new window starts empty");
	ASSERT_EQ(a->prev.conns, 10, "last window kept");
	agg_roll(&d.diag, a, t + 3 * w);
	ASSERT_EQ(a->prev.conns + a->cur.conns, 0,
		  "gone after two idle windows");
	agg_gc(&d.diag, t + 3 * w);
	ASSERT_TRUE(dest(&d) == NULL, "idle aggregate collected");
	ASSERT_EQ(d.diag.count, 0, "no aggregates left");
out:
	daemon_free(&d);
}

/* Refused (RST in SYN_SENT) vs given up (SYN retransmitted, no RST). */
static void test_refused_vs_unanswered(void)
{
	struct tcpw_event ev;
	struct daemon d;
	struct agg *a;
	__u64 t = 1000 * MS, c1 = next_cookie++, c2 = next_cookie++;

	if (!ASSERT_EQ(daemon_init_offline(&d, -1), 0, "init"))
		return;
	state(&d, c1, t, 0, TCPW_CLOSE, TCPW_SYN_SENT);
	ev_init(&ev, TCPW_EV_RST_RECV, c1, t + MS, 40000, 80);
	ev.oldstate = ev.newstate = TCPW_SYN_SENT;
	daemon_handle_event(&d, &ev);
	state(&d, c1, t + MS, 40000, TCPW_SYN_SENT, TCPW_CLOSE);

	state(&d, c2, t, 0, TCPW_CLOSE, TCPW_SYN_SENT);
	ev_init(&ev, TCPW_EV_RETRANS, c2, t + 1000 * MS, 40001, 80);
	ev.oldstate = ev.newstate = TCPW_SYN_SENT;
	daemon_handle_event(&d, &ev);
	state(&d, c2, t + 3000 * MS, 40001, TCPW_SYN_SENT, TCPW_CLOSE);

	a = dest(&d);
	if (!ASSERT_TRUE(a != NULL, "aggregate"))
		goto out;
	ASSERT_EQ(a->cur.refused + a->prev.refused, 1, "one refused");
	ASSERT_EQ(a->cur.timeouts + a->prev.timeouts, 1, "one given up");
	ASSERT_EQ(a->cur.syn_retrans + a->prev.syn_retrans, 1,
		  "one SYN retransmit");
	/* the refusing reset is not a reset storm's */
	{
		__u8 h[16] = { 0 };

		inet_pton(AF_INET, "10.0.0.2", h);
		ASSERT_TRUE(agg_find(&d.diag, AGG_HOST, NETNS, AF_INET, h,
				     0) == NULL, "no host aggregate");
	}
out:
	daemon_free(&d);
}

UNIT_MAIN(test_thresholds, test_connect_latency, test_windows,
	  test_refused_vs_unanswered)
