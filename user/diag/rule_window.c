// SPDX-License-Identifier: GPL-2.0
/*
 * Flow control: a zero window or full send buffer (zero_window), unread
 * data filling the receive buffer (rcv_queue_full). One watch list and
 * one sock_diag check serve both.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/rule.h"
#include "kernel/sockdiag.h"

/* The current watch list is sorted by cookie (verify_windows). */
static struct watch *watch_find(struct watch *v, __u32 n, __u64 cookie)
{
	__u32 lo = 0, hi = n;

	while (lo < hi) {
		__u32 mid = lo + (hi - lo) / 2;

		if (v[mid].cookie == cookie)
			return &v[mid];
		if (v[mid].cookie < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_watch(const void *a, const void *b)
{
	const struct watch *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}


struct win_ctx {
	struct daemon *d;
	struct sweep *s;
};

/*
 * Samples come once a --sample-ms at most, so the last one can be
 * stale: a queue that drained right after it would look full until the
 * next. The kernel's own view of each candidate settles it.
 */
static int win_dump_cb(void *ctx, const struct sd_sock *x)
{
	struct win_ctx *c = ctx;
	struct watch *w = watch_find(c->s->watch, c->s->nwatch, x->cookie);
	struct sock_entry *e;

	if (!w || !x->has_mem)
		return 0;
	e = table_find(&c->d->tab, x->cookie);
	if (!e)
		return 0;
	w->checked = true;
	e->snap.rcv_queued = x->rqueue;
	e->snap.rcvbuf = x->rcvbuf;
	e->snap.sndbuf = x->sndbuf;
	e->snap.wmem_queued = x->wmem_queued;
	if (x->has_info)	/* tcpi_snd_wnd: 5.4+ */
		e->snap.snd_wnd = x->snd_wnd;
	if (x->has_wnd)		/* tcpi_rcv_wnd: 6.2+ */
		e->snap.rcv_wnd = x->rcv_wnd;
	return 0;
}

static void verify_windows(struct sweep *s)
{
	struct daemon *d = s->d;
	struct diag *g = s->g;
	struct win_ctx c = { .d = d, .s = s };

	qsort(s->watch, s->nwatch, sizeof(*s->watch), cmp_watch);
	for (__u32 i = 0; i < s->nns; i++) {
		/* candidates need today's queues: fresh each sweep */
		if (s->ns[i].watch)
			kq_dump(d, s->ns[i].inum, (1u << TCPW_ESTABLISHED) |
				(1u << TCPW_CLOSE_WAIT), s->now, win_dump_cb,
				&c);
	}
	for (__u32 i = 0; i < s->nwatch; i++) {
		struct watch *w = &s->watch[i];
		struct sock_entry *e = table_find(&d->tab, w->cookie);
		const struct sock_snap *p;

		if (!e || !w->checked) {
			w->snd_since = w->rcv_since = 0;	/* gone */
			continue;
		}
		p = &e->snap;
		if (!(p->wmem_queued && (!p->snd_wnd ||
		      p->wmem_queued >= g->o.buf_fill * p->sndbuf)))
			w->snd_since = 0;
		if (!(p->rcv_queued && (!p->rcv_wnd ||
		      p->rcv_queued >= g->o.rcv_fill * p->rcvbuf)))
			w->rcv_since = 0;
	}
}

/* side 0: the send side (zero_window), 1: the receive side */
static void windows_eval(struct sweep *s, const struct diag_rule *r,
			 int only)
{
	struct daemon *d = s->d;
	struct diag *g = s->g;
	__u64 now = s->now, hold = g->o.zero_window_s * NS;

	/* Once a sweep: this sweep's list becomes the current one. */
	if (!s->watch_ready) {
		struct watch *t = s->watch;

		s->watch = s->watch_next;
		s->watch_next = t;
		s->nwatch = s->nwatch_next;
		verify_windows(s);
		s->watch_ready = true;
	}
	for (__u32 i = 0; i < s->nwatch; i++) {
		struct watch *w = &s->watch[i];
		struct sock_entry *e = table_find(&d->tab, w->cookie);
		char sa[ADDR_STRLEN + 2], da[ADDR_STRLEN + 2];
		const struct sock_snap *p;
		struct finding_in *f;

		if (!e)
			continue;
		p = &e->snap;
		ep(sa, e->family, e->saddr);
		ep(da, e->family, e->daddr);
		for (int side = only; side == only; side++) {
			__u64 since = side ? w->rcv_since : w->snd_since;
			double fill;

			if (!since || now - since < hold)
				continue;
			f = diag_begin(s);
			diag_subject(f, e->netns, e->family);
			field_addr(&f->subj, "saddr", e->family, e->saddr);
			field_u64(&f->subj, "sport", e->sport);
			field_addr(&f->subj, "daddr", e->family, e->daddr);
			field_u64(&f->subj, "dport", e->dport);
			field_u64(&f->subj, "cookie", e->cookie);
			field_owner(&f->subj, e->pid, e->comm);
			snprintf(f->key, sizeof(f->key), "%u/cookie:%llu",
				 e->netns, (unsigned long long)e->cookie);
			if (!side) {
				fill = p->sndbuf ? (double)p->wmem_queued /
						   p->sndbuf : 0;
				field_u64(&f->ev, "snd_wnd", p->snd_wnd);
				field_u64(&f->ev, "wmem_queued", p->wmem_queued);
				field_u64(&f->ev, "sndbuf", p->sndbuf);
				field_real(&f->ev, "fill", fill);
				field_real(&f->ev, "for_s",
					 (double)(now - since) / NS);
				snprintf(f->summary, sizeof(f->summary),
					 "%s:%u -> %s:%u%s%.16s%s: %s, send buffer %.0f%% full (%u of %u bytes) for %.0f s",
					 sa, e->sport, da, e->dport,
					 e->pid ? " (" : "",
					 e->pid ? e->comm : "",
					 e->pid ? ")" : "",
					 p->snd_wnd ? "peer window open"
						    : "the peer advertises a zero window",
					 fill * 100, p->wmem_queued, p->sndbuf,
					 (double)(now - since) / NS);
				diag_report(s, r, SEV_WARNING);
			} else {
				fill = p->rcvbuf ? (double)p->rcv_queued /
						   p->rcvbuf : 0;
				field_u64(&f->ev, "rcv_queued", p->rcv_queued);
				field_u64(&f->ev, "rcvbuf", p->rcvbuf);
				field_u64(&f->ev, "rcv_wnd", p->rcv_wnd);
				field_real(&f->ev, "fill", fill);
				field_real(&f->ev, "for_s",
					 (double)(now - since) / NS);
				snprintf(f->summary, sizeof(f->summary),
					 "%s:%u <- %s:%u%s%.16s%s: %u bytes unread (%.0f%% of rcvbuf %u), advertised window %u, for %.0f s",
					 sa, e->sport, da, e->dport,
					 e->pid ? " (" : "",
					 e->pid ? e->comm : "",
					 e->pid ? ")" : "", p->rcv_queued,
					 fill * 100, p->rcvbuf, p->rcv_wnd,
					 (double)(now - since) / NS);
				diag_report(s, r, SEV_WARNING);
			}
		}
	}
}


static void windows_begin(struct sweep *s)
{
	s->nwatch_next = 0;
	s->watch_ready = false;
}

/* Flow control pushing back, on either side. */
static void windows_socket(struct sweep *s, struct sock_entry *e)
{
	const struct sock_snap *p = &e->snap;
	const struct diag_opts *o = &s->g->o;
	struct watch *old, *w;
	struct ns_info *n;
	bool snd, rcv;

	if ((e->state != TCPW_ESTABLISHED && e->state != TCPW_CLOSE_WAIT) ||
	    !e->has_snap)
		return;
	snd = p->wmem_queued &&
	      (!p->snd_wnd || p->wmem_queued >= o->buf_fill * p->sndbuf);
	rcv = p->rcv_queued &&
	      (!p->rcv_wnd || p->rcv_queued >= o->rcv_fill * p->rcvbuf);
	if ((!snd && !rcv) || s->nwatch_next >= WATCH_MAX)
		return;
	old = watch_find(s->watch, s->nwatch, e->cookie);
	w = &s->watch_next[s->nwatch_next++];
	w->cookie = e->cookie;
	w->checked = false;
	n = ns_info(s, e->netns);
	if (n)
		n->watch = true;
	w->snd_since = snd ? (old && old->snd_since ? old->snd_since
					     : s->now) : 0;
	w->rcv_since = rcv ? (old && old->rcv_since ? old->rcv_since
					     : s->now) : 0;
}

static void zero_window_eval(struct sweep *s, const struct diag_rule *r)
{
	windows_eval(s, r, 0);
}

static void rcv_queue_eval(struct sweep *s, const struct diag_rule *r)
{
	windows_eval(s, r, 1);
}

static const struct diag_threshold zw_thresholds[] = {
	DIAG_U32(zero_window_s, 5, 0, 86400,
		 "how long a zero window or full buffer must persist"),
	DIAG_REAL(buf_fill, 0.9, 0.01, 1,
		  "share of `sndbuf` that counts as a full send buffer"),
	{ 0 }
};

static const struct diag_threshold rcv_thresholds[] = {
	DIAG_REAL(rcv_fill, 0.5, 0.01, 1,
		  "share of `rcvbuf` that counts as a full receive queue. `rcvbuf` counts skb truesize, so payload rarely passes ~50-70% of it"),
	{ 0 }
};

const struct diag_rule rule_zero_window = {
	.id = "zero_window",
	.explain = "The peer advertises a zero receive window, or this socket's send buffer is full: the peer's application is not reading fast enough, and TCP flow control pushes back on the sender. Writes block or return EAGAIN.",
	.fix = "Look at the receiving application: is it stuck, slow, or not reading at all? The network is not the bottleneck here.",
	.thresholds = zw_thresholds,
	.begin = windows_begin,
	.socket = windows_socket,
	.eval = zero_window_eval,
};

const struct diag_rule rule_rcv_queue_full = {
	.id = "rcv_queue_full",
	.explain = "Data waits unread in this socket's receive queue, near its receive buffer: this host's application is not reading. TCP advertises a shrinking window and the sender stalls.",
	.fix = "Find why the owning process does not read (a blocked thread, a slow consumer); bigger buffers only postpone it.",
	.thresholds = rcv_thresholds,
	.eval = rcv_queue_eval,
};
