// SPDX-License-Identifier: GPL-2.0
/*
 * Reconcile rounds applied per netns, as the loop applies the kernel
 * worker's dumps: a dump older than an event must not undo it, a socket
 * removed while the round ran must not come back, and a netns that was
 * not dumped (it cannot be opened any more) keeps its entries. Plus the
 * worker thread itself: jobs go and come back through its eventfd.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "unit.h"
#include "core/reconcile.h"
#include "core/table.h"
#include "kernel/kworker.h"
#include "kernel/netns.h"

static struct sock_entry *put(struct table *t, __u64 cookie, __u32 netns,
			      __u8 state, __u64 last_ns)
{
	bool created;
	struct sock_entry *e = table_get(t, cookie, &created);

	e->netns = netns;
	e->family = 2;
	e->sport = (__u16)cookie;
	e->dport = 80;
	table_set_state(t, e, state, last_ns);
	e->last_ns = last_ns;
	return e;
}

static struct sd_sock sd(__u64 cookie, __u8 state)
{
	struct sd_sock s = { .cookie = cookie, .family = 2, .state = state,
			     .sport = (__u16)cookie, .dport = 80,
			     .inode = 1000 + (__u32)cookie };
	return s;
}

static __u64 removed_cookie;
static bool was_removed(void *ctx, __u64 c)
{
	return c == removed_cookie;
}

static void test_round_keeps_newer_events(void)
{
	struct sock_filter f = { 0 };
	struct rec_round rr;
	struct table t;
	__u64 start = 1000000000ULL;

	ASSERT_EQ(table_init(&t, 64), 0, "init");
	/* 1: older than the dump, kernel says CLOSE_WAIT: corrected */
	put(&t, 1, 7, TCPW_ESTABLISHED, start - 10);
	/* 2: an event after the dump began: left alone */
	put(&t, 2, 7, TCPW_SYN_SENT, start + 10);
	/* 3: older, gone from the kernel: removed */
	put(&t, 3, 7, TCPW_ESTABLISHED, start - 10);
	/* 4: in netns 8, which this round could not dump: kept */
	put(&t, 4, 8, TCPW_ESTABLISHED, start - 10);
	removed_cookie = 5;	/* an event removed 5 during the round */
	struct sd_sock v[] = { sd(1, TCPW_CLOSE_WAIT), sd(2, TCPW_TIME_WAIT),
			       sd(5, TCPW_LAST_ACK), sd(6, TCPW_LISTEN) };

	rec_round_begin(&rr, &f, false, NULL, NULL, was_removed);
	ASSERT_EQ(rec_round_netns(&t, &rr, 7, start, v, 4), 0, "apply");
	ASSERT_EQ(rec_round_end(&t, &rr), 0, "end");
	ASSERT_EQ(table_find(&t, 1)->state, TCPW_CLOSE_WAIT, "corrected");
	ASSERT_EQ(table_find(&t, 2)->state, TCPW_SYN_SENT, "newer kept");
	ASSERT_TRUE(!table_find(&t, 3), "gone removed");
	ASSERT_TRUE(table_find(&t, 4) != NULL, "undumped netns kept");
	ASSERT_TRUE(!table_find(&t, 5), "removed during round stays out");
	ASSERT_TRUE(table_find(&t, 6) != NULL, "new one added");
	ASSERT_EQ(rr.r.changed, 1, "changed");
	ASSERT_EQ(rr.r.removed, 1, "removed");
	ASSERT_EQ(rr.r.added, 1, "added");
	table_free(&t);
}

/*
 * A big dump is applied a slice at a time, with events between slices:
 * an event on a socket of a later slice, and a socket an event removed
 * between slices, win over the older dump as they do in one go.
 */
static void test_round_in_slices(void)
{
	struct sock_filter f = { 0 };
	struct rec_round rr;
	struct table t;
	__u64 start = 1000000000ULL;
	struct sd_sock v[] = { sd(1, TCPW_ESTABLISHED),
			       sd(2, TCPW_ESTABLISHED),
			       sd(3, TCPW_ESTABLISHED) };

	ASSERT_EQ(table_init(&t, 64), 0, "init");
	put(&t, 2, 7, TCPW_ESTABLISHED, start - 10);
	put(&t, 9, 7, TCPW_ESTABLISHED, start - 10);	/* gone from the kernel */
	removed_cookie = 0;
	rec_round_begin(&rr, &f, false, NULL, NULL, was_removed);
	ASSERT_EQ(rec_round_apply(&t, &rr, 7, start, v, 1), 0, "slice 1");
	/* events between the slices: 2 closed and removed, 3 born */
	table_remove(&t, table_find(&t, 2));
	removed_cookie = 2;
	put(&t, 3, 7, TCPW_FIN_WAIT1, start + 10);
	ASSERT_EQ(rec_round_apply(&t, &rr, 7, start, v + 1, 2), 0, "slice 2");
	ASSERT_EQ(rec_round_netns_done(&rr, 7, start), 0, "done");
	ASSERT_EQ(rec_round_end(&t, &rr), 0, "end");
	ASSERT_EQ(table_find(&t, 1)->state, TCPW_ESTABLISHED, "slice 1 added");
	ASSERT_TRUE(!table_find(&t, 2), "removed between slices stays out");
	ASSERT_EQ(table_find(&t, 3)->state, TCPW_FIN_WAIT1,
		  "an event between slices wins");
	ASSERT_TRUE(!table_find(&t, 9), "gone removed at the end");
	table_free(&t);
}

/*
 * The start-up seed: a socket an event put in the table first (the
 * module's first sample walk races the seed) with no transition seen is
 * older than the daemon, seeded; one whose transition was seen is not.
 */
static void test_seed_marks_pre_existing(void)
{
	struct sock_filter f = { 0 };
	struct rec_round rr;
	struct table t;
	__u64 start = 1000000000ULL;
	struct sock_entry *born;

	ASSERT_EQ(table_init(&t, 64), 0, "init");
	put(&t, 1, 7, TCPW_ESTABLISHED, start + 10);	/* a sample made it */
	born = put(&t, 2, 7, TCPW_ESTABLISHED, start + 10);
	born->nhist = 1;				/* its connect was seen */
	struct sd_sock v[] = { sd(1, TCPW_ESTABLISHED),
			       sd(2, TCPW_ESTABLISHED) };

	rec_round_begin(&rr, &f, true, NULL, NULL, was_removed);
	ASSERT_EQ(rec_round_netns(&t, &rr, 7, start, v, 2), 0, "apply");
	ASSERT_EQ(rec_round_end(&t, &rr), 0, "end");
	ASSERT_TRUE(table_find(&t, 1)->flags & SOCK_SEEDED,
		    "first seen by a sample: seeded");
	ASSERT_FALSE(table_find(&t, 2)->flags & SOCK_SEEDED,
		     "seen born: not seeded");
	table_free(&t);
}

static void test_worker_roundtrip(void)
{
	struct kworker *w;
	struct kw_job *j;
	struct pollfd p;
	int got = 0;

	ASSERT_EQ(kw_start(&w), 0, "start");
	j = kw_job_new(KW_NETNS, 1, NULL);
	kw_submit(w, j);
	j = kw_job_new(KW_DUMP, 2, NULL);
	j->netns = 1;		/* no such netns */
	j->states = SD_ALL_STATES;
	kw_submit(w, j);
	p.fd = kw_fd(w);
	p.events = POLLIN;
	while (got < 2 && poll(&p, 1, 5000) == 1) {
		while ((j = kw_done(w))) {
			if (j->tag == 1)
				ASSERT_TRUE(j->err == 0 && j->nns >= 1,
					    "netns found");
			else
				ASSERT_EQ(j->err, -ENOENT, "unknown netns");
			got++;
			kw_job_free(j);
		}
	}
	ASSERT_EQ(got, 2, "both back");
	/* stop with a job still queued: freed, no leak */
	kw_submit(w, kw_job_new(KW_NETNS, 3, NULL));
	kw_stop(w);
}

UNIT_MAIN(test_round_keeps_newer_events, test_round_in_slices,
	  test_seed_marks_pre_existing,
	  test_worker_roundtrip)
