// SPDX-License-Identifier: GPL-2.0
/* Answers to `tcpwatch ls` and `tcpwatch stats`, as text or JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "core/output.h"
#include "ctl/events.h"
#include "ctl/query.h"
#include "diag/findings.h"
#include "diag/sweep.h"
#include "lib/print.h"

struct ls_filter {
	int state;		/* -1: any */
	int family;		/* 0: any */
	long port, sport, dport;	/* -1: any */
	long long netns, pid, cookie;	/* -1: any */
	char cgroup[256];	/* this cgroup path and below; "": any */
	bool json;
	bool count;		/* first line: how many matched */
	int sort;		/* enum ls_sort */
	__u32 limit;		/* at most this many rows, the first in order; 0: all */
};

/* ls's orders: sort=NAME; the default is by netns, state, ports. */
enum ls_sort { SORT_NETNS, SORT_RETRANS, SORT_AGE, SORT_QUEUES, SORT_OWNER };
static const char *const sort_names[] = {
	[SORT_NETNS] = "netns", [SORT_RETRANS] = "retrans",
	[SORT_AGE] = "age", [SORT_QUEUES] = "queues", [SORT_OWNER] = "owner",
};

static int sort_parse(const char *v)
{
	for (size_t i = 0; i < sizeof(sort_names) / sizeof(*sort_names); i++)
		if (!strcmp(v, sort_names[i]))
			return i;
	return -1;
}

static int parse_num(const char *v, long long max, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < 0 || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int parse_ls(char **argv, int argc, struct ls_filter *f,
		    struct jbuf *b)
{
	memset(f, 0, sizeof(*f));
	f->state = -1;
	f->port = f->sport = f->dport = -1;
	f->netns = f->pid = f->cookie = -1;
	for (int i = 0; i < argc; i++) {
		char *k = argv[i], *v = strchr(k, '=');
		long long n = 0;
		int err = 0;

		if (!v)
			goto bad;
		*v++ = 0;
		if (!strcmp(k, "json")) {
			f->json = !strcmp(v, "1");
		} else if (!strcmp(k, "count")) {
			f->count = !strcmp(v, "1");
		} else if (!strcmp(k, "sort")) {
			f->sort = sort_parse(v);
			err = f->sort < 0 ? -EINVAL : 0;
		} else if (!strcmp(k, "limit")) {
			err = parse_num(v, 0xffffffffLL, &n);
			f->limit = n;
		} else if (!strcmp(k, "state")) {
			f->state = state_parse(v);
			err = f->state < 0 ? -EINVAL : 0;
		} else if (!strcmp(k, "family")) {
			f->family = !strcmp(v, "4") ? AF_INET
				  : !strcmp(v, "6") ? AF_INET6 : -1;
			err = f->family < 0 ? -EINVAL : 0;
		} else if (!strcmp(k, "port") || !strcmp(k, "sport") ||
			   !strcmp(k, "dport")) {
			err = parse_num(v, 65535, &n);
			*(k[0] == 'p' ? &f->port : k[0] == 's' ? &f->sport
							     : &f->dport) = n;
		} else if (!strcmp(k, "netns")) {
			err = parse_num(v, 0xffffffffLL, &f->netns);
		} else if (!strcmp(k, "pid")) {
			err = parse_num(v, 0x7fffffffLL, &f->pid);
		} else if (!strcmp(k, "cookie")) {
			err = parse_num(v, 0x7fffffffffffffffLL, &f->cookie);
		} else if (!strcmp(k, "cgroup")) {
			err = v[0] != '/' || strlen(v) >= sizeof(f->cgroup) ?
			      -EINVAL : 0;
			strncpy(f->cgroup, v, sizeof(f->cgroup) - 1);
		} else {
			goto bad;
		}
		if (err)
			goto bad;
		continue;
bad:
		if (v)
			v[-1] = '=';	/* the whole key=value in the message */
		json_lit(b, "error: bad filter \"");
		json_raw(b, argv[i], strlen(argv[i]));
		json_lit(b, "\"\n");
		return -EINVAL;
	}
	return 0;
}

static bool ls_cgroup(struct daemon *d, const struct ls_filter *f,
		      const struct sock_entry *e)
{
	const struct cg_info *g;

	if (!f->cgroup[0])
		return true;
	g = cgc_get(&d->cg, e->cgroup);
	return g && cg_path_under(g->path, f->cgroup);
}

static bool ls_match(struct daemon *d, const struct ls_filter *f,
		     const struct sock_entry *e)
{
	return ls_cgroup(d, f, e) &&
	       (f->state < 0 || e->state == f->state) &&
	       (!f->family || e->family == f->family) &&
	       (f->port < 0 || e->sport == f->port || e->dport == f->port) &&
	       (f->sport < 0 || e->sport == f->sport) &&
	       (f->dport < 0 || e->dport == f->dport) &&
	       (f->netns < 0 || e->netns == f->netns) &&
	       (f->pid < 0 || e->pid == f->pid) &&
	       (f->cookie < 0 || e->cookie == (__u64)f->cookie);
}

static __u64 queued(const struct sock_entry *e)
{
	return e->has_snap ? (__u64)e->snap.rcv_queued + e->snap.wmem_queued
			   : 0;
}

#define CMP_DESC(a, b)	((a) > (b) ? -1 : (a) < (b))

/* The chosen order's own key: most first, oldest first, owned first. */
static int cmp_key(int sort, const struct sock_entry *x,
		   const struct sock_entry *y)
{
	int c;

	switch (sort) {
	case SORT_RETRANS:
		return CMP_DESC(x->retrans, y->retrans);
	case SORT_AGE:
		return -CMP_DESC(x->state_ns, y->state_ns);
	case SORT_QUEUES:
		return CMP_DESC(queued(x), queued(y));
	case SORT_OWNER:
		if (!x->pid != !y->pid)
			return x->pid ? -1 : 1;
		c = strncmp(x->comm, y->comm, sizeof(x->comm));
		return c ? c : -CMP_DESC(x->pid, y->pid);
	}
	return 0;
}

static struct table *sort_tab;
static int sort_by;

static int cmp_entries(const void *a, const void *b)
{
	const struct sock_entry *x = &sort_tab->v[*(const __u32 *)a];
	const struct sock_entry *y = &sort_tab->v[*(const __u32 *)b];
	int c = cmp_key(sort_by, x, y);

	if (c)
		return c;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->state != y->state)
		return x->state < y->state ? -1 : 1;
	if (x->sport != y->sport)
		return x->sport < y->sport ? -1 : 1;
	if (x->dport != y->dport)
		return x->dport < y->dport ? -1 : 1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static size_t endpoint(char *out, __u16 family, const __u8 *a, __u16 port)
{
	char s[ADDR_STRLEN];

	addr_str(s, family, a);
	return sprintf(out, family == AF_INET6 ? "[%s]:%u" : "%s:%u", s,
		       port);
}

/* The last transitions, oldest first. */
static void ls_history(struct printer *p, const struct sock_entry *e)
{
	int nh = e->nhist < TABLE_HIST ? e->nhist : TABLE_HIST;

	print_open_array(p, "history");
	for (int i = 0; i < nh; i++) {
		const struct sock_trans *t =
			&e->hist[(e->nhist - nh + i) % TABLE_HIST];

		print_open_object(p, NULL);
		print_u64(p, PRINT_JSON, "ms", NULL, t->ms);
		print_string(p, PRINT_JSON, "old", NULL, state_name(t->old));
		print_string(p, PRINT_JSON, "new", NULL, state_name(t->new));
		print_close_object(p);
	}
	print_close_array(p);
}

/* One socket: a line of text, or an NDJSON object. */
/* The column: the container, else the unit, else the path. */
static void ls_cgroup_text(struct printer *p, const struct cg_info *g,
			   __u64 id)
{
	if (g && g->n.ctr_len)
		print_text(p, " %.12s", g->path + g->n.ctr_off);
	else if (g && g->n.unit_len)
		print_text(p, " %.*s", (int)g->n.unit_len,
			   g->path + g->n.unit_off);
	else if (g)
		print_text(p, " %s", g->path);
	else if (id)
		print_text(p, " #%llu", (unsigned long long)id);
	else
		print_text(p, " -");
}

static void ls_print(struct daemon *d, struct printer *p,
		     const struct sock_entry *e, __u64 now)
{
	struct jbuf *b = p->b;
	__u64 in_state = now > e->state_ns ? now - e->state_ns : 0;
	char local[80], peer[80], dur[24], own[48];

	print_open_object(p, NULL);
	print_u64(p, PRINT_JSON, "cookie", NULL, e->cookie);
	if (p->json)
		json_tuple(b, e->netns, e->family, e->saddr, e->sport,
			   e->daddr, e->dport);
	print_string(p, PRINT_ANY, "state", "%-11s", state_name(e->state));
	print_u64(p, PRINT_TEXT, NULL, " %6llu",
		  e->has_snap ? e->snap.rcv_queued : 0);
	print_u64(p, PRINT_TEXT, NULL, " %6llu",
		  e->has_snap ? e->snap.wmem_queued : 0);
	if (!p->json) {
		endpoint(local, e->family, e->saddr, e->sport);
		endpoint(peer, e->family, e->daddr, e->dport);
		duration_str(dur, sizeof(dur), in_state);
		if (e->pid)
			snprintf(own, sizeof(own), "%u/%.15s", e->pid,
				 e->comm);
		else
			snprintf(own, sizeof(own), "-");
		print_text(p, " %-28s %-28s %s%-9s %-24s", local, peer,
			   (e->flags & SOCK_SEEDED) &&
			   e->state_ns <= e->birth_ns ? ">" : " ",
			   dur, own);
	}
	print_u64(p, PRINT_JSON, "in_state_ms", NULL, in_state / 1000000);
	print_u64(p, PRINT_JSON, "age_ms", NULL,
		  now > e->birth_ns ? (now - e->birth_ns) / 1000000 : 0);
	print_bool(p, PRINT_JSON, "seeded", NULL, e->flags & SOCK_SEEDED);
	print_bool(p, PRINT_JSON, "inferred", NULL, e->flags & SOCK_INFERRED);
	print_bool(p, PRINT_JSON, "timewait", NULL, e->flags & SOCK_TW);
	if (e->flags & SOCK_TW)
		print_u64(p, PRINT_JSON, "expires_ms", NULL,
			  e->expire_ns > now ?
			  (e->expire_ns - now) / 1000000 : 0);
	if (p->json) {	/* the socket record's own writers (emit.h) */
		json_owner(b, e, NULL);
		json_cgroup(b, &d->cg, e->cgroup);
		json_u64_field(b, "inode", e->inode);
	}
	print_u64(p, PRINT_TEXT, NULL, " %4llu", e->retrans);
	print_u64(p, PRINT_TEXT, NULL, " %3llu", e->rst_sent + e->rst_recv);
	print_u64(p, PRINT_TEXT, NULL, " %10llu", e->netns);
	if (!p->json) {
		ls_cgroup_text(p, cgc_get(&d->cg, e->cgroup), e->cgroup);
		print_text(p, "\n");
	}
	if (p->json) {
		json_counters(b, e);
		if (e->has_snap)
			json_snap(b, &e->snap);
		else
			json_null_field(b, "snap");
		ls_history(p, e);
	}
	print_close_object(p);
	print_nl_json(p);
}

static void idx_swap(__u32 *v, __u32 i, __u32 j)
{
	__u32 t = v[i];

	v[i] = v[j];
	v[j] = t;
}

/* Restore the heap v[0..m) (the last in order at the root) below i. */
static void heap_down(__u32 *v, __u32 m, __u32 i)
{
	for (;;) {
		__u32 l = 2 * i + 1, r = l + 1, top = i;

		if (l < m && cmp_entries(&v[l], &v[top]) > 0)
			top = l;
		if (r < m && cmp_entries(&v[r], &v[top]) > 0)
			top = r;
		if (top == i)
			return;
		idx_swap(v, i, top);
		i = top;
	}
}

/* Restore the heap v[0..i] after adding v[i]. */
static void heap_up(__u32 *v, __u32 i)
{
	while (i && cmp_entries(&v[i], &v[(i - 1) / 2]) > 0) {
		idx_swap(v, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/*
 * Move the first k of v[0..n) in cmp_entries' order to v[0..k), in
 * O(n log k): what `ls limit=K` costs on a big table, rather than
 * sorting it all. The heap, in v's own front, keeps the k first seen
 * so far with the last of them at its root.
 */
static void select_first(__u32 *v, __u32 n, __u32 k)
{
	for (__u32 i = 0; i < n; i++) {
		if (i < k) {
			heap_up(v, i);
		} else if (cmp_entries(&v[i], &v[0]) < 0) {
			v[0] = v[i];
			heap_down(v, k, 0);
		}
	}
}

/* An ls answer in progress: the matching cookies, sorted at the start. */
struct query_cursor {
	struct ls_filter f;
	__u64 *cookies;
	__u32 n, at;
};

void query_cursor_free(struct query_cursor *c)
{
	if (c)
		free(c->cookies);
	free(c);
}

static struct query_cursor *query_ls_open(struct daemon *d, struct jbuf *b,
					  char **argv, int argc)
{
	struct table *t = &d->tab;
	struct query_cursor *c;
	struct sock_entry *e;
	__u32 i, n = 0, *idx;

	c = calloc(1, sizeof(*c));
	if (!c) {
		json_lit(b, "error: out of memory\n");
		return NULL;
	}
	if (parse_ls(argv, argc, &c->f, b)) {
		free(c);
		return NULL;
	}
	daemon_sync(d);
	idx = malloc((t->count + 1) * sizeof(*idx));
	/* Cookies, not slots: slots are reused while the answer streams. */
	c->cookies = malloc((t->count + 1) * sizeof(*c->cookies));
	if (!idx || !c->cookies) {
		free(idx);
		query_cursor_free(c);
		json_lit(b, "error: out of memory\n");
		return NULL;
	}
	table_for_each(t, e, i)
		if (ls_match(d, &c->f, e))
			idx[n++] = i;
	sort_tab = t;
	sort_by = c->f.sort;
	c->n = c->f.limit && c->f.limit < n ? c->f.limit : n;
	if (c->n < n)
		select_first(idx, n, c->n);
	qsort(idx, c->n, sizeof(*idx), cmp_entries);
	for (i = 0; i < c->n; i++)
		c->cookies[i] = t->v[idx[i]].cookie;
	free(idx);
	if (c->f.count) {
		struct printer p;

		print_init(&p, b, c->f.json);
		print_open_object(&p, NULL);
		print_u64(&p, PRINT_ANY, "matched", "%llu matched\n", n);
		print_close_object(&p);
		print_nl_json(&p);
	}
	if (!c->f.json)
		json_lit(b, "State       Recv-Q Send-Q Local Address:Port           Peer Address:Port             In-state  Owner                    Retr Rst      Netns Cgroup\n");
	return c;
}

bool query_next(struct daemon *d, struct query_cursor *c, struct jbuf *b,
		size_t want)
{
	__u64 now = mono_ns();
	struct printer p;

	print_init(&p, b, c->f.json);
	while (c->at < c->n && b->len < want) {
		struct sock_entry *e = table_find(&d->tab, c->cookies[c->at++]);

		/* gone, or no longer matching (its state moved on) */
		if (!e || !ls_match(d, &c->f, e))
			continue;
		ls_print(d, &p, e, now);
	}
	return c->at == c->n;
}

void query_ls(struct daemon *d, struct jbuf *b, char **argv, int argc)
{
	struct query_cursor *c = query_ls_open(d, b, argv, argc);

	if (c)
		query_next(d, c, b, (size_t)-1);
	query_cursor_free(c);
}

/* Counters by event kind: {"state":N,...} in JSON. */
static void stats_kinds(struct printer *p, const char *key, const __u64 *v)
{
	print_open_object(p, key);
	for (int k = 1; k < TCPW_EV_MAX; k++)
		print_u64(p, PRINT_JSON, kind_name(k), NULL, v[k]);
	print_close_object(p);
}

/* The sample passes the daemon runs (BPF's iterator): their cost. */
static void stats_sample(struct daemon *d, struct printer *p)
{
	__u64 runs = d->sample.runs, socks = d->sample.visited;

	if (!runs)
		return;
	print_open_object(p, "sample");
	print_u64(p, PRINT_ANY, "runs", "samples         %llu runs, ", runs);
	print_u64(p, PRINT_JSON, "run_us_mean", NULL,
		  d->sample.ns_total / 1000 / runs);
	print_real(p, PRINT_TEXT, NULL, "%.3f ms mean, ",
		   d->sample.ns_total / 1e6 / runs);
	print_u64(p, PRINT_JSON, "run_us_max", NULL, d->sample.ns_max / 1000);
	/* the interval is set by the last pass, not the mean */
	print_u64(p, PRINT_JSON, "run_us_last", NULL,
		  d->sample.ns_last / 1000);
	print_real(p, PRINT_TEXT, NULL, "%.3f ms max; ",
		   d->sample.ns_max / 1e6);
	print_u64(p, PRINT_ANY, "netns", "%llu netns passes, ",
		  d->sample.netns);
	print_u64(p, PRINT_ANY, "visited", "%llu sockets visited, ", socks);
	print_u64(p, PRINT_JSON, "ns_per_socket", NULL,
		  socks ? d->sample.ns_total / socks : 0);
	print_u64(p, PRINT_ANY, "full", "%llu full, ", d->sample.full);
	print_u64(p, PRINT_ANY, "emitted", "%llu changed, ",
		  d->sample.emitted);
	print_u64(p, PRINT_ANY, "errors", "%llu errors; ", d->sample.errors);
	print_u64(p, PRINT_ANY, "stretched", "%llu put off by the budget, ",
		  d->sample_stretched);
	print_u64(p, PRINT_JSON, "period_ms", NULL,
		  d->sample_period_ns / 1000000);
	print_real(p, PRINT_TEXT, NULL, "every %.3f s\n",
		   d->sample_period_ns / 1e9);
	print_close_object(p);
}

/* `tcpwatch events`: subscribers, what the slow ones missed, the backlog */
static void stats_events(struct printer *p)
{
	struct events_stats st;

	events_get_stats(&st);
	print_open_object(p, "subscribers");
	print_u64(p, PRINT_ANY, "now", "subscribers     %llu now, ",
		  st.subscribers);
	print_u64(p, PRINT_ANY, "total", "%llu in all, ", st.subscribed);
	print_u64(p, PRINT_ANY, "records", "%llu records sent; ", st.sent);
	print_u64(p, PRINT_ANY, "cut", "%llu cut off (slow), ", st.cut);
	print_u64(p, PRINT_ANY, "missed", "%llu records missed; ", st.missed);
	print_u64(p, PRINT_ANY, "overrun", "%llu backlog answers overrun, ",
		  st.overrun);
	print_u64(p, PRINT_ANY, "overwritten", "%llu records overwritten\n",
		  st.overwritten);
	print_close_object(p);
	print_open_object(p, "backlog");
	print_u64(p, PRINT_ANY, "records", "backlog         %llu records, ",
		  st.backlog_records);
	print_u64(p, PRINT_ANY, "bytes", "%llu bytes\n", st.backlog_bytes);
	print_close_object(p);
}

static void stats_print(struct daemon *d, struct printer *p)
{
	__u64 total = 0, lost = 0, op, res, sup, up = mono_ns() - d->start_ns;
	__u32 open = findings_open(d->diag.f, &op, &res, &sup);
	const struct diag *g = &d->diag;

	for (int k = 1; k < TCPW_EV_MAX; k++) {
		total += d->events[k];
		lost += d->drops[k];
	}
	print_open_object(p, NULL);
	print_string(p, PRINT_ANY, "source", "source          %s\n",
		     source_name(d->src));
	print_u64(p, PRINT_JSON, "uptime_ms", NULL, up / 1000000);
	print_real(p, PRINT_TEXT, NULL, "uptime          %.1fs\n", up / 1e9);
	print_text(p, "%-18s %14s %10s\n", "event kind", "received", "lost");
	for (int k = 1; k < TCPW_EV_MAX; k++)
		print_text(p, "  %-16s %14llu %10llu\n", kind_name(k),
			   (unsigned long long)d->events[k],
			   (unsigned long long)d->drops[k]);
	print_text(p, "  %-16s %14llu %10llu\n", "total",
		   (unsigned long long)total, (unsigned long long)lost);
	stats_kinds(p, "events", d->events);
	print_u64(p, PRINT_JSON, "events_total", NULL, total);
	stats_kinds(p, "lost", d->drops);
	print_u64(p, PRINT_JSON, "lost_total", NULL, lost);
	print_u64(p, PRINT_ANY, "bad_records", "bad records     %llu\n",
		  d->bad_records);
	pktdrop_stats(d, p);
	print_u64(p, PRINT_ANY, "sockets", "sockets         %llu\n",
		  d->tab.count);
	print_open_object(p, "states");
	for (int s = 1; s < TCPW_STATE_MAX; s++)
		if (d->tab.by_state[s]) {
			print_text(p, "  %-14s ", state_name(s));
			print_u64(p, PRINT_ANY, state_name(s), "%llu\n",
				  d->tab.by_state[s]);
		}
	print_close_object(p);
	print_u64(p, PRINT_ANY, "seeded", "seeded          %llu\n", d->seeded);
	print_u64(p, PRINT_ANY, "timewait_inferred",
		  "time_wait       %llu inferred, ", d->tw_inferred);
	print_u64(p, PRINT_ANY, "timewait_expired", "%llu expired\n",
		  d->tw_expired);
	print_open_object(p, "reconcile");
	print_u64(p, PRINT_ANY, "runs", "reconcile       %llu runs: ",
		  d->rec_runs);
	print_u64(p, PRINT_ANY, "added", "%llu added, ", d->rec_added);
	print_u64(p, PRINT_ANY, "removed", "%llu removed, ", d->rec_removed);
	print_u64(p, PRINT_ANY, "changed", "%llu changed, ", d->rec_changed);
	print_u64(p, PRINT_ANY, "owners", "%llu owners; ", d->rec_owners);
	print_u64(p, PRINT_ANY, "slices", "%llu slices, ", d->rec_slices);
	print_u64(p, PRINT_ANY, "slice_max_us", "longest %llu us\n",
		  d->rec_slice_max_ns / 1000);
	print_close_object(p);
	print_open_object(p, "cgroups");
	print_u64(p, PRINT_ANY, "known", "cgroups         %llu known, ",
		  d->cg.count);
	print_u64(p, PRINT_ANY, "misses", "%llu misses: ", d->cg.misses);
	print_u64(p, PRINT_ANY, "resolved", "%llu resolved, ",
		  d->cg.resolved);
	print_u64(p, PRINT_ANY, "unknown", "%llu unknown, ", d->cg.unknown);
	print_u64(p, PRINT_ANY, "deferred", "%llu deferred; ",
		  d->cg.deferred);
	print_u64(p, PRINT_ANY, "walks", "%llu walks\n", d->cg.walks);
	print_close_object(p);
	stats_sample(d, p);
	print_open_object(p, "findings");
	print_u64(p, PRINT_ANY, "open", "findings        %llu open: ", open);
	print_u64(p, PRINT_ANY, "opened", "%llu opened, ", op);
	print_u64(p, PRINT_ANY, "resolved", "%llu resolved, ", res);
	print_u64(p, PRINT_ANY, "suppressed", "%llu suppressed\n", sup);
	print_close_object(p);
	print_open_object(p, "diag");
	print_u64(p, PRINT_ANY, "sweeps", "diag            %llu sweeps, ",
		  g->sweeps);
	print_u64(p, PRINT_JSON, "sweep_us_mean", NULL, g->sweeps ?
		  g->sweep_ns_total / 1000 / g->sweeps : 0);
	print_real(p, PRINT_TEXT, NULL, "%.2f ms mean, ", g->sweeps ?
		   g->sweep_ns_total / 1e6 / g->sweeps : 0.0);
	print_u64(p, PRINT_JSON, "sweep_us_max", NULL, g->sweep_ns_max / 1000);
	print_real(p, PRINT_TEXT, NULL, "%.2f ms max; ", g->sweep_ns_max / 1e6);
	print_u64(p, PRINT_ANY, "peers", "%llu peers, ", g->count);
	print_u64(p, PRINT_ANY, "peers_full", "%llu not counted\n",
		  g->agg_full);
	print_close_object(p);
	/* Records dropped because the reader was slow or writes failed. */
	print_u64(p, PRINT_ANY, "output_records",
		  "output          %llu records, ", d->lines);
	print_u64(p, PRINT_ANY, "output_bytes", "%llu bytes; ",
		  d->out.written + output_pending(d));
	print_u64(p, PRINT_ANY, "output_dropped", "%llu dropped ",
		  d->outq.dropped_total + d->outq.dropped);
	print_u64(p, PRINT_ANY, "output_dropped_bytes", "(%llu bytes), ",
		  d->outq.dropped_bytes_total + d->outq.dropped_bytes);
	print_u64(p, PRINT_ANY, "output_write_errors", "%llu write errors, ",
		  d->outq.errors);
	print_u64(p, PRINT_ANY, "output_pending_bytes", "%llu bytes pending",
		  output_pending(d));
	print_u64(p, PRINT_ANY, "output_reopens", ", %llu reopened",
		  d->outq.reopens);
	print_bool(p, PRINT_JSON, "output_uncached", NULL, d->outq.uncached);
	print_text(p, "%s\n", d->outq.uncached ? ", written uncached" : "");
	stats_events(p);
	print_close_object(p);
	print_nl_json(p);
}

void query_stats(struct daemon *d, struct jbuf *b, char **argv, int argc)
{
	struct printer p;
	bool json = false;

	daemon_sync(d);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "json=1")) {
			json = true;
		} else if (strcmp(argv[i], "json=0")) {
			json_lit(b, "error: bad stats argument\n");
			return;
		}
	}
	print_init(&p, b, json);
	stats_print(d, &p);
}

void query_diag(struct daemon *d, struct jbuf *b, char **argv, int argc)
{
	bool json = false, sweep = true;
	__u64 now = mono_ns();

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "json=1")) {
			json = true;
		} else if (!strcmp(argv[i], "sweep=0")) {
			sweep = false;	/* as of the last periodic sweep */
		} else {
			json_lit(b, "error: bad diag option \"");
			json_raw(b, argv[i], strlen(argv[i]));
			json_lit(b, "\"\n");
			return;
		}
	}
	/* Answer from a fresh sweep: everything the kernel produced so
	 * far is in, and so is its verdict. */
	daemon_sync(d);
	if (sweep)
		diag_sweep_now(d, now);
	switch (findings_render(d, b, json, now)) {
	case 0:
		break;
	case -ENOMEM:
		json_lit(b, "error: out of memory\n");
		break;
	default:
		json_lit(b, "error: the diagnostics are not running\n");
	}
}

static void query_ping(struct daemon *d, struct jbuf *b, char **argv,
		       int argc)
{
	json_lit(b, "pong\n");
}

const struct query_cmd query_cmds[] = {
	{ "ls", query_ls, query_ls_open },
	{ "diag", query_diag, NULL },
	{ "stats", query_stats, NULL },
	{ "ping", query_ping, NULL },
	{ NULL, NULL, NULL },
};
