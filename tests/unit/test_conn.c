// SPDX-License-Identifier: GPL-2.0
/*
 * How a connection ended (conn_outcome), its data bytes without SYN and
 * FINs (conn_bytes), and the --records list parser.
 */
#include <errno.h>

#include "core/conn.h"
#include "core/records.h"
#include "lib/format.h"
#include "unit.h"

/* An entry that went through the given states (hist), as table.c
 * records them. */
static struct sock_entry path(const __u8 *s, int n, __u8 flags)
{
	struct sock_entry e = { .cookie = 1, .flags = flags };

	for (int i = 0; i + 1 < n; i++) {
		e.hist[e.nhist % TABLE_HIST].old = s[i];
		e.hist[e.nhist % TABLE_HIST].new = s[i + 1];
		e.nhist++;
	}
	return e;
}

static void test_outcomes(void)
{
	static const struct {
		const char *what;
		__u8 old, end;
		__u16 rst_sent, rst_recv, drops;
		enum conn_outcome want;
	} c[] = {
		{ "FIN_WAIT2 -> TIME_WAIT", TCPW_FIN_WAIT2, TCPW_TIME_WAIT,
		  0, 0, 0, CONN_TIME_WAIT },
		{ "CLOSING -> TIME_WAIT", TCPW_CLOSING, TCPW_TIME_WAIT,
		  0, 0, 0, CONN_TIME_WAIT },
		{ "orphan's timewait FIN_WAIT2", TCPW_FIN_WAIT1,
		  TCPW_FIN_WAIT2, 0, 0, 0, CONN_TIME_WAIT },
		{ "LAST_ACK -> CLOSE", TCPW_LAST_ACK, TCPW_CLOSE, 0, 0, 0,
		  CONN_FIN },
		{ "RST in SYN_SENT", TCPW_SYN_SENT, TCPW_CLOSE, 0, 1, 0,
		  CONN_REFUSED },
		{ "RST in ESTABLISHED", TCPW_ESTABLISHED, TCPW_CLOSE, 0, 1,
		  0, CONN_RESET_RECV },
		{ "RST in SYN_RECV", TCPW_SYN_RECV, TCPW_CLOSE, 0, 1, 0,
		  CONN_RESET_RECV },
		{ "RST in LAST_ACK", TCPW_LAST_ACK, TCPW_CLOSE, 0, 1, 0,
		  CONN_RESET_RECV },
		{ "RST sent (SO_LINGER 0)", TCPW_ESTABLISHED, TCPW_CLOSE, 1,
		  0, 0, CONN_RESET_SENT },
		{ "both: the received one ended it", TCPW_ESTABLISHED,
		  TCPW_CLOSE, 1, 1, 0, CONN_RESET_RECV },
		{ "SYN unanswered", TCPW_SYN_SENT, TCPW_CLOSE, 0, 0, 0,
		  CONN_TIMEOUT },
		{ "SYN dropped on this host", TCPW_SYN_SENT, TCPW_CLOSE, 0,
		  0, 3, CONN_DROP },
		{ "handshake's last ACK never came", TCPW_SYN_RECV,
		  TCPW_CLOSE, 0, 0, 0, CONN_TIMEOUT },
		{ "data retries gave up", TCPW_ESTABLISHED, TCPW_CLOSE, 0, 0,
		  0, CONN_TIMEOUT },
		{ "orphan's FIN retries gave up", TCPW_FIN_WAIT1, TCPW_CLOSE,
		  0, 0, 0, CONN_TIMEOUT },
		{ "data dropped on this host", TCPW_ESTABLISHED, TCPW_CLOSE,
		  0, 0, 1, CONN_DROP },
		{ "a reset beats a drop", TCPW_SYN_SENT, TCPW_CLOSE, 0, 1, 1,
		  CONN_REFUSED },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct sock_entry e = {
			.rst_sent = c[i].rst_sent, .rst_recv = c[i].rst_recv,
			.drops = c[i].drops,
		};

		ASSERT_STREQ(conn_outcome_name(conn_outcome(&e, c[i].old,
							     c[i].end)),
			      conn_outcome_name(c[i].want), c[i].what);
	}
	ASSERT_STREQ(conn_outcome_name(CONN_OUTCOME_MAX), "unknown",
		      "out of range");
}

static void test_bytes(void)
{
	static const __u8 active_tw[] = {
		TCPW_CLOSE, TCPW_SYN_SENT, TCPW_ESTABLISHED, TCPW_FIN_WAIT1,
		TCPW_FIN_WAIT2, TCPW_TIME_WAIT,
	}, active_orphan[] = {
		TCPW_CLOSE, TCPW_SYN_SENT, TCPW_ESTABLISHED, TCPW_FIN_WAIT1,
		TCPW_FIN_WAIT2,
	}, passive_fin[] = {
		TCPW_LISTEN, TCPW_SYN_RECV, TCPW_ESTABLISHED,
		TCPW_CLOSE_WAIT, TCPW_LAST_ACK, TCPW_CLOSE,
	}, active_rst[] = {
		TCPW_CLOSE, TCPW_SYN_SENT, TCPW_ESTABLISHED, TCPW_CLOSE,
	};
	struct sock_entry e;
	__u64 tx, rx;

	/* 100 bytes out: SYN + 100 + FIN acked; the peer's FIN in */
	e = path(active_tw, 6, SOCK_ACTIVE);
	e.has_snap = 1, e.handshake_us = 20;
	e.snap.bytes_acked = 102, e.snap.bytes_received = 1;
	conn_bytes(&e, TCPW_TIME_WAIT, &tx, &rx);
	ASSERT_EQ(tx, 100, "active, TIME_WAIT: tx");
	ASSERT_EQ(rx, 0, "active, TIME_WAIT: rx");
	/* the orphan has not had the peer's FIN */
	e = path(active_orphan, 5, SOCK_ACTIVE);
	e.has_snap = 1, e.handshake_us = 20;
	e.snap.bytes_acked = 102, e.snap.bytes_received = 7;
	conn_bytes(&e, TCPW_FIN_WAIT2, &tx, &rx);
	ASSERT_EQ(tx, 100, "orphan: tx");
	ASSERT_EQ(rx, 7, "orphan: rx");
	/* a passive child starts past the SYN; FINs both ways */
	e = path(passive_fin, 6, 0);
	e.has_snap = 1, e.handshake_us = 20;
	e.snap.bytes_acked = 51, e.snap.bytes_received = 101;
	conn_bytes(&e, TCPW_CLOSE, &tx, &rx);
	ASSERT_EQ(tx, 50, "passive, LAST_ACK: tx");
	ASSERT_EQ(rx, 100, "passive, LAST_ACK: rx");
	/* a reset: no FIN either way */
	e = path(active_rst, 4, SOCK_ACTIVE);
	e.has_snap = 1, e.handshake_us = 20;
	e.snap.bytes_acked = 11, e.snap.bytes_received = 0;
	e.rst_sent = 1;
	conn_bytes(&e, TCPW_CLOSE, &tx, &rx);
	ASSERT_EQ(tx, 10, "reset: tx");
	/* never read: nothing known, nothing invented */
	e.has_snap = 0;
	conn_bytes(&e, TCPW_CLOSE, &tx, &rx);
	ASSERT_EQ(tx + rx, 0, "no snapshot");
	/* never below zero */
	e = path(active_tw, 6, SOCK_ACTIVE);
	e.has_snap = 1, e.handshake_us = 20;
	conn_bytes(&e, TCPW_TIME_WAIT, &tx, &rx);
	ASSERT_EQ(tx + rx, 0, "zero counters stay zero");
}

static struct tcpw_event tev(__u8 kind, __u8 old, __u8 new, __u64 ts)
{
	struct tcpw_event e = {
		.version = TCPW_ABI_VERSION, .kind = kind, .cookie = 7,
		.oldstate = old, .newstate = new, .ts_ns = ts,
		.family = 2, .sport = 40000, .dport = 80, .netns = 1,
	};

	return e;
}

static void snap(struct tcpw_event *e, __u32 snd, __u32 rcv, __u32 srtt)
{
	e->flags |= TCPW_F_SNAPSHOT;
	e->snd_wnd = snd, e->rcv_wnd = rcv, e->srtt_us = srtt;
}

/* What the table keeps for the record: drops, handshake, extremes. */
static void test_table_facts(void)
{
	static struct sock_entry gone, tw;
	struct apply_result r;
	struct tcpw_event e;
	struct table t;

	if (!ASSERT_OK(table_init(&t, 16), "table_init"))
		return;
	/* SYNs dropped on this host, then the kernel gives up */
	e = tev(TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 1000);
	table_apply(&t, &e, &r, &gone, &tw);
	e = tev(TCPW_EV_DROP, TCPW_SYN_SENT, TCPW_SYN_SENT, 2000);
	e.count = 3;
	table_note_drop(&t, &e);	/* as daemon.c does for a drop */
	e = tev(TCPW_EV_STATE, TCPW_SYN_SENT, TCPW_CLOSE, 3000);
	snap(&e, 0, 0, 0);	/* nothing of an open connection */
	table_apply(&t, &e, &r, &gone, &tw);
	if (ASSERT_TRUE(r.removed, "closed")) {
		ASSERT_EQ(gone.drops, 3, "drops a record stands for");
		ASSERT_STREQ(conn_outcome_name(conn_outcome(&gone,
				TCPW_SYN_SENT, TCPW_CLOSE)), "drop", "outcome");
		ASSERT_EQ(gone.handshake_us, 0, "never established");
		ASSERT_FALSE(gone.flags & SOCK_CONN_SNAP, "no extremes");
	}
	/* an open connection's snapshots: smallest windows, largest RTT */
	e = tev(TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, 10000);
	e.cookie = 8;
	table_apply(&t, &e, &r, &gone, &tw);
	static const __u32 s[][4] = {	/* kind, snd, rcv, srtt */
		{ TCPW_EV_STATE, 65000, 64000, 50 },
		{ TCPW_EV_SAMPLE, 0, 64000, 900 },
		{ TCPW_EV_SAMPLE, 30000, 1000, 70 },
		{ TCPW_EV_STATE, 65000, 64000, 60 },	/* -> CLOSE */
	};
	for (int i = 0; i < 4; i++) {
		__u8 old = i ? TCPW_ESTABLISHED : TCPW_SYN_SENT;
		__u8 new = i == 3 ? TCPW_CLOSE : TCPW_ESTABLISHED;

		e = tev(s[i][0], old, s[i][0] == TCPW_EV_STATE ? new : old,
			60000 + i * 1000);
		e.cookie = 8;
		snap(&e, s[i][1], s[i][2], s[i][3]);
		table_apply(&t, &e, &r, &gone, &tw);
	}
	if (ASSERT_TRUE(r.removed, "closed")) {
		ASSERT_EQ(gone.handshake_us, 50, "connect() to ESTABLISHED, µs");
		ASSERT_EQ(gone.min_snd_wnd, 0, "zero window seen");
		ASSERT_EQ(gone.min_rcv_wnd, 1000, "smallest rcv_wnd");
		ASSERT_EQ(gone.max_srtt_us, 900, "largest srtt");
	}
	table_free(&t);
}

static void test_records_parse(void)
{
	char msg[512];
	__u32 m = 0;

	ASSERT_EQ(records_parse("conn", &m, msg, sizeof(msg)), 0, "conn");
	ASSERT_EQ(m, REC_BIT(REC_CONN), "conn alone");
	ASSERT_EQ(records_parse("state,reset_recv,lost", &m, msg,
				sizeof(msg)), 0, "a list");
	ASSERT_EQ(m, REC_BIT(TCPW_EV_STATE) | REC_BIT(TCPW_EV_RST_RECV) |
		     REC_BIT(REC_LOST), "the list's bits");
	ASSERT_EQ(records_parse("default", &m, msg, sizeof(msg)), 0,
		  "default");
	ASSERT_EQ(m, REC_DEFAULT, "default's bits");
	ASSERT_FALSE(m & REC_BIT(REC_CONN), "default: no conn");
	ASSERT_TRUE(m & REC_BIT(REC_FINDING), "default: finding");
	ASSERT_EQ(records_parse("default,conn", &m, msg, sizeof(msg)), 0,
		  "default,conn");
	ASSERT_EQ(m, REC_ALL & m, "within all");
	ASSERT_EQ(records_parse("all", &m, msg, sizeof(msg)), 0, "all");
	ASSERT_TRUE(m & REC_BIT(REC_CONN), "all: conn");
	/* every named type parses back to its own bit */
	for (unsigned int t = 1; t < REC_MAX; t++) {
		if (!rec_name(t))
			continue;
		ASSERT_EQ(records_parse(rec_name(t), &m, msg, sizeof(msg)), 0,
			  rec_name(t));
		ASSERT_EQ(m, REC_BIT(t), rec_name(t));
	}
	static const char *const bad[] = {
		"", ",", "state,", "conns", "STATE", "state,,conn", "con",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = 12345;
		ASSERT_EQ(records_parse(bad[i], &m, msg, sizeof(msg)),
			  -EINVAL, bad[i]);
		ASSERT_EQ(m, 12345, "mask untouched on error");
		ASSERT_TRUE(strstr(msg, "finding, conn") &&
			    strstr(msg, "state, retransmit"),
			    "the error lists the valid names");
	}
	/* a long bad name is cut, the list still fits */
	records_parse("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		      &m, msg, 256);
	ASSERT_TRUE(strstr(msg, "; all") != NULL, "list fits 256 bytes");
}

UNIT_MAIN(test_outcomes, test_bytes, test_table_facts, test_records_parse)
