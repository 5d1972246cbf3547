// SPDX-License-Identifier: GPL-2.0
/*
 * The counters the events feed, on the loop, O(1) a record: transitions
 * as the table sees them (inferred and implied ones included), connects
 * and accepts by result, connect durations, retransmits and resets.
 */
#include "core/table.h"
#include "metrics/snap.h"

/* SYN_SENT -> ESTABLISHED: loopback is ~50 µs, SYN retransmits come at
 * 1, 3, 7, 15 s. */
const double metrics_lat_bounds[LAT_NB] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

static void count_connect(struct mcount *c, const struct apply_result *res)
{
	const struct sock_entry *e = res->e;

	if (res->old == TCPW_SYN_SENT) {
		if (res->new == TCPW_ESTABLISHED) {
			double s = (double)res->old_ns / 1e9;
			int i = 0;

			while (i < LAT_NB && s > metrics_lat_bounds[i])
				i++;
			c->lat[i]++;
			c->lat_sum_ns += res->old_ns;
			c->conns[DIR_ACTIVE][RES_ESTABLISHED]++;
		} else if (res->new == TCPW_CLOSE) {
			/* as diag/peers.c: the RST comes before tcp_done();
			 * given up only once a SYN was retransmitted (an
			 * application closing first is neither) */
			if (e->rst_recv)
				c->conns[DIR_ACTIVE][RES_REFUSED]++;
			else if (e->retrans)
				c->conns[DIR_ACTIVE][RES_TIMEOUT]++;
		}
	} else if (res->old == TCPW_SYN_RECV) {
		if (res->new == TCPW_ESTABLISHED)
			c->conns[DIR_PASSIVE][RES_ESTABLISHED]++;
		else if (res->new == TCPW_CLOSE)
			c->conns[DIR_PASSIVE][e->rst_recv || e->rst_sent ?
					      RES_RESET : RES_TIMEOUT]++;
	}
}

void metrics_count(struct mcount *c, const struct tcpw_event *ev,
		   const struct apply_result *res)
{
	switch (ev->kind) {
	case TCPW_EV_RETRANS:
		c->retrans++;
		return;
	case TCPW_EV_SYNACK_RETRANS:
		c->synack++;
		return;
	case TCPW_EV_RST_SENT:
		c->rst_sent++;
		return;
	case TCPW_EV_RST_RECV:
		c->rst_recv++;
		return;
	case TCPW_EV_STATE:
		break;
	default:
		return;
	}
	if (res->suppressed)
		return;
	if (res->child_born)
		c->trans[TCPW_LISTEN][TCPW_SYN_RECV]++;
	if (res->old != res->new && res->old < TCPW_STATE_MAX &&
	    res->new < TCPW_STATE_MAX) {
		c->trans[res->old][res->new]++;
		count_connect(c, res);
	}
	if (res->tw_ended && res->tw_entry->state < TCPW_STATE_MAX)
		c->trans[res->tw_entry->state][TCPW_CLOSE]++;
	if (res->tw_promoted)
		c->trans[TCPW_FIN_WAIT2][TCPW_TIME_WAIT]++;
}
