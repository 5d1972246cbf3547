// SPDX-License-Identifier: GPL-2.0
/*
 * TIME_WAIT and the ephemeral port range: connections to one peer
 * address and port, each holding a local port for 60 s.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/rule.h"

#define TIME_WAIT_S	60	/* TCP_TIMEWAIT_LEN */

static __u32 tw_hash(const struct sock_entry *e)
{
	__u32 h = 2166136261u, w[8];

	memcpy(w, e->saddr, 16);
	memcpy(w + 4, e->daddr, 16);
	h = (h ^ e->netns) * 16777619u;
	h = (h ^ ((__u32)e->family << 16 | e->dport)) * 16777619u;
	for (int i = 0; i < 8; i++)
		h = (h ^ w[i]) * 16777619u;
	return h ^ (h >> 13);
}

static struct tw_group *tw_group(struct sweep *s, const struct sock_entry *e)
{
	__u32 b = tw_hash(e) & s->tw_mask;
	struct tw_group *t;

	for (__u32 i = s->tw_heads[b]; i != TABLE_NIL; i = s->tw[i].next) {
		t = &s->tw[i];
		if (t->netns == e->netns && t->family == e->family &&
		    t->dport == e->dport && !memcmp(t->saddr, e->saddr, 16) &&
		    !memcmp(t->daddr, e->daddr, 16))
			return t;
	}
	if (!grow((void **)&s->tw, &s->tw_cap, s->ntw, sizeof(*s->tw)))
		return NULL;
	t = &s->tw[s->ntw];
	memset(t, 0, sizeof(*t));
	t->netns = e->netns;
	t->family = e->family;
	t->dport = e->dport;
	memcpy(t->saddr, e->saddr, 16);
	memcpy(t->daddr, e->daddr, 16);
	t->next = s->tw_heads[b];
	s->tw_heads[b] = s->ntw;
	return &s->tw[s->ntw++];
}


static bool is_loopback(__u16 family, const __u8 *a)
{
	static const __u8 v6_lo[16] = { [15] = 1 };

	return family == AF_INET ? a[0] == 127 : !memcmp(a, v6_lo, 16);
}

/*
 * With tcp_tw_reuse (1; 2: loopback only, the default since 5.x),
 * connect() may take over a TIME_WAIT port older than 1 s: the pile-up
 * is real, but it does not exhaust the range.
 */
static bool tw_reusable(const struct ns_info *n, const struct tw_group *t)
{
	return n->tw_reuse == 1 ||
	       (n->tw_reuse == 2 && (is_loopback(t->family, t->daddr) ||
				     is_loopback(t->family, t->saddr)));
}

static void time_wait_eval(struct sweep *s, const struct diag_rule *r)
{
	struct daemon *d = s->d;
	struct diag *g = s->g;
	__u64 now = s->now;
	double up = (double)(now - d->start_ns) / NS;
	double win = up < g->o.window_s ? (up < 1 ? 1 : up) : g->o.window_s;

	for (__u32 i = 0; i < s->ntw; i++) {
		struct tw_group *t = &s->tw[i];
		struct ns_info *n = ns_info(s, t->netns);
		char sa[ADDR_STRLEN + 2], da[ADDR_STRLEN + 2];
		double range, frac, rate, exhaust = -1;
		enum severity sev;
		struct finding_in *f;
		bool reuse;

		if (!t->tw || !n || !n->hi)
			continue;
		reuse = tw_reusable(n, t);
		range = n->hi - n->lo + 1;
		frac = t->tw / range;
		rate = t->recent / win;
		if (reuse)
			exhaust = -1;
		else if (t->in_use >= range)
			exhaust = 0;
		else if (rate > 0 &&
			 rate * TIME_WAIT_S + (t->in_use - t->tw) >= range)
			exhaust = (range - t->in_use) / rate;
		if (frac < g->o.tw_fraction &&
		    (exhaust < 0 || exhaust > g->o.tw_exhaust_s))
			continue;
		sev = frac >= g->o.tw_critical || (exhaust >= 0 && exhaust <= 10)
			? SEV_CRITICAL : SEV_WARNING;
		if (reuse)
			sev = SEV_INFO;

		f = diag_begin(s);
		diag_subject(f, t->netns, t->family);
		field_addr(&f->subj, "saddr", t->family, t->saddr);
		field_addr(&f->subj, "daddr", t->family, t->daddr);
		field_u64(&f->subj, "dport", t->dport);

		field_u64(&f->ev, "time_wait", t->tw);
		field_u64(&f->ev, "in_use", t->in_use);
		field_u64(&f->ev, "range_lo", n->lo);
		field_u64(&f->ev, "range_hi", n->hi);
		field_u64(&f->ev, "range", (__u64)range);
		field_real(&f->ev, "fraction", frac);
		field_real(&f->ev, "close_rate", rate);
		if (exhaust >= 0)
			field_real(&f->ev, "exhaust_in_s", exhaust);
		else
			field_null(&f->ev, "exhaust_in_s");
		field_u64(&f->ev, "tw_reuse", n->tw_reuse);
		field_name(&f->ev, "active_closer", "local");
		field_u64(&f->ev, "time_wait_s", TIME_WAIT_S);

		ep(sa, t->family, t->saddr);
		ep(da, t->family, t->daddr);
		snprintf(f->key, sizeof(f->key), "%u/%s/%s:%u", t->netns, sa,
			 da, t->dport);
		if (reuse)
			snprintf(f->summary, sizeof(f->summary),
				 "%s -> %s:%u: %u TIME_WAIT sockets hold %.0f%% of the %.0f ephemeral ports (%u-%u); closing %.1f/s; tcp_tw_reuse=%u lets connect() reuse them",
				 sa, da, t->dport, t->tw, frac * 100, range,
				 n->lo, n->hi, rate, n->tw_reuse);
		else if (exhaust >= 0)
			snprintf(f->summary, sizeof(f->summary),
				 "%s -> %s:%u: %u TIME_WAIT sockets hold %.0f%% of the %.0f ephemeral ports (%u-%u); closing %.1f/s, the range runs out in %.0f s",
				 sa, da, t->dport, t->tw, frac * 100, range,
				 n->lo, n->hi, rate, exhaust);
		else
			snprintf(f->summary, sizeof(f->summary),
				 "%s -> %s:%u: %u TIME_WAIT sockets hold %.0f%% of the %.0f ephemeral ports (%u-%u); closing %.1f/s",
				 sa, da, t->dport, t->tw, frac * 100, range,
				 n->lo, n->hi, rate);
		diag_report(s, r, sev);
	}
}


static void time_wait_begin(struct sweep *s)
{
	__u32 buckets;

	s->ntw = 0;
	for (buckets = 64;
	     buckets < s->d->tab.by_state[TCPW_TIME_WAIT] + 64;)
		buckets *= 2;
	if (buckets > s->tw_mask + 1 || !s->tw_heads) {
		free(s->tw_heads);
		s->tw_heads = malloc(buckets * sizeof(*s->tw_heads));
		s->tw_mask = s->tw_heads ? buckets - 1 : 0;
	}
	if (s->tw_heads)
		memset(s->tw_heads, 0xff,
		       (s->tw_mask + 1) * sizeof(*s->tw_heads));
}

/* Ports in use towards a peer, for TIME_WAIT exhaustion. */
static void time_wait_socket(struct sweep *s, struct sock_entry *e)
{
	struct ns_info *n;
	struct tw_group *t;

	if (!s->tw_heads || e->state == TCPW_LISTEN ||
	    e->state == TCPW_SYN_RECV || !e->sport ||
	    (e->state != TCPW_TIME_WAIT && !(e->flags & SOCK_ACTIVE)))
		return;
	n = ns_info(s, e->netns);
	if (!n || !n->hi || e->sport < n->lo || e->sport > n->hi)
		return;
	t = tw_group(s, e);
	if (!t)
		return;
	t->in_use++;
	if (e->state == TCPW_TIME_WAIT) {
		t->tw++;
		if (s->now - e->state_ns < s->g->o.window_s * NS)
			t->recent++;
	}
}

static const struct diag_threshold tw_thresholds[] = {
	DIAG_REAL(tw_fraction, 0.5, 0, 1,
		  "TIME_WAIT share of the ephemeral range: warning"),
	DIAG_REAL(tw_critical, 0.9, 0, 1, "… critical"),
	DIAG_U32(tw_exhaust_s, 120, 0, 86400,
		 "warn when the range would run out sooner than this at the current close rate"),
	{ 0 }
};

const struct diag_rule rule_time_wait_exhaustion = {
	.id = "time_wait_exhaustion",
	.explain = "This host closes these connections first (the active closer keeps TIME_WAIT), and TIME_WAIT lasts 60 s on Linux, fixed: tcp_fin_timeout does not change it. Each connection to the same peer address and port needs its own local port, so at this close rate the ephemeral port range runs out and connect() fails with EADDRNOTAVAIL.",
	.fix = "Reuse connections (keep-alive, pooling); make the high-volume side the passive closer (let the peer close first); widen net.ipv4.ip_local_port_range or set net.ipv4.tcp_tw_reuse=1 for outgoing connections. If the problem is a restarting server that cannot bind, use SO_REUSEADDR.",
	.thresholds = tw_thresholds,
	.begin = time_wait_begin,
	.socket = time_wait_socket,
	.eval = time_wait_eval,
};
