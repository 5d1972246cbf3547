// SPDX-License-Identifier: GPL-2.0
/*
 * Connects, per remote addr:port (AGG_DEST): SYNs unanswered, connects
 * refused, and connection churn.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/rule.h"


/* One rule on one destination; span: the seconds its counts cover. */
typedef void dest_fn(struct sweep *s, const struct diag_rule *r,
		     struct agg *a, double span);

static void each_dest(struct sweep *s, const struct diag_rule *r,
		      dest_fn *fn)
{
	for (__u32 i = 0; i < s->g->used; i++) {
		struct agg *a = &s->g->aggs[i];

		if (a->type == AGG_DEST)
			fn(s, r, a, span_s(s->g, a, s->now));
	}
}

/*
 * Connects waiting in SYN_SENT after a retransmit, per peer; or as long
 * as the first retransmit takes (1 s) with SYNs to the peer dropped by
 * this host: a SYN dropped on its way out is no retransmit to 6.1's
 * tracepoint, which traces only those sent.
 */
static void syn_sent_socket(struct sweep *s, struct sock_entry *e)
{
	struct agg *a;

	if (e->state != TCPW_SYN_SENT)
		return;
	a = agg_find(s->g, AGG_DEST, e->netns, e->family, e->daddr, e->dport);
	if (a && (e->retrans || (WIN(a, syn_dropped) &&
				 s->now >= e->state_ns + NS))) {
		a->sw_pending++;
		if (!a->sw_oldest_ns || e->state_ns < a->sw_oldest_ns)
			a->sw_oldest_ns = e->state_ns;
	}
}

static void syn_unanswered_dest(struct sweep *s, const struct diag_rule *r,
				struct agg *a, double span)
{
	char da[ADDR_STRLEN + 2], rb[24];
	struct finding_in *f;
	const char *why;
	int n;

	if (!a->sw_pending && !WIN(a, timeouts))
		return;
	f = diag_begin_peer(s, a, da);
	field_u64(&f->ev, "pending", a->sw_pending);
	field_u64(&f->ev, "syn_retrans", WIN(a, syn_retrans));
	field_u64(&f->ev, "timeouts", WIN(a, timeouts));
	field_real(&f->ev, "oldest_s", a->sw_oldest_ns ?
		 (double)(s->now - a->sw_oldest_ns) / NS : 0);
	field_real(&f->ev, "window_s", span);
	field_u64(&f->ev, "dropped_here", WIN(a, syn_dropped));
	if (WIN(a, syn_dropped)) {
		/* Not the network: this host's own kernel drops them. */
		why = pktdrop_name(s->d, a->reason, rb);
		field_str(&f->ev, "drop_reason", why);
		n = snprintf(f->summary, sizeof(f->summary),
			     "SYNs to %s:%u are dropped by this host%s: %s, %llu in %.0f s",
			     da, a->port,
			     strcmp(why, "NETFILTER_DROP") ? "" :
			     "'s firewall", why,
			     (unsigned long long)WIN(a, syn_dropped), span);
		snprintf(f->summary + n, sizeof(f->summary) - n,
			 "; %u connect%s waiting, %llu timeouts",
			 a->sw_pending, a->sw_pending == 1 ? "" : "s",
			 (unsigned long long)WIN(a, timeouts));
		diag_report(s, r, WIN(a, timeouts) ? SEV_CRITICAL :
			    SEV_WARNING);
		return;
	}
	snprintf(f->summary, sizeof(f->summary),
		 "SYNs to %s:%u get no answer: %u connect%s waiting, %llu SYN retransmits and %llu timeouts in %.0f s",
		 da, a->port, a->sw_pending,
		 a->sw_pending == 1 ? "" : "s",
		 (unsigned long long)WIN(a, syn_retrans),
		 (unsigned long long)WIN(a, timeouts), span);
	diag_report(s, r, WIN(a, timeouts) ? SEV_CRITICAL : SEV_WARNING);
}

static void syn_unanswered_eval(struct sweep *s, const struct diag_rule *r)
{
	each_dest(s, r, syn_unanswered_dest);
}

static void connect_refused_dest(struct sweep *s, const struct diag_rule *r,
				struct agg *a, double span)
{
	char da[ADDR_STRLEN + 2];
	struct finding_in *f;

	if (WIN(a, refused) < s->g->o.refused_min)
		return;
	f = diag_begin_peer(s, a, da);
	field_u64(&f->ev, "refused", WIN(a, refused));
	field_real(&f->ev, "rate", WIN(a, refused) / span);
	field_real(&f->ev, "window_s", span);
	snprintf(f->summary, sizeof(f->summary),
		 "%s:%u refuses connections: %llu resets to SYNs in %.0f s",
		 da, a->port, (unsigned long long)WIN(a, refused),
		 span);
	diag_report(s, r, SEV_WARNING);
}

static void connect_refused_eval(struct sweep *s, const struct diag_rule *r)
{
	each_dest(s, r, connect_refused_dest);
}

static void connection_churn_dest(struct sweep *s, const struct diag_rule *r,
				struct agg *a, double span)
{
	char da[ADDR_STRLEN + 2];
	struct finding_in *f;
	__u64 n, p50, p99;

	if (!(WIN(a, conns) / span >= s->g->o.churn_rate))
		return;
	p50 = agg_lat_pct(a, 50, &n);
	p99 = agg_lat_pct(a, 99, &n);
	f = diag_begin_peer(s, a, da);
	field_u64(&f->ev, "conns", WIN(a, conns));
	field_real(&f->ev, "rate", WIN(a, conns) / span);
	field_u64(&f->ev, "short_lived", WIN(a, short_lived));
	field_u64(&f->ev, "short_ms", s->g->o.short_ms);
	field_u64(&f->ev, "connect_p50_us", p50);
	field_u64(&f->ev, "connect_p99_us", p99);
	field_real(&f->ev, "window_s", span);
	snprintf(f->summary, sizeof(f->summary),
		 "%.1f new connections/s to %s:%u, %llu of them shorter than %u ms; each handshake costs p50 %llu us, p99 %llu us",
		 WIN(a, conns) / span, da, a->port,
		 (unsigned long long)WIN(a, short_lived),
		 s->g->o.short_ms, (unsigned long long)p50,
		 (unsigned long long)p99);
	diag_report(s, r, SEV_INFO);
}

static void connection_churn_eval(struct sweep *s, const struct diag_rule *r)
{
	each_dest(s, r, connection_churn_dest);
}

static const struct diag_threshold refused_thresholds[] = {
	DIAG_U32(refused_min, 3, 1, 1000000,
		 "refused connects per window to one `addr:port`"),
	{ 0 }
};

static const struct diag_threshold churn_thresholds[] = {
	DIAG_REAL(churn_rate, 20, 0.01, 1e9,
		  "new connections per second to one `addr:port`"),
	DIAG_U32(short_ms, 1000, 1, 3600000,
		 "connections shorter than this count as short-lived"),
	{ 0 }
};

const struct diag_rule rule_syn_unanswered = {
	.id = "syn_unanswered",
	.explain = "SYNs to this peer get no answer at all, neither a SYN-ACK nor a reset: something on the path drops them silently (a firewall or security group, a blackholed route) or the peer's SYN queue is full. When this host's own kernel drops them, the summary says so and names the kernel's drop reason (evidence dropped_here, drop_reason). The client retransmits the SYN with exponential backoff and connect() finally times out.",
	.fix = "Check firewalls, security groups and routes between the hosts, starting with this host's own when dropped_here is not 0 (nft list ruleset; a REJECT rule would show as connect_refused instead); on the peer, check the listen backlog and nstat TcpExtListenDrops.",
	.socket = syn_sent_socket,
	.eval = syn_unanswered_eval,
};

const struct diag_rule rule_connect_refused = {
	.id = "connect_refused",
	.explain = "The peer answers SYNs with a reset: nothing listens on that port (or a firewall rejects with RST). The application sees ECONNREFUSED.",
	.fix = "Start the service, or fix the address and port the client uses (configuration, service discovery, health checks).",
	.thresholds = refused_thresholds,
	.eval = connect_refused_eval,
};

const struct diag_rule rule_connection_churn = {
	.id = "connection_churn",
	.explain = "Many short-lived connections to the same peer: each pays a full handshake (one round trip, see the connect latency), socket setup, and on the closing side 60 s of TIME_WAIT.",
	.fix = "Reuse connections: HTTP keep-alive, a connection pool, or multiplexing over fewer connections.",
	.thresholds = churn_thresholds,
	.eval = connection_churn_eval,
};
