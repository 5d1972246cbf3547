// SPDX-License-Identifier: GPL-2.0
/* user/diag/rule_host.c: records through the event path, a sweep. */
#include "rule_feed.h"

/* Resets sent to one host, over rst_rate. */
static void test_reset_storm(void)
{
	static const char *const opts[] = { "rst_rate=0.1", NULL };
	struct feed f;
	const char *out;

	if (!feed_init(&f, opts))
		goto out;
	for (int i = 0; i < 6; i++) {
		__u64 t = f.t0 + 20 * SEC, c = 100 + i;

		feed_state(&f, c, t, "10.0.0.3", 33000 + i, 443,
			   TCPW_SYN_SENT, TCPW_ESTABLISHED);
		feed(&f, TCPW_EV_RST_SENT, c, t + MS, "10.0.0.3", 33000 + i,
		     443, TCPW_ESTABLISHED, TCPW_ESTABLISHED);
	}
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"reset_storm\"", "finding");
	ASSERT_HAS(out, "\"subject\":{\"netns\":1,\"family\":\"inet\",\"daddr\":\"10.0.0.3\"}",
		   "subject: the host");
	ASSERT_HAS(out, "\"evidence\":{\"rst_sent\":6,\"rst_recv\":0,",
		   "evidence");
out:
	feed_free(&f);
}

/* Retransmits to one host over retrans_rate; no data segments known:
 * the fraction is null and the rule reports. */
static void test_retransmit_hotspot(void)
{
	static const char *const opts[] = { "retrans_rate=0.1", NULL };
	struct feed f;
	const char *out;

	if (!feed_init(&f, opts))
		goto out;
	for (int i = 0; i < 6; i++) {
		__u64 t = f.t0 + 20 * SEC, c = 200 + i;

		feed_state(&f, c, t, "10.0.0.5", 34000 + i, 443,
			   TCPW_SYN_SENT, TCPW_ESTABLISHED);
		feed(&f, TCPW_EV_RETRANS, c, t + MS, "10.0.0.5", 34000 + i,
		     443, TCPW_ESTABLISHED, TCPW_ESTABLISHED);
	}
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"retransmit_hotspot\"", "finding");
	ASSERT_HAS(out, "\"evidence\":{\"retrans\":6,", "evidence");
	ASSERT_HAS(out, "\"fraction\":null", "fraction unknown");
	ASSERT_HAS(out, "\"segs\":0,\"segs_retrans\":0,", "no segments");
out:
	feed_free(&f);
}

UNIT_MAIN(test_reset_storm, test_retransmit_hotspot)
