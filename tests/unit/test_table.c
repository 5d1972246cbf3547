// SPDX-License-Identifier: GPL-2.0
/* The socket table and its TCP state bookkeeping. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "core/table.h"
#include "unit.h"

#define SEC 1000000000ULL

/*
 * Fill every fresh allocation with garbage (ASan's malloc fill), so an
 * entry read before it is initialised shows up: table_get() once grew
 * its index over a slot still holding a stale cookie.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "max_malloc_fill_size=268435456:malloc_fill_byte=190";
}

static struct tcpw_event ev(__u8 kind, __u64 cookie, __u8 old, __u8 new,
			    __u64 ts, __u16 sport, __u16 dport)
{
	struct tcpw_event e = {
		.version = TCPW_ABI_VERSION, .kind = kind, .cookie = cookie,
		.oldstate = old, .newstate = new, .ts_ns = ts,
		.family = AF_INET, .sport = sport, .dport = dport,
		.netns = 4026531840u,
	};

	e.saddr[0] = 10, e.saddr[3] = 1;
	e.daddr[0] = 10, e.daddr[3] = 2;
	return e;
}

/* the reverse direction of ev(): the peer's view */
static struct tcpw_event rev(__u8 kind, __u64 cookie, __u8 old, __u8 new,
			     __u64 ts, __u16 sport, __u16 dport)
{
	struct tcpw_event e = ev(kind, cookie, old, new, ts, sport, dport);

	e.saddr[3] = 2;
	e.daddr[3] = 1;
	return e;
}

static int apply(struct table *t, struct tcpw_event e,
		 struct apply_result *r)
{
	static struct sock_entry gone, tw;

	return table_apply(t, &e, r, &gone, &tw);
}

static void test_active_open_close_time_wait(void)
{
	struct table t;
	struct apply_result r;
	struct tcpw_event e;
	struct sock_entry *s;

	table_init(&t, 16);
	/* connect(): SYN_SENT before the source port is picked */
	e = ev(TCPW_EV_STATE, 7, TCPW_CLOSE, TCPW_SYN_SENT, 1 * SEC, 0, 80);
	e.flags = TCPW_F_OWNER;
	e.pid = 1234;
	strcpy(e.comm, "curl");
	apply(&t, e, &r);
	s = table_find(&t, 7);
	if (!ASSERT_TRUE(s, "entry after SYN_SENT"))
		goto out;
	ASSERT_EQ(s->pid, 1234, "owner from connect()");
	ASSERT_EQ(s->sport, 0, "no port yet");
	/* softirq: on-CPU task is someone else, no OWNER flag */
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_SYN_SENT, TCPW_ESTABLISHED,
		     2 * SEC, 40000, 80), &r);
	ASSERT_EQ(s->sport, 40000, "port from a later event");
	ASSERT_EQ(s->pid, 1234, "owner kept across softirq events");
	ASSERT_EQ(r.old_ns, 1 * SEC, "time in SYN_SENT");
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_ESTABLISHED, TCPW_FIN_WAIT1,
		     3 * SEC, 40000, 80), &r);
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_FIN_WAIT1, TCPW_FIN_WAIT2,
		     4 * SEC, 40000, 80), &r);
	e = ev(TCPW_EV_STATE, 7, TCPW_FIN_WAIT2, TCPW_CLOSE, 5 * SEC, 40000,
	       80);
	e.flags = TCPW_F_FIN_RCVD;
	apply(&t, e, &r);
	ASSERT_EQ(r.new, TCPW_TIME_WAIT, "FIN_WAIT2->CLOSE with FIN is TIME_WAIT");
	ASSERT_TRUE(r.inferred && !r.removed, "inferred, kept");
	s = table_find(&t, 7);
	if (!ASSERT_TRUE(s, "still in table"))
		goto out;
	ASSERT_EQ(s->state, TCPW_TIME_WAIT, "state");
	ASSERT_EQ(t.by_state[TCPW_TIME_WAIT], 1, "TIME_WAIT count");
	ASSERT_EQ(s->nhist, 5, "five transitions");
	ASSERT_EQ(s->hist[4].new, TCPW_TIME_WAIT, "history ends in TIME_WAIT");
	ASSERT_EQ(s->hist[1].ms, 1000, "ms since birth");
	ASSERT_EQ(table_expire(&t, 64 * SEC, NULL, NULL), 0, "not yet");
	ASSERT_EQ(table_expire(&t, 65 * SEC, NULL, NULL), 1, "after 60 s");
	ASSERT_FALSE(table_find(&t, 7), "gone");
	ASSERT_EQ(t.count, 0, "table empty");
	ASSERT_EQ(t.by_state[TCPW_TIME_WAIT], 0, "no TIME_WAIT left");
out:
	table_free(&t);
}

static void test_passive_inherits_listener_owner(void)
{
	struct table t;
	struct apply_result r;
	struct tcpw_event e;
	struct sock_entry *s;

	table_init(&t, 16);
	e = ev(TCPW_EV_STATE, 1, TCPW_CLOSE, TCPW_LISTEN, SEC, 80, 0);
	e.flags = TCPW_F_OWNER;
	e.pid = 99;
	strcpy(e.comm, "nginx");
	apply(&t, e, &r);
	ASSERT_TRUE(table_listener(&t, e.netns, AF_INET, 80), "listener indexed");
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_LISTEN, TCPW_SYN_RECV, 2 * SEC,
		     80, 40000), &r);
	s = table_find(&t, 2);
	if (!ASSERT_TRUE(s, "child"))
		goto out;
	ASSERT_EQ(s->pid, 99, "child owner = listener owner");
	ASSERT_EQ(s->owner_src, OWNER_LISTENER, "owner source");
	ASSERT_EQ(s->state, TCPW_SYN_RECV, "SYN_RECV");
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_SYN_RECV, TCPW_ESTABLISHED,
		     2 * SEC, 80, 40000), &r);
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT,
		     3 * SEC, 80, 40000), &r);
	ASSERT_EQ(t.by_state[TCPW_CLOSE_WAIT], 1, "CLOSE_WAIT counted");
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_CLOSE_WAIT, TCPW_LAST_ACK,
		     4 * SEC, 80, 40000), &r);
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_LAST_ACK, TCPW_CLOSE, 5 * SEC,
		     80, 40000), &r);
	ASSERT_TRUE(r.removed, "LAST_ACK->CLOSE removes");
	ASSERT_EQ(r.e->pid, 99, "removed copy keeps owner");
	ASSERT_FALSE(table_find(&t, 2), "child gone");
	/* closing the listener drops it from the index */
	apply(&t, ev(TCPW_EV_STATE, 1, TCPW_LISTEN, TCPW_CLOSE, 6 * SEC, 80,
		     0), &r);
	ASSERT_FALSE(table_listener(&t, e.netns, AF_INET, 80), "unindexed");
	ASSERT_EQ(t.count, 0, "empty");
	ASSERT_EQ(t.listeners.count, 0, "listener index empty");
out:
	table_free(&t);
}

/* 6.1: the child's LISTEN -> SYN_RECV arrives naming the listener. */
static void test_child_announced_on_listener(void)
{
	struct table t;
	struct apply_result r;
	struct tcpw_event e;
	struct sock_entry *s;

	table_init(&t, 16);
	e = ev(TCPW_EV_STATE, 1, TCPW_CLOSE, TCPW_LISTEN, SEC, 80, 0);
	e.flags = TCPW_F_OWNER;
	e.pid = 99;
	apply(&t, e, &r);
	/* listener's cookie and tuple, as inet_csk_clone_lock() has it */
	apply(&t, ev(TCPW_EV_STATE, 1, TCPW_LISTEN, TCPW_SYN_RECV, 2 * SEC,
		     80, 0), &r);
	ASSERT_TRUE(r.suppressed, "not applied to the listener");
	ASSERT_EQ(table_find(&t, 1)->state, TCPW_LISTEN, "listener untouched");
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_SYN_RECV, TCPW_ESTABLISHED,
		     2 * SEC, 80, 40000), &r);
	ASSERT_TRUE(r.child_born, "child created, SYN_RECV implied");
	s = table_find(&t, 2);
	if (!ASSERT_TRUE(s, "child"))
		goto out;
	ASSERT_EQ(s->pid, 99, "inherits the listener's owner");
	ASSERT_EQ(s->nhist, 2, "LISTEN>SYN_RECV and SYN_RECV>ESTABLISHED");
	ASSERT_EQ(s->hist[0].old, TCPW_LISTEN, "first transition from LISTEN");
out:
	table_free(&t);
}

static void test_orphan_fin_wait2_then_peer_fin(void)
{
	struct table t;
	struct apply_result r;
	struct sock_entry *s;

	table_init(&t, 16);
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_SYN_SENT, TCPW_ESTABLISHED, SEC,
		     40000, 80), &r);
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_ESTABLISHED, TCPW_FIN_WAIT1,
		     2 * SEC, 40000, 80), &r);
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_FIN_WAIT1, TCPW_FIN_WAIT2,
		     2 * SEC, 40000, 80), &r);
	/* closed by its owner, no FIN from the peer yet */
	apply(&t, ev(TCPW_EV_STATE, 7, TCPW_FIN_WAIT2, TCPW_CLOSE, 2 * SEC,
		     40000, 80), &r);
	s = table_find(&t, 7);
	if (!ASSERT_TRUE(s, "kept as timewait FIN_WAIT2"))
		goto out;
	ASSERT_EQ(s->state, TCPW_FIN_WAIT2, "state FIN_WAIT2");
	ASSERT_TRUE(s->flags & SOCK_TW, "timewait socket");
	/* the local peer (cookie 8) was in CLOSE_WAIT and now closes */
	apply(&t, rev(TCPW_EV_STATE, 8, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT,
		      2 * SEC, 80, 40000), &r);
	apply(&t, rev(TCPW_EV_STATE, 8, TCPW_CLOSE_WAIT, TCPW_LAST_ACK,
		      10 * SEC, 80, 40000), &r);
	ASSERT_TRUE(r.tw_promoted, "peer FIN promotes");
	ASSERT_EQ(s->state, TCPW_TIME_WAIT, "now TIME_WAIT");
	ASSERT_EQ(s->expire_ns, 70 * SEC, "60 s from the peer's FIN");
	/* the stale FIFO item (2 s + 60 s) must not expire it early */
	ASSERT_EQ(table_expire(&t, 63 * SEC, NULL, NULL), 0, "stale item skipped");
	ASSERT_TRUE(table_find(&t, 7), "still there at 63 s");
	ASSERT_EQ(table_expire(&t, 70 * SEC, NULL, NULL), 1, "expires at 70 s");
out:
	table_free(&t);
}

static void test_reset_and_closing(void)
{
	struct table t;
	struct apply_result r;
	struct tcpw_event e;

	table_init(&t, 16);
	/* RST: no TIME_WAIT even from FIN_WAIT2 with a FIN */
	apply(&t, ev(TCPW_EV_STATE, 1, TCPW_SYN_SENT, TCPW_ESTABLISHED, SEC,
		     1, 2), &r);
	apply(&t, ev(TCPW_EV_RST_RECV, 1, TCPW_ESTABLISHED, TCPW_ESTABLISHED,
		     SEC, 1, 2), &r);
	ASSERT_EQ(table_find(&t, 1)->rst_recv, 1, "reset counted");
	e = ev(TCPW_EV_STATE, 1, TCPW_FIN_WAIT2, TCPW_CLOSE, SEC, 1, 2);
	e.flags = TCPW_F_FIN_RCVD;
	apply(&t, e, &r);
	ASSERT_TRUE(r.removed, "reset close removes");
	ASSERT_EQ(r.new, TCPW_CLOSE, "CLOSE, not TIME_WAIT");
	/* simultaneous close: CLOSING -> CLOSE is TIME_WAIT */
	apply(&t, ev(TCPW_EV_STATE, 3, TCPW_FIN_WAIT1, TCPW_CLOSING, SEC, 5,
		     6), &r);
	apply(&t, ev(TCPW_EV_STATE, 3, TCPW_CLOSING, TCPW_CLOSE, SEC, 5, 6),
	      &r);
	ASSERT_EQ(r.new, TCPW_TIME_WAIT, "CLOSING -> TIME_WAIT");
	/* a reset from a timewait socket kills it */
	apply(&t, ev(TCPW_EV_RST_SENT, 3, TCPW_TIME_WAIT, TCPW_TIME_WAIT, SEC,
		     5, 6), &r);
	ASSERT_TRUE(r.removed, "tw killed by its reset");
	ASSERT_EQ(t.count, 0, "empty");
	/* unknown sockets closing, and resets without a socket: ignored */
	apply(&t, ev(TCPW_EV_STATE, 9, TCPW_SYN_SENT, TCPW_CLOSE, SEC, 1, 2),
	      &r);
	e = ev(TCPW_EV_RST_SENT, 0, TCPW_CLOSE, TCPW_CLOSE, SEC, 1, 2);
	e.flags = TCPW_F_NOSOCK;
	apply(&t, e, &r);
	ASSERT_EQ(t.count, 0, "nothing tracked");
	/* a retransmit on a socket the table missed creates it */
	apply(&t, ev(TCPW_EV_RETRANS, 11, TCPW_SYN_SENT, TCPW_SYN_SENT, SEC,
		     7, 8), &r);
	ASSERT_TRUE(r.created, "created from a retransmit");
	ASSERT_EQ(table_find(&t, 11)->retrans, 1, "counted");
	table_free(&t);
}

static void test_time_wait_reuse(void)
{
	struct table t;
	struct apply_result r;
	struct tcpw_event e;

	table_init(&t, 16);
	/* server side of an old connection in TIME_WAIT (it closed first) */
	apply(&t, ev(TCPW_EV_STATE, 1, TCPW_ESTABLISHED, TCPW_FIN_WAIT1, SEC,
		     80, 40000), &r);
	e = ev(TCPW_EV_STATE, 1, TCPW_FIN_WAIT2, TCPW_CLOSE, SEC, 80, 40000);
	e.flags = TCPW_F_FIN_RCVD;
	apply(&t, e, &r);
	ASSERT_EQ(t.by_state[TCPW_TIME_WAIT], 1, "in TIME_WAIT");
	/* a new SYN on the same 4-tuple takes the TIME_WAIT over */
	apply(&t, ev(TCPW_EV_STATE, 2, TCPW_LISTEN, TCPW_SYN_RECV, 2 * SEC, 80,
		     40000), &r);
	ASSERT_TRUE(r.tw_ended, "old TIME_WAIT ended");
	ASSERT_FALSE(table_find(&t, 1), "old cookie gone");
	ASSERT_EQ(t.count, 1, "only the new connection");
	ASSERT_EQ(t.tw_tuples.count, 0, "tuple index empty");
	table_free(&t);
}

/* Every chain holds live entries of its own bucket; chains add up. */
static bool index_consistent(struct table *t)
{
	__u32 seen = 0;

	for (__u32 b = 0; b <= t->mask; b++) {
		for (__u32 i = t->heads[b]; i != TABLE_NIL; i = t->v[i].next) {
			if (i >= t->used || !t->v[i].cookie ||
			    table_find(t, t->v[i].cookie) != &t->v[i] ||
			    ++seen > t->count)
				return false;
		}
	}
	return seen == t->count;
}

static void test_scale_and_memory(void)
{
	struct table t;
	struct apply_result r;
	const __u32 n = 300000;
	int missing = 0;
	__u32 states = 0;

	table_init(&t, 16);
	for (__u32 i = 1; i <= n; i++)
		apply(&t, ev(TCPW_EV_STATE, i * 4099ULL, TCPW_SYN_SENT,
			     TCPW_ESTABLISHED, SEC, i & 0xffff, 80), &r);
	ASSERT_EQ(t.count, n, "all inserted");
	ASSERT_TRUE(index_consistent(&t), "hash index consistent after growth");
	for (__u32 i = 1; i <= n; i++)
		missing += !table_find(&t, i * 4099ULL);
	ASSERT_EQ(missing, 0, "all found");
	for (__u32 i = 1; i <= n; i += 2)
		apply(&t, ev(TCPW_EV_STATE, i * 4099ULL, TCPW_ESTABLISHED,
			     TCPW_CLOSE, SEC, i & 0xffff, 80), &r);
	ASSERT_EQ(t.count, n / 2, "half removed");
	ASSERT_TRUE(index_consistent(&t), "hash index consistent after removal");
	for (int s = 0; s < TCPW_STATE_MAX; s++)
		states += t.by_state[s];
	ASSERT_EQ(states, t.count, "state counts add up");
	/* freed slots are reused, not leaked */
	for (__u32 i = 1; i <= n; i += 2)
		apply(&t, ev(TCPW_EV_STATE, (n + i) * 4099ULL, TCPW_SYN_SENT,
			     TCPW_ESTABLISHED, SEC, 1, 80), &r);
	ASSERT_EQ(t.used, n, "slab did not grow");
	/* bytes per tracked connection: entry + hash index */
	ASSERT_LE(sizeof(struct sock_entry) +
		  (t.mask + 1) * sizeof(__u32) / t.count, 256,
		  "bytes per socket");
	printf("  sizeof(sock_entry) = %zu, index %zu bytes/socket\n",
	       sizeof(struct sock_entry),
	       (size_t)((t.mask + 1) * sizeof(__u32) / t.count));
	table_free(&t);
}

UNIT_MAIN(test_active_open_close_time_wait,
	  test_passive_inherits_listener_owner,
	  test_child_announced_on_listener,
	  test_orphan_fin_wait2_then_peer_fin, test_reset_and_closing,
	  test_time_wait_reuse, test_scale_and_memory)
