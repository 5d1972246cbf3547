// SPDX-License-Identifier: GPL-2.0
/*
 * Per remote host (AGG_HOST): reset storms and retransmit hotspots.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "diag/rule.h"

static void reset_storm_eval(struct sweep *s, const struct diag_rule *r)
{
	struct diag *g = s->g;

	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];
		double span = span_s(g, a, s->now);
		__u64 rst = WIN(a, rst_sent) + WIN(a, rst_recv);
		char da[ADDR_STRLEN + 2];
		struct finding_in *f;

		if (a->type != AGG_HOST || rst / span < g->o.rst_rate)
			continue;
		f = diag_begin_peer(s, a, da);
		field_u64(&f->ev, "rst_sent", WIN(a, rst_sent));
		field_u64(&f->ev, "rst_recv", WIN(a, rst_recv));
		field_real(&f->ev, "rate", rst / span);
		field_real(&f->ev, "window_s", span);
		snprintf(f->summary, sizeof(f->summary),
			 "%.1f resets/s with %s: %llu sent, %llu received in %.0f s",
			 rst / span, da,
			 (unsigned long long)WIN(a, rst_sent),
			 (unsigned long long)WIN(a, rst_recv), span);
		diag_report(s, r, SEV_WARNING);
	}
}

/* Retransmit candidates: their live segments are summed by the walk. */
static void retrans_begin(struct sweep *s)
{
	struct diag *g = s->g;

	s->any_host_mark = false;
	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];

		a->mark = a->type == AGG_HOST &&
			  WIN(a, retrans) / span_s(g, a, s->now) >=
			  g->o.retrans_rate;
		s->any_host_mark |= a->mark;
	}
}

/* Live segments for the retransmit fraction of hot peers. */
static void retrans_socket(struct sweep *s, struct sock_entry *e)
{
	struct agg *a;

	if (!s->any_host_mark || !e->has_snap ||
	    (e->state != TCPW_ESTABLISHED && e->state != TCPW_CLOSE_WAIT))
		return;
	a = agg_find(s->g, AGG_HOST, e->netns, e->family, e->daddr, 0);
	if (a && a->mark) {
		a->sw_segs += e->snap.data_segs_out;
		a->sw_retrans += e->snap.total_retrans;
	}
}

static void retrans_host(struct sweep *s, const struct diag_rule *r,
			 struct agg *a)
{
	struct diag *g = s->g;
	double span = span_s(g, a, s->now);
	char da[ADDR_STRLEN + 2];
	struct finding_in *f;

	__u64 segs = WIN(a, segs) + a->sw_segs;
	__u64 lost = WIN(a, seg_retrans) + a->sw_retrans;
	double frac = segs ? (double)lost / segs : -1;

	if (frac >= 0 && frac < g->o.retrans_fraction)
		return;
	f = diag_begin_peer(s, a, da);
	field_u64(&f->ev, "retrans", WIN(a, retrans));
	field_real(&f->ev, "rate", WIN(a, retrans) / span);
	if (frac >= 0)
		field_real(&f->ev, "fraction", frac);
	else
		field_null(&f->ev, "fraction");
	field_u64(&f->ev, "segs", segs);
	field_u64(&f->ev, "segs_retrans", lost);
	field_real(&f->ev, "window_s", span);
	if (frac >= 0)
		snprintf(f->summary, sizeof(f->summary),
			 "%.1f retransmits/s to %s: %.1f%% of %llu data segments",
			 WIN(a, retrans) / span, da, frac * 100,
			 (unsigned long long)segs);
	else
		snprintf(f->summary, sizeof(f->summary),
			 "%.1f retransmits/s to %s", WIN(a, retrans) / span,
			 da);
	diag_report(s, r, SEV_WARNING);
}

static void retransmit_hotspot_eval(struct sweep *s, const struct diag_rule *r)
{
	for (__u32 i = 0; i < s->g->used; i++)
		if (s->g->aggs[i].type == AGG_HOST && s->g->aggs[i].mark)
			retrans_host(s, r, &s->g->aggs[i]);
}

static const struct diag_threshold rst_thresholds[] = {
	DIAG_REAL(rst_rate, 10, 0.01, 1e9,
		  "resets per second with one remote host"),
	{ 0 }
};

static const struct diag_threshold retrans_thresholds[] = {
	DIAG_REAL(retrans_rate, 5, 0.01, 1e9,
		  "retransmits per second to one remote host"),
	DIAG_REAL(retrans_fraction, 0.02, 0, 1,
		  "… and at least this share of the data segments sent"),
	{ 0 }
};

const struct diag_rule rule_reset_storm = {
	.id = "reset_storm",
	.explain = "Connections with this peer end in resets at a high rate. A reset aborts a connection: the application sees ECONNRESET or EPIPE, and data in flight is lost.",
	.fix = "Find who resets: a process closing with unread data or with SO_LINGER 0, a crashing or restarting peer, a load balancer or firewall dropping idle flows, or a port scan.",
	.thresholds = rst_thresholds,
	.eval = reset_storm_eval,
};

const struct diag_rule rule_retransmit_hotspot = {
	.id = "retransmit_hotspot",
	.explain = "Segments to this peer are retransmitted at a high rate: packets are lost or badly delayed on the path. Every loss cuts the congestion window and costs at least one round trip, often a 200 ms+ retransmission timeout.",
	.fix = "Check the path to this peer (interface errors and drops, a congested or faulty link, a policer, MTU); compare with other peers to locate the fault.",
	.thresholds = retrans_thresholds,
	.begin = retrans_begin,
	.socket = retrans_socket,
	.eval = retransmit_hotspot_eval,
};
