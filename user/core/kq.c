// SPDX-License-Identifier: GPL-2.0
/*
 * The sweep's view of the kernel (dumps.h, kq_*): per-netns caches of
 * the sockets the rules ask about, refreshed on the kernel worker only
 * when a rule needs newer data, a bounded number a tick.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/dumps.h"
#include "core/dumps_priv.h"

void kq_cache_done(struct daemon *d, struct kw_job *j)
{
	struct dumps *k = d->dumps;
	struct ns_rec *r = ns_find(k, j->netns);
	struct kq_cache *c;

	k->sweep_jobs--;
	if (!r)
		return;
	c = j->tag == TAG_LST ? &r->lst : &r->eh;
	c->busy = false;
	if (j->err)
		return;
	if (j->has_facts)
		r->f = j->facts;
	free(c->v);
	c->v = j->socks;
	c->n = j->nsocks;
	j->socks = NULL;
	c->states = j->states;
	c->ns = j->start_ns;
	c->valid = true;
	if (j->tag == TAG_LST) {
		r->lst_full = false;
		for (__u32 i = 0; i < c->n; i++)
			if (c->v[i].rqueue >= c->v[i].wqueue)
				r->lst_full = true;
		return;
	}
	if (j->states & (1u << TCPW_CLOSE_WAIT)) {
		/* The fds of the CLOSE_WAIT sockets: their owners first. */
		struct kw_job *o = kw_job_new(KW_OWNERS, TAG_CW_OWNERS, NULL);
		__u32 n = 0;

		if (!o)
			return;
		o->netns = r->f.inum;
		o->inodes = calloc(c->n + 1, sizeof(*o->inodes));
		o->pids = calloc(KQ_PIDS, sizeof(*o->pids));
		if (!o->inodes || !o->pids) {
			kw_job_free(o);
			return;
		}
		for (__u32 i = 0; i < c->n; i++)
			if (c->v[i].state == TCPW_CLOSE_WAIT && c->v[i].inode)
				o->inodes[n++] = c->v[i].inode;
		o->ninodes = n;
		for (__u32 i = 0; i < r->npids; i++)
			o->pids[o->npids++] = (pid_t)r->pids[i];
		o->all_procs = true;
		r->npids = 0;
		if (!n) {
			kw_job_free(o);
			free(r->own);
			r->own = NULL;
			r->nown = 0;
			return;
		}
		k->sweep_jobs++;
		dumps_submit(d, o);
	}
}

void kq_owners_done(struct daemon *d, struct kw_job *j)
{
	struct ns_rec *r = ns_find(d->dumps, j->netns);

	d->dumps->sweep_jobs--;
	if (!r)
		return;
	free(r->own);
	r->own = j->owners;
	r->nown = j->nowners;
	j->owners = NULL;
}

int kq_dump(struct daemon *d, __u32 netns, __u32 states, __u64 since,
	    sd_cb cb, void *ctx)
{
	struct dumps *k = d->dumps;
	struct ns_rec *r = k ? ns_get(k, netns) : NULL;
	bool lst = states == (1u << TCPW_LISTEN);
	struct kq_cache *c;
	int n = 0;

	if (!r)
		return -EAGAIN;
	c = lst ? &r->lst : &r->eh;
	/* A listener's queue is worth a look when the netns dropped a
	 * handshake since the last one, or while one was full. */
	if (lst && (!c->valid || r->f.overflows != r->lst_overflows ||
		    r->lst_full))
		since = mono_ns();
	if (!c->valid || c->ns < since || (c->states & states) != states) {
		if (!k->req_ns)
			k->req_ns = mono_ns();
		c->req = true;
		c->want |= states;
	}
	if (!c->valid)
		return -EAGAIN;
	for (__u32 i = 0; i < c->n; i++) {
		int err;

		if (!(states & (1u << c->v[i].state)))
			continue;
		err = cb(ctx, &c->v[i]);
		if (err < 0)
			return err;
		n++;
	}
	return n;
}

const struct kw_ns *kq_facts(struct daemon *d, __u32 netns)
{
	struct ns_rec *r = d->dumps ? ns_find(d->dumps, netns) : NULL;

	return r ? &r->f : NULL;
}

int kq_set_facts(struct daemon *d, const struct kw_ns *f)
{
	struct ns_rec *r = d->dumps ? ns_get(d->dumps, f->inum) : NULL;

	if (!r)
		return d->dumps ? -ENOMEM : -EINVAL;
	r->f = *f;
	return 0;
}

const struct kw_owner *kq_owner(struct daemon *d, __u32 netns,
				__u32 inode)
{
	struct ns_rec *r = d->dumps ? ns_find(d->dumps, netns) : NULL;

	for (__u32 i = 0; r && i < r->nown; i++)
		if (r->own[i].inode == inode)
			return &r->own[i];
	return NULL;
}

void kq_want_pid(struct daemon *d, __u32 netns, __u32 pid)
{
	struct ns_rec *r = d->dumps && pid ? ns_get(d->dumps, netns) : NULL;

	if (!r)
		return;
	for (__u32 i = 0; i < r->npids; i++)
		if (r->pids[i] == pid)
			return;
	if (r->npids < KQ_PIDS)
		r->pids[r->npids++] = pid;
}

/*
 * At most KQ_DUMPS_PER_TICK refreshes in flight: the sweep's work is
 * bounded however many namespaces ask. What a sweep asked for is
 * fetched just before the next sweep (KQ_LEAD_NS), so that the data it
 * reads is that recent, not a whole sweep old.
 */
void kq_refresh(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;

	__u64 wait = d->diag.o.sweep_ms * 1000000ULL;
	bool left = false;

	/* `diag` sweeps on demand and moves next_sweep_ns: a request
	 * never waits longer than a sweep period for its refresh. */
	wait = wait > KQ_LEAD_NS ? wait - KQ_LEAD_NS : 0;
	if (!k->req_ns || (now + KQ_LEAD_NS < d->diag.next_sweep_ns &&
			   now - k->req_ns < wait))
		return;

	for (__u32 i = 0; i < k->nns && k->sweep_jobs < KQ_DUMPS_PER_TICK;
	     i++) {
		struct ns_rec *r = &k->ns[i];

		for (int l = 0; l < 2; l++) {
			struct kq_cache *c = l ? &r->lst : &r->eh;
			struct kw_job *j;

			if (!c->req)
				continue;
			if (c->busy || k->sweep_jobs >= KQ_DUMPS_PER_TICK) {
				left = true;
				continue;
			}
			j = kw_job_new(KW_DUMP, l ? TAG_LST : TAG_EH, NULL);
			if (!j)
				return;
			j->netns = r->f.inum;
			j->states = c->want;
			c->req = false;
			c->want = 0;
			c->busy = true;
			if (l)
				r->lst_overflows = r->f.overflows;
			k->sweep_jobs++;
			dumps_submit(d, j);
		}
	}
	for (__u32 i = 0; i < k->nns && !left; i++)
		left = k->ns[i].eh.req || k->ns[i].lst.req;
	if (!left)
		k->req_ns = 0;
}
