// SPDX-License-Identifier: GPL-2.0
/*
 * The sweep: every sweep_ms, one walk of the table feeds every rule's
 * socket hook, then every rule evaluates (diag/rule.h). The catalogue,
 * with the TCP mechanics behind each rule, is Documentation/diagnostics.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/rule.h"
#include "diag/sweep.h"
#include "core/dumps.h"

/* ---- helpers for the rules ----------------------------------------------- */

struct finding_in *diag_begin(struct sweep *s)
{
	struct finding_in *f = &s->f;

	fields_reset(&f->subj);
	fields_reset(&f->ev);
	f->key[0] = f->summary[0] = 0;
	return f;
}

void diag_subject(struct finding_in *f, __u32 netns, __u16 family)
{
	field_u64(&f->subj, "netns", netns);
	field_name(&f->subj, "family", family_name(family));
}

struct finding_in *diag_begin_peer(struct sweep *s, const struct agg *a,
				   char da[ADDR_STRLEN + 2])
{
	struct finding_in *f = diag_begin(s);

	ep(da, a->family, a->addr);
	diag_subject(f, a->netns, a->family);
	field_addr(&f->subj, "daddr", a->family, a->addr);
	if (a->type == AGG_HOST) {
		snprintf(f->key, sizeof(f->key), "%u/%s", a->netns, da);
	} else {
		field_u64(&f->subj, "dport", a->port);
		snprintf(f->key, sizeof(f->key), "%u/%s:%u", a->netns, da,
			 a->port);
	}
	return f;
}

void diag_report(struct sweep *s, const struct diag_rule *r,
		 enum severity sev)
{
	s->f.rule = r;
	s->f.sev = sev;
	finding_report(s->d, &s->f, s->now);
}

const char *ep(char *out, __u16 family, const __u8 *addr)
{
	char a[ADDR_STRLEN];

	a[addr_str(a, family, addr)] = 0;
	snprintf(out, ADDR_STRLEN + 2, family == AF_INET6 ? "[%s]" : "%s", a);
	return out;
}

double span_s(const struct diag *g, const struct agg *a, __u64 now)
{
	__u64 w = g->o.window_s * NS, from = a->cur_ns - w;
	double s;

	if (a->cur_ns < w || from < a->born_ns)
		from = a->born_ns;
	s = (double)(now - from) / NS;
	return s < 1.0 ? 1.0 : s;
}

bool grow(void **v, __u32 *cap, __u32 n, size_t size)
{
	__u32 c;
	void *p;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 16;
	p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

struct ns_info *ns_info(struct sweep *s, __u32 inum)
{
	const struct kw_ns *e;
	struct ns_info *n;

	if (s->ns_last < s->nns && s->ns[s->ns_last].inum == inum)
		return &s->ns[s->ns_last];
	for (__u32 i = 0; i < s->nns; i++)
		if (s->ns[i].inum == inum)
			return &s->ns[s->ns_last = i];
	if (!grow((void **)&s->ns, &s->ns_cap, s->nns, sizeof(*s->ns)))
		return NULL;
	n = &s->ns[s->nns];
	memset(n, 0, sizeof(*n));
	n->inum = inum;
	/* The worker's last reading: no file is read on the loop. */
	e = kq_facts(s->d, inum);
	if (e) {
		n->lo = e->lo;
		n->hi = e->hi;
		n->tw_reuse = e->tw_reuse;
	}
	s->ns_last = s->nns;
	return &s->ns[s->nns++];
}

/* ---- the per-sweep state, a module of the daemon --------------------------- */

static void sweep_free(struct daemon *d)
{
	struct diag *g = &d->diag;
	struct sweep *s = g->scratch;

	findings_free(g->f);
	g->f = NULL;
	if (!s)
		return;
	free(s->ns);
	free(s->tw);
	free(s->tw_heads);
	free(s->cw);
	free(s->watch);
	free(s->watch_next);
	free(s);
	g->scratch = NULL;
}

static const struct daemon_module sweep_module = {
	.name = "diag",
	.tick = diag_sweep,
	.free = sweep_free,
};

int diag_sweep_attach(struct daemon *d)
{
	struct diag *g = &d->diag;
	struct sweep *s;

	g->f = findings_new();
	s = calloc(1, sizeof(*s));
	g->scratch = s;
	if (!g->f || !s)
		goto nomem;
	s->watch = calloc(WATCH_MAX, sizeof(*s->watch));
	s->watch_next = calloc(WATCH_MAX, sizeof(*s->watch_next));
	if (!s->watch || !s->watch_next)
		goto nomem;
	if (daemon_add_module(d, &sweep_module))
		goto nomem;
	return 0;
nomem:
	sweep_free(d);
	return -ENOMEM;
}

/* ---- the sweep ------------------------------------------------------------ */

void diag_sweep_now(struct daemon *d, __u64 now)
{
	struct diag *g = &d->diag;
	struct sweep *s = g->scratch;
	struct sock_entry *e;
	__u32 i;

	g->next_sweep_ns = now + g->o.sweep_ms * 1000000ULL;
	if (!s)
		return;
	s->d = d;
	s->g = g;
	s->now = now;
	s->nns = 0;
	for (i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];

		if (!a->type)
			continue;
		agg_roll(g, a, now);
		a->sw_pending = 0;
		a->sw_oldest_ns = 0;
		a->sw_segs = a->sw_retrans = 0;
		a->mark = 0;
	}
	for (size_t r = 0; r < diag_nrules; r++)
		if (diag_rules[r]->begin)
			diag_rules[r]->begin(s);

	findings_begin(g->f);
	table_for_each(&d->tab, e, i)
		for (size_t r = 0; r < diag_nrules; r++)
			if (diag_rules[r]->socket)
				diag_rules[r]->socket(s, e);
	for (size_t r = 0; r < diag_nrules; r++)
		diag_rules[r]->eval(s, diag_rules[r]);
	findings_end(d, now);
	agg_gc(g, now);

	g->sweeps++;
	now = mono_ns() - now;
	g->sweep_ns_total += now;
	if (now > g->sweep_ns_max)
		g->sweep_ns_max = now;
}

void diag_sweep(struct daemon *d, __u64 now)
{
	if (now >= d->diag.next_sweep_ns)
		diag_sweep_now(d, now);
}
