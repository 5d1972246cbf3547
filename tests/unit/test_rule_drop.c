// SPDX-License-Identifier: GPL-2.0
/*
 * user/diag/rule_drop.c and the drop half of syn_unanswered: DROP
 * records through the event path, a sweep. The reason names are set as
 * a source sets them from the kernel (here: by hand, the source is a
 * stub).
 */
#include "rule_feed.h"

#define R_CSUM		10
#define R_NETFILTER	12
#define R_UNNAMED	77

static void stub_close(struct source *s)
{
	(void)s;
}

static const struct source_ops stub_ops = { .name = "stub",
					    .close = stub_close };
static struct source stub = { .ops = &stub_ops };

static bool with_names(struct feed *f)
{
	f->d.src = &stub;
	return ASSERT_EQ(source_set_reason(&stub, R_CSUM, "TCP_CSUM"), 0,
			 "name") &&
	       ASSERT_EQ(source_set_reason(&stub, R_NETFILTER,
					   "NETFILTER_DROP"), 0, "name");
}

static void done(struct feed *f)
{
	f->d.src = NULL;
	source_free_reasons(&stub);
	feed_free(f);
}

/* A drop record, oriented to our side: saddr:sport is 10.0.0.1's. */
static void drop(struct feed *f, __u64 ts, __u32 reason, __u32 count,
		 __u16 sport, __u16 dport, __u8 flags, __u8 state)
{
	struct tcpw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.version = TCPW_ABI_VERSION;
	ev.kind = TCPW_EV_DROP;
	ev.ts_ns = ts;
	ev.netns = f->netns;
	ev.family = AF_INET;
	ev.sport = sport;
	ev.dport = dport;
	ev.oldstate = ev.newstate = state;
	ev.flags = flags;
	ev.reason = reason;
	ev.count = count;
	inet_pton(AF_INET, "10.0.0.1", ev.saddr);
	inet_pton(AF_INET, "10.0.0.2", ev.daddr);
	daemon_handle_event(&f->d, &ev);
}

/* Bad checksums in two records (1 + 4 folded): a finding in words;
 * a reason the words do not know, and one below drop_min: none. */
static void test_packet_drops(void)
{
	struct feed f;
	const char *out;

	if (!feed_init(&f, NULL) || !with_names(&f))
		goto out;
	drop(&f, f.t0 + 25 * SEC, R_CSUM, 1, 8080, 40000, TCPW_F_NOSOCK,
	     TCPW_CLOSE);
	drop(&f, f.t0 + 26 * SEC, R_CSUM, 4, 8080, 40000, TCPW_F_NOSOCK,
	     TCPW_CLOSE);
	drop(&f, f.t0 + 26 * SEC, R_UNNAMED, 9, 8081, 40000, TCPW_F_NOSOCK,
	     TCPW_CLOSE);
	drop(&f, f.t0 + 26 * SEC, R_NETFILTER, 2, 8082, 40000,
	     TCPW_F_NOSOCK, TCPW_CLOSE);
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"type\":\"drop\",", "drop records");
	ASSERT_HAS(out, "\"reason\":\"TCP_CSUM\",\"reason_code\":10,\"count\":4,",
		   "record: name, code, count");
	ASSERT_HAS(out, "\"reason\":null,\"reason_code\":77,", "no name: null");
	ASSERT_HAS(out, "\"rule\":\"packet_drops\"", "finding");
	ASSERT_HAS(out, "\"sport\":8080,\"reason\":\"TCP_CSUM\"}", "subject");
	ASSERT_HAS(out, "\"evidence\":{\"dropped\":5,", "evidence");
	ASSERT_HAS(out, "bad checksums", "in words");
	ASSERT_HAS_NOT(out, "\"sport\":8081,\"reason\"", "no words, no finding");
	ASSERT_HAS_NOT(out, "NETFILTER_DROP\"}", "below drop_min");
	ASSERT_EQ(f.d.pkt.drops, 16, "stats: packets");
	ASSERT_EQ(f.d.pkt.carried, 3 + 8 + 1, "stats: folded in records");
	ASSERT_EQ(f.d.pkt.by_reason[R_CSUM], 5, "stats: by reason");
out:
	done(&f);
}

/* Connects to a local port waiting in SYN_SENT whose SYNs the firewall
 * drops on the way in: syn_unanswered blames this host. */
static void test_syn_dropped_here(void)
{
	struct feed f;
	const char *out;

	if (!feed_init(&f, NULL) || !with_names(&f))
		goto out;
	feed_state(&f, 7, f.t0 + 25 * SEC, "10.0.0.1", 0, 8080, TCPW_CLOSE,
		   TCPW_SYN_SENT);
	feed(&f, TCPW_EV_RETRANS, 7, f.t0 + 26 * SEC, "10.0.0.1", 40000,
	     8080, TCPW_SYN_SENT, TCPW_SYN_SENT);
	/* seen from the listener's side: its addr:port is the local one */
	drop(&f, f.t0 + 25 * SEC, R_NETFILTER, 1, 8080, 40000,
	     TCPW_F_NOSOCK | TCPW_F_SYN, TCPW_CLOSE);
	drop(&f, f.t0 + 26 * SEC, R_NETFILTER, 1, 8080, 40000,
	     TCPW_F_NOSOCK | TCPW_F_SYN, TCPW_CLOSE);
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"syn_unanswered\"", "finding");
	ASSERT_HAS(out, "dropped by this host's firewall: NETFILTER_DROP, 2 in",
		   "summary blames this host");
	ASSERT_HAS(out, "\"dropped_here\":2,\"drop_reason\":\"NETFILTER_DROP\"",
		   "evidence");
out:
	done(&f);
}

/* A SYN dropped on its way out: its socket's record, no retransmit
 * (6.1 traces only the retransmits it sent): pending all the same. */
static void test_syn_dropped_out(void)
{
	struct feed f;
	const char *out;

	if (!feed_init(&f, NULL) || !with_names(&f))
		goto out;
	feed_state(&f, 8, f.t0 + 25 * SEC, "10.0.0.2", 0, 443, TCPW_CLOSE,
		   TCPW_SYN_SENT);
	drop(&f, f.t0 + 25 * SEC, R_NETFILTER, 3, 40001, 443, TCPW_F_SYN,
	     TCPW_SYN_SENT);
	out = feed_sweep(&f);
	ASSERT_HAS(out, "\"rule\":\"syn_unanswered\"", "finding");
	ASSERT_HAS(out, "\"daddr\":\"10.0.0.2\",\"dport\":443}", "subject");
	ASSERT_HAS(out, "\"evidence\":{\"pending\":1,\"syn_retrans\":0,",
		   "pending without a retransmit");
	ASSERT_HAS(out, "\"dropped_here\":3,", "dropped here");
out:
	done(&f);
}

UNIT_MAIN(test_packet_drops, test_syn_dropped_here, test_syn_dropped_out)
