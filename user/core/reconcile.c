// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/format.h"
#include "kernel/netns.h"
#include "kernel/kworker.h"
#include "core/cgcache.h"
#include "core/reconcile.h"
#include "kernel/sockdiag.h"
#include "core/table.h"

struct rec_ctx {
	struct table *t;
	struct rec_round *rr;
	__u32 netns;
	__u64 start_ns, now_ns;
};

static void fill_from_sd(struct sock_entry *e, const struct sd_sock *s)
{
	if (s->inode)
		e->inode = s->inode;
	if (s->cgroup)
		e->cgroup = s->cgroup;
	/* Not from a record: the next record's snap is written in full. */
	if (s->has_info || s->has_mem)
		e->flags &= ~SOCK_SNAP_OUT;
	if (s->has_info) {
		e->snap.bytes_acked = s->bytes_acked;
		e->snap.bytes_received = s->bytes_received;
		e->snap.snd_wnd = s->snd_wnd;
		e->snap.rcv_wnd = s->rcv_wnd;
		e->snap.snd_cwnd = s->snd_cwnd;
		e->snap.srtt_us = s->srtt_us;
		e->snap.total_retrans = s->total_retrans;
		e->snap.data_segs_out = s->data_segs_out;
		e->snap.rcv_queued = s->state == TCPW_LISTEN ? 0 : s->rqueue;
		e->has_snap = 1;
	}
	if (s->has_mem) {
		e->snap.rcvbuf = s->rcvbuf;
		e->snap.sndbuf = s->sndbuf;
		e->snap.wmem_queued = s->wmem_queued;
	}
}

/* Timewait sockets (and orphans waiting for a FIN) carry no inode. */
static bool sd_is_tw(const struct sd_sock *s)
{
	return s->state == TCPW_TIME_WAIT ||
	       (s->state == TCPW_FIN_WAIT2 && !s->inode);
}

static int put_state(struct rec_ctx *c, struct sock_entry *e,
		     const struct sd_sock *s)
{
	if (sd_is_tw(s))
		return table_make_tw(c->t, e, s->state, c->now_ns,
				     c->now_ns + s->expires_ms * 1000000ULL);
	table_set_state(c->t, e, s->state, c->now_ns);
	return 0;
}

static int on_sock(void *ctx, const struct sd_sock *s)
{
	struct rec_ctx *c = ctx;
	struct sock_entry *e = table_find(c->t, s->cookie);
	bool created;
	int err;

	struct rec_round *rr = c->rr;

	/*
	 * A socket the table tracks is the dump's business even when the
	 * filter cannot tell (a timewait sock has no cgroup id): else
	 * --cgroup would drop its TIME_WAITs as gone from the kernel.
	 */
	if (!e && !filter_match(rr->f, c->netns, s->sport, s->dport,
				s->cgroup))
		return 0;
	rr->r.sockets++;
	/*
	 * Removed by an event while this round ran: the dump may predate
	 * that event (it was applied later), and must not bring it back.
	 */
	if (!e && rr->was_removed && rr->was_removed(rr->cb_ctx, s->cookie))
		return 0;
	if (!e) {
		e = table_get(c->t, s->cookie, &created);
		if (!e)
			return -ENOMEM;
		e->netns = c->netns;
		e->family = s->family;
		e->sport = s->sport;
		e->dport = s->dport;
		memcpy(e->saddr, s->saddr, 16);
		memcpy(e->daddr, s->daddr, 16);
		e->birth_ns = e->last_ns = c->now_ns;
		e->flags |= SOCK_SEEDED;
		fill_from_sd(e, s);
		err = put_state(c, e, s);
		if (err)
			return err;
		e->gen = rr->gen;
		if (!rr->seed) {
			rr->r.added++;
			if (rr->cb)
				rr->cb(rr->cb_ctx, e, TCPW_CLOSE, e->state);
		}
		return 0;
	}
	e->gen = rr->gen;
	/*
	 * The start-up seed finds a socket that an event (a module's first
	 * sample walk, a retransmit) put in the table before it, with no
	 * transition seen: it is older than the daemon all the same.
	 */
	if (rr->seed && !e->nhist)
		e->flags |= SOCK_SEEDED;
	if (e->last_ns >= c->start_ns)
		return 0;	/* an event is newer than this dump */
	fill_from_sd(e, s);
	if (e->state != s->state) {
		__u8 old = e->state;

		err = put_state(c, e, s);
		if (err)
			return err;
		rr->r.changed++;
		if (rr->cb)
			rr->cb(rr->cb_ctx, e, old, e->state);
	} else if (sd_is_tw(s)) {
		/* The kernel's timer is the truth for when it goes. */
		__u64 exp = c->now_ns + s->expires_ms * 1000000ULL;

		if (e->expire_ns > exp + 1000000000ULL ||
		    e->expire_ns + 1000000000ULL < exp) {
			err = table_make_tw(c->t, e, s->state, e->state_ns,
					    exp);
			if (err)
				return err;
		}
	}
	return 0;
}

bool filter_match(const struct sock_filter *f, __u32 netns, __u16 sport,
		  __u16 dport, __u64 cgroup)
{
	if (f->netns && f->netns != netns)
		return false;
	if (f->cgroup && !cgc_under(f->cgc, cgroup, f->cgroup,
				    f->cgroup_path))
		return false;
	if (!f->nr_ports)
		return true;
	for (int i = 0; i < f->nr_ports; i++)
		if (f->ports[i] == sport || f->ports[i] == dport)
			return true;
	return false;
}

void rec_round_begin(struct rec_round *rr, const struct sock_filter *f,
		     bool seed, reconcile_cb cb, void *ctx,
		     bool (*was_removed)(void *ctx, __u64 cookie))
{
	static __u8 gen;

	memset(rr, 0, sizeof(*rr));
	rr->f = f;
	rr->seed = seed;
	rr->cb = cb;
	rr->cb_ctx = ctx;
	rr->was_removed = was_removed;
	rr->gen = ++gen;
}

int rec_round_apply(struct table *t, struct rec_round *rr, __u32 netns,
		    __u64 start_ns, const struct sd_sock *v, __u32 n)
{
	struct rec_ctx c = {
		.t = t, .rr = rr, .netns = netns, .start_ns = start_ns,
		.now_ns = mono_ns(),
	};
	int err;

	/* Even a partial result's sockets are applied; the removal pass
	 * needs the whole netns: rec_round_netns_done lists it. */
	for (__u32 i = 0; i < n; i++) {
		err = on_sock(&c, &v[i]);
		if (err)
			return err;
	}
	return 0;
}

int rec_round_netns_done(struct rec_round *rr, __u32 netns, __u64 start_ns)
{
	if (rr->ndumped == rr->dumped_cap) {
		__u32 cap = rr->dumped_cap ? rr->dumped_cap * 2 : 16;
		void *p = realloc(rr->dumped, cap * sizeof(*rr->dumped));

		if (!p)
			return -ENOMEM;
		rr->dumped = p;
		rr->dumped_cap = cap;
	}
	rr->dumped[rr->ndumped].inum = netns;
	rr->dumped[rr->ndumped].start_ns = start_ns;
	rr->ndumped++;
	rr->r.netns++;
	return 0;
}

int rec_round_netns(struct table *t, struct rec_round *rr, __u32 netns,
		    __u64 start_ns, const struct sd_sock *v, __u32 n)
{
	int err = rec_round_apply(t, rr, netns, start_ns, v, n);

	return err ? err : rec_round_netns_done(rr, netns, start_ns);
}

static int cmp_dumped(const void *a, const void *b)
{
	const struct rec_dumped *x = a, *y = b;

	return x->inum < y->inum ? -1 : x->inum > y->inum;
}

int rec_round_end(struct table *t, struct rec_round *rr)
{
	struct sock_entry *e;
	__u32 i;

	qsort(rr->dumped, rr->ndumped, sizeof(*rr->dumped), cmp_dumped);
	/*
	 * Gone from the kernel, and no event since its netns's dump began.
	 * Only namespaces dumped whole in this round: a netns that could
	 * not be opened (its name deleted while sockets live on), or whose
	 * dump failed, keeps its entries until events or a later dump say
	 * otherwise.
	 */
	table_for_each(t, e, i) {
		struct rec_dumped key = { .inum = e->netns }, *dn;
		__u8 old;

		if (e->gen == rr->gen)
			continue;
		dn = rr->ndumped ? bsearch(&key, rr->dumped, rr->ndumped,
					   sizeof(key), cmp_dumped) : NULL;
		if (!dn || e->last_ns >= dn->start_ns)
			continue;
		old = e->state;
		if (!rr->seed) {
			rr->r.removed++;
			if (rr->cb)
				rr->cb(rr->cb_ctx, e, old, TCPW_CLOSE);
		}
		table_remove(t, e);
	}
	free(rr->dumped);
	rr->dumped = NULL;
	rr->ndumped = rr->dumped_cap = 0;
	/* Request sockets seeded before their listener: inherit now. */
	table_for_each(t, e, i) {
		struct sock_entry *l;

		if (e->state != TCPW_SYN_RECV || e->owner_src != OWNER_NONE)
			continue;
		l = table_listener(t, e->netns, e->family, e->sport);
		if (l && l->pid) {
			e->pid = l->pid;
			memcpy(e->comm, l->comm, sizeof(e->comm));
			e->owner_src = OWNER_LISTENER;
		}
	}
	return 0;
}

void rec_round_free(struct rec_round *rr)
{
	free(rr->dumped);
	rr->dumped = NULL;
	rr->ndumped = rr->dumped_cap = 0;
}

/* The entries whose owner only /proc can tell. */
static bool owner_unknown(const struct sock_entry *e)
{
	return e->inode && (e->owner_src == OWNER_NONE ||
			    e->owner_src == OWNER_LISTENER);
}

__u32 *owners_wanted(struct table *t, __u32 *n)
{
	struct sock_entry *e;
	__u32 i, k = 0, *v;

	*n = 0;
	table_for_each(t, e, i)
		if (owner_unknown(e))
			k++;
	if (!k)
		return NULL;
	v = malloc(k * sizeof(*v));
	if (!v)
		return NULL;
	table_for_each(t, e, i)
		if (owner_unknown(e) && *n < k)
			v[(*n)++] = e->inode;
	return v;
}

static int cmp_owner(const void *a, const void *b)
{
	const struct kw_owner *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

__u32 owners_apply(struct table *t, struct kw_owner *o, __u32 n)
{
	struct sock_entry *e;
	__u32 i, found = 0;

	if (!n)
		return 0;
	qsort(o, n, sizeof(*o), cmp_owner);
	/* The table moved on while /proc was read: match by inode again,
	 * and only entries whose owner is still unknown. */
	table_for_each(t, e, i) {
		struct kw_owner key = { .inode = e->inode }, *w;

		if (!owner_unknown(e))
			continue;
		w = bsearch(&key, o, n, sizeof(key), cmp_owner);
		if (!w)
			continue;
		e->pid = (__u32)w->pid;
		memset(e->comm, 0, sizeof(e->comm));
		memcpy(e->comm, w->comm, sizeof(e->comm) - 1);
		e->owner_src = OWNER_PROCFS;
		found++;
	}
	return found;
}

int ports_wanted(struct table *t, __u32 *want, int max)
{
	struct sock_entry *e;
	__u32 i;
	int n = 0;

	table_for_each(t, e, i) {
		int k;

		if (e->state != TCPW_SYN_SENT || e->sport)
			continue;
		for (k = 0; k < n && want[k] != e->netns; k++)
			;
		if (k == n && n < max)
			want[n++] = e->netns;
	}
	return n;
}

__u32 ports_apply(struct table *t, const struct sd_sock *v, __u32 n)
{
	__u32 learned = 0;

	for (__u32 i = 0; i < n; i++) {
		struct sock_entry *e = table_find(t, v[i].cookie);

		if (e && !e->sport && e->state == TCPW_SYN_SENT &&
		    e->family == v[i].family) {
			e->sport = v[i].sport;
			memcpy(e->saddr, v[i].saddr, 16);
			learned++;
		}
	}
	return learned;
}
