// SPDX-License-Identifier: GPL-2.0
/*
 * CLOSE_WAIT leaks, per process: the peer closed, the owner never did.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/rule.h"
#include "kernel/sockdiag.h"

#define CW_LIST_MAX	10	/* sockets listed in a CLOSE_WAIT finding */


struct cw_ctx {
	struct daemon *d;
	struct sweep *s;
	__u32 netns;
};

static struct cw_sock *cw_by_cookie(struct daemon *d, struct sweep *s,
				    __u32 netns, __u64 cookie)
{
	for (__u32 i = 0; i < s->ncw; i++) {
		struct sock_entry *e = &d->tab.v[s->cw[i].idx];

		if (e->cookie == cookie && e->netns == netns)
			return &s->cw[i];
	}
	return NULL;
}

static int cw_dump_cb(void *ctx, const struct sd_sock *x)
{
	struct cw_ctx *c = ctx;
	struct cw_sock *w = cw_by_cookie(c->d, c->s, c->netns, x->cookie);

	if (w) {
		w->live = true;
		w->inode = x->inode;
		/* rcv_nxt - copied_seq counts the peer's FIN until read()
		 * returns 0: leave it out, report data bytes */
		w->unread = x->rqueue ? x->rqueue - 1 : 0;
	}
	return 0;
}

/* The owner and fd the worker's /proc scan found for a socket. */
static void cw_owner(struct cw_ctx *c, struct cw_sock *w)
{
	struct sock_entry *e = &c->d->tab.v[w->idx];
	const struct kw_owner *o = kq_owner(c->d, e->netns, w->inode);

	if (!o)
		return;
	w->fd = (__u32)o->fd + 1;	/* 0: unknown */
	if (e->pid != (__u32)o->pid || e->owner_src != OWNER_PROCFS) {
		e->pid = (__u32)o->pid;
		memcpy(e->comm, o->comm, sizeof(e->comm));
		e->owner_src = OWNER_PROCFS;
	}
}

static int cmp_cw(const void *a, const void *b, void *tab)
{
	const struct cw_sock *x = a, *y = b;
	const struct sock_entry *v = tab, *ex = &v[x->idx], *ey = &v[y->idx];

	if (ex->netns != ey->netns)
		return ex->netns < ey->netns ? -1 : 1;
	if (ex->pid != ey->pid)
		return ex->pid < ey->pid ? -1 : 1;
	return ex->state_ns < ey->state_ns ? -1 : ex->state_ns > ey->state_ns;
}

static void cw_report(struct sweep *s, const struct diag_rule *r,
		      __u32 from, __u32 to)
{
	struct daemon *d = s->d;
	__u64 now = s->now;
	struct sock_entry *first = &d->tab.v[s->cw[from].idx];
	struct finding_in *f;
	__u64 unread = 0;
	__u32 n = 0, listed = 0;
	char fds[64] = "", cg[160], in[176] = "";
	size_t fl = 0;

	for (__u32 i = from; i < to; i++) {
		if (!s->cw[i].live)
			continue;
		n++;
		unread += s->cw[i].unread;
	}
	if (!n)
		return;
	f = diag_begin(s);
	field_u64(&f->subj, "netns", first->netns);
	field_owner(&f->subj, first->pid, first->comm);
	field_cgroup(&f->subj, first->cgroup);

	field_u64(&f->ev, "sockets", n);
	for (__u32 i = from; i < to; i++)	/* oldest first: sorted */
		if (s->cw[i].live) {
			field_real(&f->ev, "oldest_s",
				 (double)(now - d->tab.v[s->cw[i].idx].state_ns) / NS);
			break;
		}
	field_u64(&f->ev, "unread_bytes", unread);
	field_list(&f->ev, "list");
	for (__u32 i = from; i < to && listed < CW_LIST_MAX; i++) {
		struct cw_sock *w = &s->cw[i];
		struct sock_entry *e = &d->tab.v[w->idx];

		if (!w->live)
			continue;
		listed++;
		field_object(&f->ev);
		if (w->fd) {
			field_u64(&f->ev, "fd", w->fd - 1);
			if (fl < sizeof(fds) - 12)
				fl += snprintf(fds + fl, sizeof(fds) - fl,
					       "%s%u", fl ? "," : "",
					       w->fd - 1);
		} else {
			field_null(&f->ev, "fd");
		}
		field_addr(&f->ev, "saddr", e->family, e->saddr);
		field_u64(&f->ev, "sport", e->sport);
		field_addr(&f->ev, "daddr", e->family, e->daddr);
		field_u64(&f->ev, "dport", e->dport);
		field_real(&f->ev, "age_s", (double)(now - e->state_ns) / NS);
		field_u64(&f->ev, "unread", w->unread);
		field_u64(&f->ev, "cookie", e->cookie);
		field_end(&f->ev);
	}
	field_end(&f->ev);

	snprintf(f->key, sizeof(f->key), "%u/pid:%u", first->netns,
		 first->pid);
	/* who it is, not only which pid: the service or container */
	if (*cgc_words(&d->cg, first->cgroup, cg, sizeof(cg)))
		snprintf(in, sizeof(in), " in %s", cg);
	if (first->pid)
		snprintf(f->summary, sizeof(f->summary),
			 "pid %u (%.16s)%s holds %u socket%s in CLOSE_WAIT for more than %u s (fd %s%s), %llu bytes unread",
			 first->pid, first->comm, in, n, n == 1 ? "" : "s",
			 d->diag.o.close_wait_s, fl ? fds : "?",
			 n > listed ? ",..." : "",
			 (unsigned long long)unread);
	else
		snprintf(f->summary, sizeof(f->summary),
			 "%u socket%s%s in CLOSE_WAIT for more than %u s, owner unknown, %llu bytes unread",
			 n, n == 1 ? "" : "s", in, d->diag.o.close_wait_s,
			 (unsigned long long)unread);
	diag_report(s, r, n >= 100 ? SEV_CRITICAL : SEV_WARNING);
}

static void close_wait_eval(struct sweep *s, const struct diag_rule *r)
{
	struct daemon *d = s->d;
	struct cw_ctx c = { .d = d, .s = s };
	__u32 from = 0;

	if (!s->ncw)
		return;
	/*
	 * The kernel's view (still in CLOSE_WAIT, the inode, unread bytes)
	 * and the owners' fds come from the worker's last dump of each
	 * netns. It must be newer than the newest candidate's CLOSE_WAIT;
	 * if it is not, a refresh is asked for and the candidate waits for
	 * the next sweep. Sockets that stay in CLOSE_WAIT cost nothing.
	 */
	for (__u32 i = 0; i < s->nns; i++) {
		if (!s->ns[i].cw)
			continue;
		c.netns = s->ns[i].inum;
		kq_dump(d, c.netns, 1u << TCPW_CLOSE_WAIT, s->ns[i].cw_since,
			cw_dump_cb, &c);
	}
	for (__u32 i = 0; i < s->ncw; i++)
		if (s->cw[i].live && s->cw[i].inode)
			cw_owner(&c, &s->cw[i]);
	qsort_r(s->cw, s->ncw, sizeof(*s->cw), cmp_cw, d->tab.v);
	for (__u32 i = 1; i <= s->ncw; i++) {
		const struct sock_entry *a = &d->tab.v[s->cw[from].idx];
		const struct sock_entry *b;

		if (i < s->ncw) {
			b = &d->tab.v[s->cw[i].idx];
			if (a->netns == b->netns && a->pid == b->pid)
				continue;
		}
		cw_report(s, r, from, i);
		from = i;
	}
}


static void close_wait_begin(struct sweep *s)
{
	s->ncw = 0;
}

static void close_wait_socket(struct sweep *s, struct sock_entry *e)
{
	struct ns_info *n;

	if (e->state != TCPW_CLOSE_WAIT ||
	    s->now - e->state_ns < s->g->o.close_wait_s * NS ||
	    !grow((void **)&s->cw, &s->cw_cap, s->ncw, sizeof(*s->cw)))
		return;
	s->cw[s->ncw++] = (struct cw_sock){
		.idx = (__u32)(e - s->d->tab.v) };
	n = ns_info(s, e->netns);
	if (n) {
		n->cw = true;
		if (e->state_ns > n->cw_since)
			n->cw_since = e->state_ns;
	}
	kq_want_pid(s->d, e->netns, e->pid);
}

static const struct diag_threshold cw_thresholds[] = {
	DIAG_U32(close_wait_s, 60, 0, 86400,
		 "CLOSE_WAIT older than this is a leak"),
	{ 0 }
};

const struct diag_rule rule_close_wait_leak = {
	.id = "close_wait_leak",
	.explain = "The peer closed these connections (its FIN arrived) but the owning process never called close(): the sockets stay in CLOSE_WAIT, holding a file descriptor and memory, for as long as the process lives. This is almost always an application bug.",
	.fix = "Find the code path that drops a connection without closing it (an error branch, a timeout, a pool that loses sockets) and close on EOF (read() returning 0). Restarting the process frees the sockets but does not fix the leak.",
	.thresholds = cw_thresholds,
	.begin = close_wait_begin,
	.socket = close_wait_socket,
	.eval = close_wait_eval,
};
