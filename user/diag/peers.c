// SPDX-License-Identifier: GPL-2.0
/*
 * Peer aggregates: what the rules need to know about rates, kept per
 * remote endpoint, remote host or listener. This is the only diagnostic
 * work on the event path: a switch, and for the few events that count a
 * single hash lookup. Counts live in two fixed windows (cur and prev) of
 * window_s each, so a rate always covers between one and two windows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"

#define AGG_MAX		65536u	/* peers tracked at once */
#define AGG_INIT	256u

/* The reason is part of an AGG_DROP's key only. */
static __u32 agg_hash_r(__u8 type, __u32 netns, __u16 family,
			const __u8 *addr, __u16 port, __u32 reason)
{
	__u32 w[4], h = (2166136261u ^ type) * 16777619u ^ reason;

	memcpy(w, addr, 16);
	h = (h ^ netns) * 16777619u;
	h = (h ^ ((__u32)family << 16 | port)) * 16777619u;
	for (int i = 0; i < 4; i++)
		h = (h ^ w[i]) * 16777619u;
	return h ^ (h >> 15);
}

static __u32 agg_hash(__u8 type, __u32 netns, __u16 family,
		      const __u8 *addr, __u16 port)
{
	return agg_hash_r(type, netns, family, addr, port, 0);
}

static __u32 agg_hash_of(const struct agg *a)
{
	return agg_hash_r(a->type, a->netns, a->family, a->addr, a->port,
			  a->type == AGG_DROP ? a->reason : 0);
}

static bool agg_is_r(const struct agg *a, __u8 type, __u32 netns,
		     __u16 family, const __u8 *addr, __u16 port, __u32 reason)
{
	return a->type == type && a->netns == netns && a->family == family &&
	       a->port == port && !memcmp(a->addr, addr, 16) &&
	       (type != AGG_DROP || a->reason == reason);
}


int diag_init(struct diag *g, const struct diag_opts *o)
{
	memset(g, 0, sizeof(*g));
	g->o = *o;
	g->cap = AGG_INIT;
	g->aggs = calloc(g->cap, sizeof(*g->aggs));
	g->heads = malloc(g->cap * sizeof(*g->heads));
	if (!g->aggs || !g->heads)
		return -ENOMEM;
	g->mask = g->cap - 1;
	memset(g->heads, 0xff, g->cap * sizeof(*g->heads));
	g->free_head = TABLE_NIL;
	return 0;
}

void diag_free(struct diag *g)
{
	for (__u32 i = 0; i < g->used; i++)
		free(g->aggs[i].lat);
	free(g->aggs);
	free(g->heads);
	memset(g, 0, sizeof(*g));
}

static int agg_grow(struct diag *g)
{
	__u32 cap = g->cap * 2, *heads;
	struct agg *v;

	v = realloc(g->aggs, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	g->aggs = v;
	memset(v + g->cap, 0, (cap - g->cap) * sizeof(*v));
	heads = malloc(cap * sizeof(*heads));
	if (!heads)
		return -ENOMEM;
	free(g->heads);
	g->heads = heads;
	g->cap = cap;
	g->mask = cap - 1;
	memset(heads, 0xff, cap * sizeof(*heads));
	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &v[i];
		__u32 b;

		if (!a->type)
			continue;
		b = agg_hash_of(a) & g->mask;
		a->next = heads[b];
		heads[b] = i;
	}
	return 0;
}

static struct agg *agg_find_r(struct diag *g, __u8 type, __u32 netns,
			      __u16 family, const __u8 *addr, __u16 port,
			      __u32 reason)
{
	__u32 b = agg_hash_r(type, netns, family, addr, port, reason) &
		  g->mask;

	for (__u32 i = g->heads[b]; i != TABLE_NIL; i = g->aggs[i].next)
		if (agg_is_r(&g->aggs[i], type, netns, family, addr, port,
			     reason))
			return &g->aggs[i];
	return NULL;
}

struct agg *agg_find(struct diag *g, __u8 type, __u32 netns, __u16 family,
		     const __u8 *addr, __u16 port)
{
	return agg_find_r(g, type, netns, family, addr, port, 0);
}

/*
 * Find or create; NULL when the peer limit is reached (counted). reason:
 * an AGG_DROP's, 0 for the others.
 */
static struct agg *agg_get_r(struct diag *g, __u8 type, __u32 netns,
			     __u16 family, const __u8 *addr, __u16 port,
			     __u32 reason, __u64 now)
{
	__u32 i = g->last[type], b;
	struct agg *a;

	if (i < g->used && agg_is_r(&g->aggs[i], type, netns, family, addr,
				    port, reason)) {
		a = &g->aggs[i];
		goto found;
	}
	a = agg_find_r(g, type, netns, family, addr, port, reason);
	if (a)
		goto found;
	if (g->count >= AGG_MAX) {
		g->agg_full++;
		return NULL;
	}
	if (g->free_head != TABLE_NIL) {
		i = g->free_head;
		g->free_head = g->aggs[i].next;
	} else {
		if (g->used == g->cap && agg_grow(g)) {
			g->agg_full++;
			return NULL;
		}
		i = g->used++;
	}
	a = &g->aggs[i];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->netns = netns;
	a->family = family;
	a->port = port;
	a->reason = type == AGG_DROP ? reason : 0;
	memcpy(a->addr, addr, 16);
	a->born_ns = a->cur_ns = now;
	b = agg_hash_of(a) & g->mask;
	a->next = g->heads[b];
	g->heads[b] = i;
	g->count++;
	if (type == AGG_HOST) {
		b = agg_hash(type, netns, family, addr, port) & 4095;
		g->host_bits[b / 64] |= 1ULL << (b % 64);
	}
found:
	g->last[type] = (__u32)(a - g->aggs);
	agg_roll(g, a, now);
	a->touched_ns = now;
	return a;
}

static struct agg *agg_get(struct diag *g, __u8 type, __u32 netns,
			   __u16 family, const __u8 *addr, __u16 port,
			   __u64 now)
{
	return agg_get_r(g, type, netns, family, addr, port, 0, now);
}

void agg_roll(struct diag *g, struct agg *a, __u64 now)
{
	__u64 w = g->o.window_s * 1000000000ULL;

	if (now < a->cur_ns + w)
		return;
	if (now < a->cur_ns + 2 * w) {
		a->prev = a->cur;
		a->cur_ns += w;
	} else {
		memset(&a->prev, 0, sizeof(a->prev));
		a->cur_ns = now;
	}
	memset(&a->cur, 0, sizeof(a->cur));
	if (a->lat) {
		memcpy(a->lat[1], a->lat[0], sizeof(a->lat[0]));
		memset(a->lat[0], 0, sizeof(a->lat[0]));
	}
}

void agg_gc(struct diag *g, __u64 now)
{
	__u64 idle = 2ULL * g->o.window_s * 1000000000ULL;

	memset(g->host_bits, 0, sizeof(g->host_bits));
	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];
		__u32 *pp;

		if (a->type == AGG_HOST && (a->mark ||
					       now < a->touched_ns + idle)) {
			__u32 b = agg_hash(a->type, a->netns, a->family,
					   a->addr, a->port) & 4095;

			g->host_bits[b / 64] |= 1ULL << (b % 64);
		}
		if (!a->type || a->mark || now < a->touched_ns + idle)
			continue;
		pp = &g->heads[agg_hash_of(a) & g->mask];
		while (*pp != i)
			pp = &g->aggs[*pp].next;
		*pp = a->next;
		free(a->lat);
		memset(a, 0, sizeof(*a));
		a->next = g->free_head;
		g->free_head = i;
		g->count--;
	}
}

/*
 * Latency buckets: exact below 8 µs, then 8 per power of two (12.5%
 * resolution), which is what p50/p99 of a handshake needs.
 */
static unsigned int lat_bucket(__u64 us)
{
	unsigned int e;

	if (us < 8)
		return (unsigned int)us;
	e = 63 - (unsigned int)__builtin_clzll(us);	/* >= 3 */
	us = 8 + ((e - 3) * 8) + ((us >> (e - 3)) & 7);
	return us < LAT_BUCKETS ? (unsigned int)us : LAT_BUCKETS - 1;
}

static __u64 lat_value(unsigned int b)
{
	unsigned int e, sub;
	__u64 lo;

	if (b < 8)
		return b;
	e = (b - 8) / 8 + 3;
	sub = (b - 8) % 8;
	lo = (__u64)(8 + sub) << (e - 3);
	return lo + (1ULL << (e - 3)) / 2;	/* the bucket's middle */
}

__u64 agg_lat_pct(const struct agg *a, unsigned int pct, __u64 *count)
{
	__u64 n = 0, want, seen = 0;

	*count = 0;
	if (!a->lat)
		return 0;
	for (unsigned int b = 0; b < LAT_BUCKETS; b++)
		n += a->lat[0][b] + a->lat[1][b];
	*count = n;
	if (!n)
		return 0;
	want = (n * pct + 99) / 100;
	if (!want)
		want = 1;
	for (unsigned int b = 0; b < LAT_BUCKETS; b++) {
		seen += a->lat[0][b] + a->lat[1][b];
		if (seen >= want)
			return lat_value(b);
	}
	return lat_value(LAT_BUCKETS - 1);
}

static struct agg *dest_of(struct diag *g, const struct tcpw_event *ev)
{
	return agg_get(g, AGG_DEST, ev->netns, ev->family, ev->daddr,
		       ev->dport, ev->ts_ns);
}

static struct agg *host_of(struct diag *g, const struct tcpw_event *ev)
{
	return agg_get(g, AGG_HOST, ev->netns, ev->family, ev->daddr, 0,
		       ev->ts_ns);
}

static void on_state(struct diag *g, const struct tcpw_event *ev,
		     const struct apply_result *res)
{
	const struct sock_entry *e = res->e;
	struct agg *a;

	if (res->old == TCPW_SYN_SENT) {
		if (res->new == TCPW_ESTABLISHED) {
			a = dest_of(g, ev);
			if (!a)
				return;
			a->cur.conns++;
			if (!a->lat)
				a->lat = calloc(2, sizeof(*a->lat));
			if (a->lat)
				a->lat[0][lat_bucket(res->old_ns / 1000)]++;
		} else if (res->new == TCPW_CLOSE && (e->rst_recv || e->retrans)) {
			/* refused: the RST came first (tcp_reset, then
			 * tcp_done); given up: the SYN was retransmitted */
			a = dest_of(g, ev);
			if (!a)
				return;
			if (e->rst_recv)
				a->cur.refused++;
			else
				a->cur.timeouts++;
		}
		return;
	}
	if (res->old != TCPW_ESTABLISHED)
		return;
	/* A connection ends (for its application) when it leaves
	 * ESTABLISHED: count its life and its segments now. */
	if ((e->flags & SOCK_ACTIVE) &&
	    ev->ts_ns - e->birth_ns < g->o.short_ms * 1000000ULL) {
		a = dest_of(g, ev);
		if (a)
			a->cur.short_lived++;
	}
	if (!(ev->flags & TCPW_F_SNAPSHOT) || !ev->data_segs_out)
		return;
	/* Only peers already of interest get an aggregate for this. */
	if (ev->total_retrans) {
		a = host_of(g, ev);
	} else {
		__u32 b = agg_hash(AGG_HOST, ev->netns, ev->family, ev->daddr,
				   0) & 4095;

		a = g->host_bits[b / 64] & (1ULL << (b % 64))
			? agg_find(g, AGG_HOST, ev->netns, ev->family,
				   ev->daddr, 0) : NULL;
	}
	if (a) {
		agg_roll(g, a, ev->ts_ns);
		a->cur.segs += ev->data_segs_out;
		a->cur.seg_retrans += ev->total_retrans;
	}
}

void diag_event(struct diag *g, const struct tcpw_event *ev,
		const struct apply_result *res)
{
	struct agg *a;

	if (res->suppressed)
		return;
	switch (ev->kind) {
	case TCPW_EV_STATE:
		if (res->e)
			on_state(g, ev, res);
		break;
	case TCPW_EV_RETRANS:
		if (ev->newstate == TCPW_SYN_SENT) {
			a = dest_of(g, ev);
			if (a)
				a->cur.syn_retrans++;
		} else {
			a = host_of(g, ev);
			if (a)
				a->cur.retrans++;
		}
		break;
	case TCPW_EV_SYNACK_RETRANS:
		/* the request sock's tuple: local side is the listener */
		a = agg_get(g, AGG_LISTEN, ev->netns, ev->family, ev->saddr,
			    ev->sport, ev->ts_ns);
		if (a)
			a->cur.synack++;
		break;
	case TCPW_EV_RST_SENT:
	case TCPW_EV_RST_RECV:
		/* an RST in SYN_SENT is a refused connect, counted there */
		if (ev->newstate == TCPW_SYN_SENT)
			break;
		a = host_of(g, ev);
		if (!a)
			break;
		if (ev->kind == TCPW_EV_RST_SENT)
			a->cur.rst_sent++;
		else
			a->cur.rst_recv++;
		break;
	}
}

/*
 * Drop records are oriented to our side: saddr:sport is the local end.
 * Each counts for that endpoint and reason (rule_drop.c), and a SYN also
 * for the connect it belongs to (syn_unanswered): ours on its way out
 * (the socket is in SYN_SENT), or one to a local port on its way in.
 */
void diag_drop(struct diag *g, const struct tcpw_event *ev)
{
	__u32 n = ev->count ? ev->count : 1;
	struct agg *a;

	a = agg_get_r(g, AGG_DROP, ev->netns, ev->family, ev->saddr,
		      ev->sport, ev->reason, ev->ts_ns);
	if (a)
		a->cur.dropped += n;
	if (!(ev->flags & TCPW_F_SYN))
		return;
	if (ev->newstate == TCPW_SYN_SENT && !(ev->flags & TCPW_F_NOSOCK))
		a = dest_of(g, ev);
	else
		a = agg_get(g, AGG_DEST, ev->netns, ev->family, ev->saddr,
			    ev->sport, ev->ts_ns);
	if (a) {
		a->cur.syn_dropped += n;
		a->reason = ev->reason;
	}
}
