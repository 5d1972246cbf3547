// SPDX-License-Identifier: GPL-2.0
/* user/diag/rule_connect.c: records through the event path, a sweep. */
#include "rule_feed.h"

/* Five connects refused: connect_refused opens, not syn_unanswered. */
static void test_connect_refused(void)
{
	static const char *const opts[] = { NULL };
	struct feed f;
	const char *out;

	if (!feed_init(&f, opts))
		goto out;
	for (int i = 0; i < 5; i++) {
		__u64 t = f.t0 + 25 * SEC, c = 100 + i;

		feed_state(&f, c, t, "10.0.0.2", 0, 80, TCPW_CLOSE,
			   TCPW_SYN_SENT);
		feed(&f, TCPW_EV_RST_RECV, c, t, "10.0.0.2", 40000 + i, 80,
		     TCPW_SYN_SENT, TCPW_SYN_SENT);
		feed_state(&f, c, t, "10.0.0.2", 40000 + i, 80,
			   TCPW_SYN_SENT, TCPW_CLOSE);
	}
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"connect_refused\"", "finding");
	ASSERT_HAS(out, "\"refused\":5,", "evidence");
	ASSERT_HAS_NOT(out, "syn_unanswered", "refused, not unanswered");
out:
	feed_free(&f);
}

/* Three connects waiting in SYN_SENT after a SYN retransmit: the
 * table is the rule's input. */
static void test_syn_unanswered(void)
{
	static const char *const opts[] = { NULL };
	struct feed f;
	const char *out;

	if (!feed_init(&f, opts))
		goto out;
	for (int i = 0; i < 3; i++) {
		__u64 t = f.t0 + SEC, c = 200 + i;

		feed_state(&f, c, t, "10.0.0.4", 0, 22, TCPW_CLOSE,
			   TCPW_SYN_SENT);
		feed(&f, TCPW_EV_RETRANS, c, t + SEC, "10.0.0.4", 0, 22,
		     TCPW_SYN_SENT, TCPW_SYN_SENT);
	}
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"syn_unanswered\"", "finding");
	ASSERT_HAS(out, "\"subject\":{\"netns\":1,\"family\":\"inet\",\"daddr\":\"10.0.0.4\",\"dport\":22}",
		   "subject");
	ASSERT_HAS(out, "\"evidence\":{\"pending\":3,", "evidence");
	ASSERT_HAS(out, "\"severity\":\"warning\"", "no timeouts: warning");
out:
	feed_free(&f);
}

/* Six short connections to one peer at 0.2/s, over churn_rate=0.1. */
static void test_connection_churn(void)
{
	static const char *const opts[] = { "churn_rate=0.1", NULL };
	struct feed f;
	const char *out;

	if (!feed_init(&f, opts))
		goto out;
	for (int i = 0; i < 6; i++) {
		__u64 t = f.t0 + 20 * SEC, c = 300 + i;
		__u16 p = 33000 + i;

		feed_state(&f, c, t, "10.0.0.3", 0, 443, TCPW_CLOSE,
			   TCPW_SYN_SENT);
		feed_state(&f, c, t + 300000, "10.0.0.3", p, 443,
			   TCPW_SYN_SENT, TCPW_ESTABLISHED);
		feed_state(&f, c, t + 10 * MS, "10.0.0.3", p, 443,
			   TCPW_ESTABLISHED, TCPW_CLOSE);
	}
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"connection_churn\"", "finding");
	ASSERT_HAS(out, "\"evidence\":{\"conns\":6,", "evidence");
	ASSERT_HAS(out, "\"short_lived\":6,\"short_ms\":1000,\"connect_p50_us\":", "short-lived");
	ASSERT_HAS(out, "\"severity\":\"info\"", "info");
out:
	feed_free(&f);
}

UNIT_MAIN(test_connect_refused, test_syn_unanswered, test_connection_churn)
