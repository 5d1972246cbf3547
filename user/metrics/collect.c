// SPDX-License-Identifier: GPL-2.0
/*
 * The loop's side of a scrape: one pass over the table, COLLECT_CHUNK
 * entries a tick, groups the sockets that hold a local ephemeral port
 * by destination (and by netns with --metrics-netns); at the end of the
 * pass the daemon's counters, the listeners from the sweep's sock_diag
 * cache and the findings are copied into a snapshot. A pass costs the
 * loop at most one chunk a tick, however large the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/dumps.h"
#include "diag/rule.h"
#include "metrics/collect.h"

#define COLLECT_CHUNK	65536	/* table entries a tick: ~1 ms */
#define DEST_MAX	65536	/* destinations a pass groups */
#define NS_MAX		4096	/* namespaces a pass tells apart */

struct dest {
	__u32 netns, used, next;
	__u16 family, port;
	__u8 addr[16];
};

struct cns {
	__u32 inum, lo, hi;
	bool listeners;
	__u32 by_state[TCPW_STATE_MAX];
	__u64 *ports;		/* --metrics-netns: a bit per local port */
};

struct collector {
	struct daemon *d;
	struct metrics_opts o;
	struct mcount c;
	bool busy;
	__u32 pos, ticks;
	__u64 spent_ns;
	struct dest *dests;
	__u32 ndests, *heads;
	__u64 dest_dropped;
	struct cns *ns;
	__u32 nns, ns_last;
};

#define DEST_BUCKETS	(DEST_MAX / 2)

struct collector *collect_new(struct daemon *d, const struct metrics_opts *o)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	c->o = *o;
	c->dests = malloc(DEST_MAX * sizeof(*c->dests));
	c->heads = malloc(DEST_BUCKETS * sizeof(*c->heads));
	c->ns = calloc(NS_MAX, sizeof(*c->ns));
	if (!c->dests || !c->heads || !c->ns) {
		collect_free(c);
		return NULL;
	}
	return c;
}

static void reset_ns(struct collector *c)
{
	for (__u32 i = 0; i < c->nns; i++)
		free(c->ns[i].ports);
	memset(c->ns, 0, c->nns * sizeof(*c->ns));
	c->nns = c->ns_last = 0;
}

void collect_free(struct collector *c)
{
	if (!c)
		return;
	if (c->ns)
		reset_ns(c);
	free(c->ns);
	free(c->dests);
	free(c->heads);
	free(c);
}

struct mcount *collect_counts(struct collector *c)
{
	return &c->c;
}

bool collect_busy(const struct collector *c)
{
	return c->busy;
}

void collect_start(struct collector *c)
{
	c->busy = true;
	c->pos = c->ticks = 0;
	c->spent_ns = 0;
	c->ndests = 0;
	c->dest_dropped = 0;
	memset(c->heads, 0xff, DEST_BUCKETS * sizeof(*c->heads));
	reset_ns(c);
}

static struct cns *ns_get(struct collector *c, __u32 inum)
{
	const struct kw_ns *k;
	struct cns *n;

	if (c->ns_last < c->nns && c->ns[c->ns_last].inum == inum)
		return &c->ns[c->ns_last];
	for (__u32 i = 0; i < c->nns; i++)
		if (c->ns[i].inum == inum)
			return &c->ns[c->ns_last = i];
	if (c->nns == NS_MAX)
		return NULL;
	n = &c->ns[c->nns];
	n->inum = inum;
	/* the worker's last reading of the port range: no file read here */
	k = kq_facts(c->d, inum);
	if (k && k->hi >= k->lo) {
		n->lo = k->lo;
		n->hi = k->hi;
	}
	c->ns_last = c->nns;
	return &c->ns[c->nns++];
}

static __u32 dest_hash(const struct sock_entry *e)
{
	__u32 h = e->netns * 2654435761u ^ e->dport * 40503u ^ e->family;

	for (int i = 0; i < 16; i++)
		h = (h ^ e->daddr[i]) * 16777619u;
	return h % DEST_BUCKETS;
}

static void dest_add(struct collector *c, const struct sock_entry *e)
{
	__u32 h = dest_hash(e), i;
	struct dest *x;

	for (i = c->heads[h]; i != TABLE_NIL; i = c->dests[i].next) {
		x = &c->dests[i];
		if (x->netns == e->netns && x->port == e->dport &&
		    x->family == e->family && !memcmp(x->addr, e->daddr, 16)) {
			x->used++;
			return;
		}
	}
	if (c->ndests == DEST_MAX) {
		c->dest_dropped++;
		return;
	}
	x = &c->dests[c->ndests];
	x->netns = e->netns;
	x->port = e->dport;
	x->family = e->family;
	memcpy(x->addr, e->daddr, 16);
	x->used = 1;
	x->next = c->heads[h];
	c->heads[h] = c->ndests++;
}

static void walk_one(struct collector *c, const struct sock_entry *e)
{
	struct cns *n = ns_get(c, e->netns);

	if (!n)
		return;
	if (e->state < TCPW_STATE_MAX)
		n->by_state[e->state]++;
	if (e->state == TCPW_LISTEN) {
		n->listeners = true;
		return;
	}
	/* a local ephemeral port held: a connect()ed socket, or its
	 * TIME_WAIT (0: SYN_SENT before its port is known) */
	if (!n->hi || e->sport < n->lo || e->sport > n->hi)
		return;
	dest_add(c, e);
	if (c->o.per_netns) {
		if (!n->ports)
			n->ports = calloc(65536 / 64, sizeof(__u64));
		if (n->ports)
			n->ports[e->sport / 64] |= 1ULL << (e->sport % 64);
	}
}

/*
 * Keep the k largest by a in top (n so far), a heap with the smallest
 * at top[0]: O(log k) a candidate, so k = METRICS_TOPK_MAX costs a
 * pass no more than a few comparisons per peer. Returns the new n.
 */
static __u32 topk_add(struct mpeer *top, __u32 n, __u32 k,
		      const struct mpeer *p)
{
	struct mpeer t;
	__u32 i, c;

	if (n < k) {
		for (i = n++, top[i] = *p; i && top[(i - 1) / 2].a > top[i].a;
		     i = (i - 1) / 2) {
			t = top[i];
			top[i] = top[(i - 1) / 2];
			top[(i - 1) / 2] = t;
		}
		return n;
	}
	if (!n || p->a <= top[0].a)
		return n;
	top[0] = *p;
	for (i = 0; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && top[c + 1].a < top[c].a)
			c++;
		if (top[i].a <= top[c].a)
			break;
		t = top[i];
		top[i] = top[c];
		top[c] = t;
	}
	return n;
}

static int by_a_desc(const void *x, const void *y)
{
	const struct mpeer *a = x, *b = y;

	return a->a < b->a ? 1 : a->a > b->a ? -1 : 0;
}

struct lst_ctx {
	struct msnap *s;
	const struct sock_filter *filter;
	__u32 netns, k;
};

static int listen_cb(void *ctx, const struct sd_sock *x)
{
	struct lst_ctx *l = ctx;
	struct mpeer p = {
		.netns = l->netns, .family = x->family, .port = x->sport,
		.a = x->rqueue, .b = x->wqueue,
	};

	/* the cache holds the netns's every listener: only -p's here */
	if (!filter_match(l->filter, l->netns, x->sport, x->dport, x->cgroup))
		return 0;
	memcpy(p.addr, x->saddr, 16);
	l->s->nlisteners = topk_add(l->s->listeners, l->s->nlisteners, l->k,
				    &p);
	return 0;
}

static void copy_daemon(struct msnap *s, struct daemon *d)
{
	struct tcpw_stats st;

	memcpy(s->by_state, d->tab.by_state, sizeof(s->by_state));
	memcpy(s->events, d->events, sizeof(s->events));
	memcpy(s->drops, d->drops, sizeof(s->drops));
	s->bad_records = d->bad_records;
	s->rec_runs = d->rec_runs;
	s->rec_added = d->rec_added;
	s->rec_removed = d->rec_removed;
	s->rec_changed = d->rec_changed;
	s->rec_owners = d->rec_owners;
	s->tw_inferred = d->tw_inferred;
	s->tw_expired = d->tw_expired;
	if (d->src && !source_stats(d->src, &st)) {
		s->ring_bytes = st.ring_bytes;
		s->ring_used = st.ring_used;
	}
	s->out_bytes = d->has_out ? d->out.written : 0;
	s->out_records = d->lines;
	s->out_dropped = d->outq.dropped_total;
	s->out_dropped_bytes = d->outq.dropped_bytes_total;
	s->table_count = d->tab.count;
	s->table_cap = d->tab.cap;
	s->table_bytes = (__u64)d->tab.cap * sizeof(struct sock_entry) +
			 ((__u64)d->tab.mask + 1) * sizeof(__u32);
	s->sweeps = d->diag.sweeps;
	s->sweep_ns_total = d->diag.sweep_ns_total;
	s->sweep_ns_max = d->diag.sweep_ns_max;
}

static struct msnap *finish(struct collector *c)
{
	struct daemon *d = c->d;
	struct msnap *s = calloc(1, sizeof(*s));
	__u32 k = c->o.topk;

	if (!s)
		return NULL;
	s->listeners = calloc(k ? k : 1, sizeof(*s->listeners));
	s->dests = calloc(k ? k : 1, sizeof(*s->dests));
	s->f_open = calloc(diag_nrules, sizeof(*s->f_open));
	s->f_opened = calloc(diag_nrules, sizeof(*s->f_opened));
	if (c->o.per_netns)
		s->ns = calloc(c->nns ? c->nns : 1, sizeof(*s->ns));
	if (!s->listeners || !s->dests || !s->f_open || !s->f_opened ||
	    (c->o.per_netns && !s->ns)) {
		msnap_free(s);
		return NULL;
	}
	copy_daemon(s, d);
	s->c = c->c;
	s->dest_dropped = c->dest_dropped;
	s->per_netns = c->o.per_netns;
	for (__u32 i = 0; i < c->ndests; i++) {
		const struct dest *x = &c->dests[i];
		const struct cns *n = ns_get(c, x->netns);
		struct mpeer p = {
			.netns = x->netns, .family = x->family,
			.port = x->port, .a = x->used,
			.b = n ? n->hi - n->lo + 1 : 0,
		};

		memcpy(p.addr, x->addr, 16);
		s->ndests = topk_add(s->dests, s->ndests, k, &p);
	}
	for (__u32 i = 0; i < c->nns; i++) {
		struct cns *n = &c->ns[i];
		const struct kw_ns *f = kq_facts(d, n->inum);
		struct lst_ctx l = {
			.s = s, .filter = &d->o.filter, .netns = n->inum,
			.k = k,
		};

		if (f)
			s->overflows += f->overflows;
		/* the sweep's cache, never a new dump: may be a sweep old */
		if (n->listeners && k)
			kq_dump(d, n->inum, 1u << TCPW_LISTEN, 0, listen_cb,
				&l);
		if (c->o.per_netns) {
			struct mns *m = &s->ns[s->nns++];

			m->inum = n->inum;
			memcpy(m->by_state, n->by_state, sizeof(m->by_state));
			m->range = n->hi ? n->hi - n->lo + 1 : 0;
			for (__u32 w = 0; n->ports && w < 65536 / 64; w++)
				m->ports_used += __builtin_popcountll(n->ports[w]);
			m->overflows = f ? f->overflows : 0;
		}
	}
	qsort(s->dests, s->ndests, sizeof(*s->dests), by_a_desc);
	qsort(s->listeners, s->nlisteners, sizeof(*s->listeners), by_a_desc);
	findings_count(d->diag.f, s->f_open, s->f_opened);
	s->collect_ticks = c->ticks;
	c->busy = false;
	return s;
}

struct msnap *collect_step(struct collector *c)
{
	struct table *t = &c->d->tab;
	__u64 t0 = mono_ns();
	__u32 end = c->pos + COLLECT_CHUNK;
	struct msnap *s = NULL;

	if (!c->busy)
		return NULL;
	if (end > t->used)
		end = t->used;
	for (; c->pos < end; c->pos++) {
		const struct sock_entry *e = table_at(t, c->pos);

		if (e)
			walk_one(c, e);
	}
	c->ticks++;
	if (c->pos >= t->used)
		s = finish(c);
	c->spent_ns += mono_ns() - t0;
	if (s)
		s->collect_ns = c->spent_ns;
	return s;
}

void msnap_free(struct msnap *s)
{
	if (!s)
		return;
	free(s->listeners);
	free(s->dests);
	free(s->ns);
	free(s->f_open);
	free(s->f_opened);
	free(s);
}
