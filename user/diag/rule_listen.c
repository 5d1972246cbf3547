// SPDX-License-Identifier: GPL-2.0
/*
 * Listeners: the accept queue full, and SYN-ACKs whose handshake never
 * completes. sock_diag tells what events cannot: queue lengths and the
 * half-open requests.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "diag/rule.h"
#include "kernel/sockdiag.h"

struct lst_ctx {
	struct daemon *d;
	struct sweep *s;
	__u32 netns;
	const struct diag_rule *r;
	__u64 overflows;
};

/* Half-open requests per listener: count SYN_RECV per local addr:port. */
static int synrecv_cb(void *ctx, const struct sd_sock *x)
{
	struct lst_ctx *c = ctx;
	struct agg *a = agg_find(c->s->g, AGG_LISTEN, c->netns,
				 x->family, x->saddr, x->sport);

	if (a)
		a->sw_pending++;
	return 0;
}

static int listen_cb(void *ctx, const struct sd_sock *x)
{
	struct lst_ctx *c = ctx;
	struct sweep *s = c->s;
	struct finding_in *f;
	struct sock_entry *e;
	char sa[ADDR_STRLEN + 2];

	/* sk_acceptq_is_full(): more queued than the backlog allows */
	if (x->rqueue <= x->wqueue && !(x->rqueue && x->rqueue == x->wqueue &&
					 c->overflows))
		return 0;
	e = table_find(&c->d->tab, x->cookie);
	f = diag_begin(s);
	diag_subject(f, c->netns, x->family);
	field_addr(&f->subj, "saddr", x->family, x->saddr);
	field_u64(&f->subj, "sport", x->sport);
	field_owner(&f->subj, e ? e->pid : 0, e ? e->comm : NULL);
	field_cgroup(&f->subj, e ? e->cgroup : 0);
	field_u64(&f->ev, "backlog", x->rqueue);
	field_u64(&f->ev, "max_backlog", x->wqueue);
	field_u64(&f->ev, "overflows", c->overflows);
	ep(sa, x->family, x->saddr);
	snprintf(f->key, sizeof(f->key), "%u/%s:%u", c->netns, sa,
		 x->sport);
	snprintf(f->summary, sizeof(f->summary),
		 "listener %s:%u%s%.16s%s has %u connections waiting for accept(), backlog %u: the queue is full (%llu handshakes dropped in this netns since tcpwatch started)",
		 sa, x->sport, e && e->pid ? " (" : "",
		 e && e->pid ? e->comm : "", e && e->pid ? ")" : "",
		 x->rqueue, x->wqueue, (unsigned long long)c->overflows);
	diag_report(s, c->r, SEV_WARNING);
	return 0;
}

static void listen_socket(struct sweep *s, struct sock_entry *e)
{
	struct ns_info *n;

	if (e->state != TCPW_LISTEN)
		return;
	n = ns_info(s, e->netns);
	if (n)
		n->listeners = true;
}

static void accept_eval(struct sweep *s, const struct diag_rule *r)
{
	for (__u32 i = 0; i < s->nns; i++) {
		struct ns_info *n = &s->ns[i];
		struct lst_ctx c = { .d = s->d, .s = s, .r = r };
		const struct kw_ns *k;

		if (!n->listeners)
			continue;
		c.netns = n->inum;
		k = kq_facts(s->d, n->inum);
		if (k)
			c.overflows = k->overflows;
		/* cached; refreshed when this netns drops handshakes */
		kq_dump(s->d, n->inum, 1u << TCPW_LISTEN, 0, listen_cb, &c);
	}
}

static void synack_eval(struct sweep *s, const struct diag_rule *r)
{
	struct daemon *d = s->d;
	struct diag *g = s->g;
	__u64 now = s->now;

	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];

		if (a->type == AGG_LISTEN && WIN(a, synack)) {
			struct ns_info *n = ns_info(s, a->netns);

			if (n)
				n->synack = true;
		}
	}
	for (__u32 i = 0; i < s->nns; i++) {
		struct lst_ctx c = { .d = d, .s = s, .r = r };

		/* while SYN-ACKs are retransmitted: fresh each sweep */
		c.netns = s->ns[i].inum;
		if (s->ns[i].synack)
			kq_dump(d, c.netns, 1u << TCPW_SYN_RECV, now,
				synrecv_cb, &c);
	}
	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];
		char sa[ADDR_STRLEN + 2];
		struct finding_in *f;
		struct sock_entry *l;

		if (a->type != AGG_LISTEN || WIN(a, synack) < g->o.synack_min)
			continue;
		l = table_listener(&d->tab, a->netns, a->family, a->port);
		f = diag_begin(s);
		diag_subject(f, a->netns, a->family);
		field_addr(&f->subj, "saddr", a->family, a->addr);
		field_u64(&f->subj, "sport", a->port);
		field_owner(&f->subj, l ? l->pid : 0, l ? l->comm : NULL);
		field_cgroup(&f->subj, l ? l->cgroup : 0);
		field_u64(&f->ev, "synack_retrans", WIN(a, synack));
		field_u64(&f->ev, "half_open", a->sw_pending);
		field_real(&f->ev, "window_s", span_s(g, a, now));
		ep(sa, a->family, a->addr);
		snprintf(f->key, sizeof(f->key), "%u/%s:%u", a->netns, sa,
			 a->port);
		snprintf(f->summary, sizeof(f->summary),
			 "listener %s:%u retransmitted %llu SYN-ACKs in %.0f s; %u handshakes are half-open (SYN_RECV)",
			 sa, a->port, (unsigned long long)WIN(a, synack),
			 span_s(g, a, now), a->sw_pending);
		diag_report(s, r, SEV_WARNING);
	}
}

static const struct diag_threshold synack_thresholds[] = {
	DIAG_U32(synack_min, 1, 1, 1000000,
		 "SYN-ACK retransmits per window on one listener"),
	{ 0 }
};

const struct diag_rule rule_synack_unacked = {
	.id = "synack_unacked",
	.explain = "This listener answers SYNs, but the final ACK of the handshake does not arrive: it retransmits SYN-ACKs and the connections stay half-open in SYN_RECV. Usual causes: the return path loses packets (asymmetric routing, NAT or a firewall dropping the ACK, path MTU), or a SYN flood from spoofed sources filling the half-open queue.",
	.fix = "Check the path back from the clients (firewall state, NAT, MTU); under a flood keep net.ipv4.tcp_syncookies=1 and raise net.ipv4.tcp_max_syn_backlog.",
	.thresholds = synack_thresholds,
	.eval = synack_eval,
};

const struct diag_rule rule_accept_queue_overflow = {
	.id = "accept_queue_overflow",
	.explain = "The listener's accept queue is full: the kernel has finished handshakes the application has not accept()ed yet. Further handshakes are dropped (TcpExtListenOverflows), and clients see SYN retransmits and connects that take seconds.",
	.fix = "Accept faster (more accepting threads, an event loop that drains accept() until EAGAIN) and raise the listen() backlog together with net.core.somaxconn.",
	.socket = listen_socket,
	.eval = accept_eval,
};
