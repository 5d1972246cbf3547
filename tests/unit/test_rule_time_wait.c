// SPDX-License-Identifier: GPL-2.0
/*
 * user/diag/rule_time_wait.c: active closes through the event path in
 * this process's netns (its real ephemeral range), a sweep.
 */
#include "rule_feed.h"

static void test_time_wait_exhaustion(void)
{
	static const char *const opts[] = { "tw_fraction=0.0001", NULL };
	struct feed f;
	const char *out;
	__u32 lo;

	if (!feed_init(&f, opts) || !feed_own_netns(&f))
		goto out;
	lo = f.lo;
	for (int i = 0; i < 4; i++) {
		__u64 t = f.t0 + 20 * SEC, c = 100 + i;
		__u16 p = (__u16)(lo + i);

		feed_state(&f, c, t, "10.0.0.3", 0, 443, TCPW_CLOSE,
			   TCPW_SYN_SENT);
		feed_state(&f, c, t + MS, "10.0.0.3", p, 443, TCPW_SYN_SENT,
			   TCPW_ESTABLISHED);
		feed_state(&f, c, t + 2 * MS, "10.0.0.3", p, 443,
			   TCPW_ESTABLISHED, TCPW_FIN_WAIT1);
		feed_state(&f, c, t + 3 * MS, "10.0.0.3", p, 443,
			   TCPW_FIN_WAIT1, TCPW_FIN_WAIT2);
		feed_state(&f, c, t + 4 * MS, "10.0.0.3", p, 443,
			   TCPW_FIN_WAIT2, TCPW_TIME_WAIT);
	}
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"time_wait_exhaustion\"", "finding");
	ASSERT_HAS(out, "\"daddr\":\"10.0.0.3\",\"dport\":443}", "subject");
	ASSERT_HAS(out, "\"evidence\":{\"time_wait\":4,\"in_use\":4,",
		   "evidence");
	ASSERT_HAS(out, "\"active_closer\":\"local\",\"time_wait_s\":60}",
		   "a name and a number after it");
out:
	feed_free(&f);
}

UNIT_MAIN(test_time_wait_exhaustion)
