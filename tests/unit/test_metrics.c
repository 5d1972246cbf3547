// SPDX-License-Identifier: GPL-2.0
/*
 * user/metrics/: records through the event path into the counters, a
 * snapshot built by the loop's pass, rendered as the exposition text.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rule_feed.h"
#include "metrics/collect.h"

static struct collector *col;

static void count_event(struct daemon *d, const struct tcpw_event *ev,
			const struct apply_result *res)
{
	metrics_count(collect_counts(col), ev, res);
}

static const struct daemon_module counter = {
	.name = "test-metrics",
	.event = count_event,
};

static char *text;

/* A whole pass and its rendering; NULL on failure. */
static const char *scrape(void)
{
	struct msnap *s = NULL;
	size_t len;
	FILE *f;

	free(text);
	text = NULL;
	collect_start(col);
	for (int i = 0; i < 100 && !s; i++)
		s = collect_step(col);
	if (!ASSERT_TRUE(s, "a pass ends with a snapshot"))
		return NULL;
	f = open_memstream(&text, &len);
	metrics_render(f, s);
	fclose(f);
	msnap_free(s);
	return text;
}

static bool setup(struct feed *f, __u32 topk, bool own_netns)
{
	struct metrics_opts o = { .listen = "0", .topk = topk };

	if (!feed_init(f, NULL) || (own_netns && !feed_own_netns(f)))
		return false;
	col = collect_new(&f->d, &o);
	return ASSERT_TRUE(col, "collector") &&
	       ASSERT_EQ(daemon_add_module(&f->d, &counter), 0, "module");
}

static void teardown(struct feed *f)
{
	feed_free(f);
	collect_free(col);
	col = NULL;
	free(text);
	text = NULL;
}

/* Connects by result, their durations, transitions, resets. */
static void test_metrics_connections(void)
{
	struct feed f;
	const char *out;
	__u64 t;

	if (!setup(&f, 10, false))
		goto out;
	t = f.t0 + SEC;
	/* established in 1 ms and in 2 s */
	feed_state(&f, 1, t, "10.0.0.2", 0, 80, TCPW_CLOSE, TCPW_SYN_SENT);
	feed_state(&f, 1, t + MS, "10.0.0.2", 40001, 80, TCPW_SYN_SENT,
		   TCPW_ESTABLISHED);
	feed_state(&f, 2, t, "10.0.0.2", 0, 80, TCPW_CLOSE, TCPW_SYN_SENT);
	feed_state(&f, 2, t + 2 * SEC, "10.0.0.2", 40002, 80, TCPW_SYN_SENT,
		   TCPW_ESTABLISHED);
	/* refused: the reset, then the close */
	feed_state(&f, 3, t, "10.0.0.3", 0, 81, TCPW_CLOSE, TCPW_SYN_SENT);
	feed(&f, TCPW_EV_RST_RECV, 3, t, "10.0.0.3", 40003, 81,
	     TCPW_SYN_SENT, TCPW_SYN_SENT);
	feed_state(&f, 3, t, "10.0.0.3", 40003, 81, TCPW_SYN_SENT, TCPW_CLOSE);
	/* given up after a SYN retransmit */
	feed_state(&f, 4, t, "10.0.0.4", 0, 82, TCPW_CLOSE, TCPW_SYN_SENT);
	feed(&f, TCPW_EV_RETRANS, 4, t + SEC, "10.0.0.4", 40004, 82,
	     TCPW_SYN_SENT, TCPW_SYN_SENT);
	feed_state(&f, 4, t + 3 * SEC, "10.0.0.4", 40004, 82, TCPW_SYN_SENT,
		   TCPW_CLOSE);
	/* abandoned by the application before any retransmit: neither */
	feed_state(&f, 5, t, "10.0.0.5", 0, 83, TCPW_CLOSE, TCPW_SYN_SENT);
	feed_state(&f, 5, t + MS, "10.0.0.5", 40005, 83, TCPW_SYN_SENT,
		   TCPW_CLOSE);
	out = scrape();
	if (!out)
		goto out;
	ASSERT_HAS(out, "\ntcpwatch_connections_total{direction=\"active\",result=\"established\"} 2\n", "established");
	ASSERT_HAS(out, "\ntcpwatch_connections_total{direction=\"active\",result=\"refused\"} 1\n", "refused");
	ASSERT_HAS(out, "\ntcpwatch_connections_total{direction=\"active\",result=\"timeout\"} 1\n", "timeout");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_bucket{le=\"0.0005\"} 0\n", "1 ms is not under 0.5 ms");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_bucket{le=\"0.001\"} 1\n", "1 ms");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_bucket{le=\"1\"} 1\n", "cumulative");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_bucket{le=\"2.5\"} 2\n", "2 s");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_bucket{le=\"+Inf\"} 2\n", "+Inf");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_sum 2.001\n", "sum");
	ASSERT_HAS(out, "\ntcpwatch_connect_duration_seconds_count 2\n", "count");
	ASSERT_HAS(out, "\ntcpwatch_transitions_total{from=\"SYN_SENT\",to=\"ESTABLISHED\"} 2\n", "transitions");
	ASSERT_HAS(out, "\ntcpwatch_transitions_total{from=\"SYN_SENT\",to=\"CLOSE\"} 3\n", "transitions to CLOSE");
	ASSERT_HAS(out, "\ntcpwatch_resets_total{direction=\"received\"} 1\n", "resets");
	ASSERT_HAS(out, "\ntcpwatch_retransmits_total 1\n", "retransmits");
	ASSERT_HAS(out, "\ntcpwatch_sockets{state=\"ESTABLISHED\"} 2\n", "sockets");
	ASSERT_HAS(out, "\ntcpwatch_findings{rule=\"connect_refused\",severity=\"warning\"} 0\n", "findings: every rule");
out:
	teardown(&f);
}

/* Ports held per destination: the K largest, as a ratio of the range;
 * no ephemeral port, pid or cookie is ever a label. */
static void test_metrics_ephemeral_topk(void)
{
	char want[256], da[16];
	struct feed f;
	const char *out;
	__u64 c = 1, t;
	int n = 0;

	if (!setup(&f, 3, true))
		goto out;
	t = f.t0 + SEC;
	/* destination i (1..5) holds i ports */
	for (int i = 1; i <= 5; i++) {
		snprintf(da, sizeof(da), "10.0.1.%d", i);
		for (int j = 0; j < i; j++, c++)
			feed_state(&f, c, t, da, f.lo + c, 443, TCPW_SYN_SENT,
				   TCPW_ESTABLISHED);
	}
	out = scrape();
	if (!out)
		goto out;
	for (const char *p = out; (p = strstr(p, "\ntcpwatch_ephemeral_ports_used_ratio{")); p++)
		n++;
	ASSERT_EQ(n, 3, "top 3 destinations only");
	snprintf(want, sizeof(want),
		 "\ntcpwatch_ephemeral_ports_used_ratio{netns=\"%u\",daddr=\"10.0.1.5\",dport=\"443\"} %.15g\n",
		 f.netns, 5.0 / (f.hi - f.lo + 1));
	ASSERT_HAS(out, want, "the largest first, ratio of the range");
	ASSERT_HAS_NOT(out, "daddr=\"10.0.1.2\"", "not in the top 3");
	ASSERT_HAS_NOT(out, "sport=", "no local port label");
	ASSERT_HAS_NOT(out, "pid=", "no pid label");
	ASSERT_HAS_NOT(out, "cookie=", "no cookie label");
out:
	teardown(&f);
}

static void test_metrics_listen_address(void)
{
	static const char *const good[] = {
		"9464", "127.0.0.1:9464", "0.0.0.0:1", "[::1]:9464",
		"[::]:65535", "localhost:80",
	};
	static const char *const bad[] = {
		"", "0", "65536", "x", "host:80", "[::1", "1.2.3.4:",
		":80", "127.0.0.1:80x", "::1:80x",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ASSERT_EQ(metrics_parse_listen(good[i]), 0, good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_NEQ(metrics_parse_listen(bad[i]), 0, bad[i]);
}

UNIT_MAIN(test_metrics_connections, test_metrics_ephemeral_topk,
	  test_metrics_listen_address)
