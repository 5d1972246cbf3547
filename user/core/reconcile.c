// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/format.h"
#include "kernel/netns.h"
#include "kernel/owner.h"
#include "core/reconcile.h"
#include "kernel/sockdiag.h"
#include "core/table.h"

struct rec_ctx {
	const struct sock_filter *f;
	struct table *t;
	__u32 netns;
	__u64 start_ns, now_ns;
	bool seed;
	__u8 gen;
	reconcile_cb cb;
	void *cb_ctx;
	struct reconcile_result *r;
};

static void fill_from_sd(struct sock_entry *e, const struct sd_sock *s)
{
	if (s->inode)
		e->inode = s->inode;
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

	if (!filter_match(c->f, c->netns, s->sport, s->dport))
		return 0;
	c->r->sockets++;
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
		e->gen = c->gen;
		if (!c->seed) {
			c->r->added++;
			if (c->cb)
				c->cb(c->cb_ctx, e, TCPW_CLOSE, e->state);
		}
		return 0;
	}
	e->gen = c->gen;
	if (e->last_ns >= c->start_ns)
		return 0;	/* an event is newer than this dump */
	fill_from_sd(e, s);
	if (e->state != s->state) {
		__u8 old = e->state;

		err = put_state(c, e, s);
		if (err)
			return err;
		c->r->changed++;
		if (c->cb)
			c->cb(c->cb_ctx, e, old, e->state);
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

static bool in_list(const __u32 *v, __u32 n, __u32 inum)
{
	for (__u32 i = 0; i < n; i++)
		if (v[i] == inum)
			return true;
	return false;
}

bool filter_match(const struct sock_filter *f, __u32 netns, __u16 sport,
		  __u16 dport)
{
	if (f->netns && f->netns != netns)
		return false;
	if (!f->nr_ports)
		return true;
	for (int i = 0; i < f->nr_ports; i++)
		if (f->ports[i] == sport || f->ports[i] == dport)
			return true;
	return false;
}

int reconcile(struct table *t, struct netns_set *ns,
	      const struct sock_filter *f,
	      __u64 start_ns, bool seed, reconcile_cb cb, void *ctx,
	      struct reconcile_result *r)
{
	static __u8 gen;
	__u32 only = f->netns;
	struct rec_ctx c = {
		.f = f, .t = t, .start_ns = start_ns, .seed = seed, .cb = cb,
		.cb_ctx = ctx, .r = r,
	};
	struct sock_entry *e;
	__u32 i, *failed = NULL;
	int err;

	memset(r, 0, sizeof(*r));
	err = netns_refresh(ns, only);
	if (err < 0)
		return err;
	c.gen = ++gen;
	c.now_ns = mono_ns();
	failed = calloc(ns->n + 1, sizeof(*failed));
	if (!failed)
		return -ENOMEM;
	for (int n = 0; n < ns->n; n++) {
		c.netns = ns->v[n].inum;
		err = sd_dump(ns->v[n].diag_fd, SD_ALL_STATES, on_sock, &c);
		if (err == -ENOMEM) {
			free(failed);
			return err;
		}
		if (err < 0) {
			/* Leave that netns's entries as they are. */
			failed[r->failed++] = c.netns;
			continue;
		}
		r->netns++;
	}
	/* Gone from the kernel, and no event since the dump began. */
	table_for_each(t, e, i) {
		__u8 old;

		if (e->gen == c.gen || e->last_ns >= start_ns)
			continue;
		if (only && e->netns != only)
			continue;
		if (in_list(failed, r->failed, e->netns))
			continue;	/* can't tell: its dump failed */
		old = e->state;
		if (!seed) {
			r->removed++;
			if (cb)
				cb(ctx, e, old, TCPW_CLOSE);
		}
		table_remove(t, e);
	}
	free(failed);
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
	return resolve_owners(t, &r->owners);
}

/* inode -> table index, open addressing; built per resolve pass. */
struct ino_set {
	__u32 *ino, *idx;
	__u32 mask;
	struct table *t;
	__u32 found;
};

static bool want_ino(void *ctx, __u32 ino)
{
	struct ino_set *s = ctx;

	for (__u32 h = ino * 2654435761u & s->mask;; h = (h + 1) & s->mask) {
		if (!s->ino[h])
			return false;
		if (s->ino[h] == ino)
			return true;
	}
}

static void found_ino(void *ctx, __u32 ino, pid_t pid, int fd,
		      const char *comm)
{
	struct ino_set *s = ctx;

	for (__u32 h = ino * 2654435761u & s->mask;; h = (h + 1) & s->mask) {
		struct sock_entry *e;

		if (!s->ino[h])
			return;
		if (s->ino[h] != ino)
			continue;
		e = table_at(s->t, s->idx[h]);
		if (e && e->inode == ino) {
			e->pid = pid;
			memset(e->comm, 0, sizeof(e->comm));
			strncpy(e->comm, comm, sizeof(e->comm) - 1);
			e->owner_src = OWNER_PROCFS;
			s->found++;
		}
		return;
	}
}

int resolve_owners(struct table *t, __u32 *resolved)
{
	struct ino_set s = { .t = t };
	struct sock_entry *e;
	__u32 i, n = 0, size = 16;
	int err;

	*resolved = 0;
	table_for_each(t, e, i)
		if (e->inode && (e->owner_src == OWNER_NONE ||
				 e->owner_src == OWNER_LISTENER))
			n++;
	if (!n)
		return 0;
	while (size < n * 2)
		size <<= 1;
	s.ino = calloc(size, sizeof(*s.ino));
	s.idx = calloc(size, sizeof(*s.idx));
	if (!s.ino || !s.idx) {
		err = -ENOMEM;
		goto out;
	}
	s.mask = size - 1;
	table_for_each(t, e, i) {
		__u32 h;

		if (!e->inode || (e->owner_src != OWNER_NONE &&
				  e->owner_src != OWNER_LISTENER))
			continue;
		h = e->inode * 2654435761u & s.mask;
		while (s.ino[h] && s.ino[h] != e->inode)
			h = (h + 1) & s.mask;
		s.ino[h] = e->inode;
		s.idx[h] = i;
	}
	err = owner_scan(want_ino, found_ino, &s);
	*resolved = s.found;
	if (err > 0)
		err = 0;
out:
	free(s.ino);
	free(s.idx);
	return err;
}

struct port_ctx {
	struct table *t;
	__u32 learned;
};

static int on_syn_sent(void *ctx, const struct sd_sock *s)
{
	struct port_ctx *c = ctx;
	struct sock_entry *e = table_find(c->t, s->cookie);

	if (e && !e->sport && e->family == s->family) {
		e->sport = s->sport;
		memcpy(e->saddr, s->saddr, 16);
		c->learned++;
	}
	return 0;
}

static bool has_netns(const struct netns_set *ns, __u32 inum)
{
	for (int i = 0; i < ns->n; i++)
		if (ns->v[i].inum == inum)
			return true;
	return false;
}

int learn_ports(struct table *t, struct netns_set *ns,
		const struct sock_filter *f, __u32 *learned)
{
	struct port_ctx c = { .t = t };
	struct sock_entry *e;
	__u32 i, want[16];
	int n = 0, err;

	*learned = 0;
	table_for_each(t, e, i) {
		int k;

		if (e->state != TCPW_SYN_SENT || e->sport)
			continue;
		for (k = 0; k < n && want[k] != e->netns; k++)
			;
		if (k == n && n < 16)
			want[n++] = e->netns;
	}
	for (int k = 0; k < n; k++) {
		if (!has_netns(ns, want[k])) {
			err = netns_refresh(ns, f->netns);
			if (err < 0)
				return err;
			break;
		}
	}
	for (int j = 0; j < ns->n; j++) {
		int k;

		for (k = 0; k < n && want[k] != ns->v[j].inum; k++)
			;
		if (k == n)
			continue;
		err = sd_dump(ns->v[j].diag_fd, 1u << TCPW_SYN_SENT,
			      on_syn_sent, &c);
		if (err < 0 && err != -ENOENT)
			return err;
	}
	*learned = c.learned;
	return 0;
}
