// SPDX-License-Identifier: GPL-2.0
/* Answers to `tcpwatch ls` and `tcpwatch stats`, as text or JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "ctl/query.h"
#include "diag/findings.h"
#include "diag/sweep.h"

struct ls_filter {
	int state;		/* -1: any */
	int family;		/* 0: any */
	long port, sport, dport;	/* -1: any */
	long long netns, pid, cookie;	/* -1: any */
	bool json;
};

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

static bool ls_match(const struct ls_filter *f, const struct sock_entry *e)
{
	return (f->state < 0 || e->state == f->state) &&
	       (!f->family || e->family == f->family) &&
	       (f->port < 0 || e->sport == f->port || e->dport == f->port) &&
	       (f->sport < 0 || e->sport == f->sport) &&
	       (f->dport < 0 || e->dport == f->dport) &&
	       (f->netns < 0 || e->netns == f->netns) &&
	       (f->pid < 0 || e->pid == f->pid) &&
	       (f->cookie < 0 || e->cookie == (__u64)f->cookie);
}

static struct table *sort_tab;

static int cmp_entries(const void *a, const void *b)
{
	const struct sock_entry *x = &sort_tab->v[*(const __u32 *)a];
	const struct sock_entry *y = &sort_tab->v[*(const __u32 *)b];

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

static void duration(char *out, size_t n, __u64 ns)
{
	__u64 ms = ns / 1000000;

	if (ms < 10000)
		snprintf(out, n, "%llu.%03llus", ms / 1000ULL, ms % 1000ULL);
	else if (ms < 3600000)
		snprintf(out, n, "%llum%02llus", ms / 60000ULL,
			 ms / 1000 % 60ULL);
	else
		snprintf(out, n, "%lluh%02llum", ms / 3600000ULL,
			 ms / 60000 % 60ULL);
}

static void ls_text(struct jbuf *b, const struct sock_entry *e, __u64 now)
{
	char local[80], peer[80], dur[24], own[48], line[320];
	int n;

	endpoint(local, e->family, e->saddr, e->sport);
	endpoint(peer, e->family, e->daddr, e->dport);
	duration(dur, sizeof(dur), now > e->state_ns ? now - e->state_ns : 0);
	if (e->pid)
		snprintf(own, sizeof(own), "%u/%.15s", e->pid, e->comm);
	else
		snprintf(own, sizeof(own), "-");
	n = snprintf(line, sizeof(line),
		     "%-11s %6u %6u %-28s %-28s %s%-9s %-24s %4u %3u %10u\n",
		     state_name(e->state),
		     e->has_snap ? e->snap.rcv_queued : 0,
		     e->has_snap ? e->snap.wmem_queued : 0, local, peer,
		     (e->flags & SOCK_SEEDED) && e->state_ns <= e->birth_ns
			     ? ">" : " ",
		     dur, own, e->retrans, e->rst_sent + e->rst_recv,
		     e->netns);
	json_raw(b, line, n < (int)sizeof(line) ? (size_t)n
						: sizeof(line) - 1);
}

static void ls_json(struct jbuf *b, const struct sock_entry *e, __u64 now)
{
	int nh = e->nhist < TABLE_HIST ? e->nhist : TABLE_HIST;

	json_lit(b, "{\"cookie\":");
	json_u64(b, e->cookie);
	json_tuple(b, e->netns, e->family, e->saddr, e->sport, e->daddr,
		   e->dport);
	json_lit(b, ",\"state\":\"");
	json_raw(b, state_name(e->state), strlen(state_name(e->state)));
	json_ch(b, '"');
	json_key(b, "in_state_ms");
	json_u64(b, now > e->state_ns ? (now - e->state_ns) / 1000000 : 0);
	json_key(b, "age_ms");
	json_u64(b, now > e->birth_ns ? (now - e->birth_ns) / 1000000 : 0);
	json_lit(b, ",\"seeded\":");
	json_raw(b, e->flags & SOCK_SEEDED ? "true" : "false",
		 e->flags & SOCK_SEEDED ? 4 : 5);
	json_lit(b, ",\"inferred\":");
	json_raw(b, e->flags & SOCK_INFERRED ? "true" : "false",
		 e->flags & SOCK_INFERRED ? 4 : 5);
	json_lit(b, ",\"timewait\":");
	json_raw(b, e->flags & SOCK_TW ? "true" : "false",
		 e->flags & SOCK_TW ? 4 : 5);
	if (e->flags & SOCK_TW) {
		json_key(b, "expires_ms");
		json_u64(b, e->expire_ns > now ?
			 (e->expire_ns - now) / 1000000 : 0);
	}
	json_owner(b, e, NULL);
	json_key(b, "inode");
	json_u64(b, e->inode);
	json_counters(b, e);
	if (e->has_snap) {
		json_snap(b, &e->snap);
	} else {
		json_lit(b, ",\"snap\":null");
	}
	json_lit(b, ",\"history\":[");
	/* oldest first */
	for (int i = 0; i < nh; i++) {
		const struct sock_trans *t =
			&e->hist[(e->nhist - nh + i) % TABLE_HIST];

		if (i)
			json_ch(b, ',');
		json_lit(b, "{\"ms\":");
		json_u64(b, t->ms);
		json_lit(b, ",\"old\":\"");
		json_raw(b, state_name(t->old), strlen(state_name(t->old)));
		json_lit(b, "\",\"new\":\"");
		json_raw(b, state_name(t->new), strlen(state_name(t->new)));
		json_lit(b, "\"}");
	}
	json_lit(b, "]}\n");
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
		if (ls_match(&c->f, e))
			idx[n++] = i;
	sort_tab = t;
	qsort(idx, n, sizeof(*idx), cmp_entries);
	for (i = 0; i < n; i++)
		c->cookies[i] = t->v[idx[i]].cookie;
	c->n = n;
	free(idx);
	if (!c->f.json)
		json_lit(b, "State       Recv-Q Send-Q Local Address:Port           Peer Address:Port             In-state  Owner                    Retr Rst      Netns\n");
	return c;
}

bool query_next(struct daemon *d, struct query_cursor *c, struct jbuf *b,
		size_t want)
{
	__u64 now = mono_ns();

	while (c->at < c->n && b->len < want) {
		struct sock_entry *e = table_find(&d->tab, c->cookies[c->at++]);

		/* gone, or no longer matching (its state moved on) */
		if (!e || !ls_match(&c->f, e))
			continue;
		if (c->f.json)
			ls_json(b, e, now);
		else
			ls_text(b, e, now);
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

static void stats_text(struct daemon *d, struct jbuf *b)
{
	char line[256];
	__u64 total = 0, lost = 0;
	int n;

#define OUT(...) do {							\
		n = snprintf(line, sizeof(line), __VA_ARGS__);		\
		json_raw(b, line, n < (int)sizeof(line) ? (size_t)n	\
						: sizeof(line) - 1);	\
	} while (0)

	OUT("source          %s\n", source_name(d->src));
	OUT("uptime          %.1fs\n", (mono_ns() - d->start_ns) / 1e9);
	OUT("%-18s %14s %10s\n", "event kind", "received", "lost");
	for (int k = 1; k < TCPW_EV_MAX; k++) {
		OUT("  %-16s %14llu %10llu\n", kind_name(k),
		    (unsigned long long)d->events[k],
		    (unsigned long long)d->drops[k]);
		total += d->events[k];
		lost += d->drops[k];
	}
	OUT("  %-16s %14llu %10llu\n", "total", (unsigned long long)total,
	    (unsigned long long)lost);
	OUT("bad records     %llu\n", (unsigned long long)d->bad_records);
	OUT("sockets         %u\n", d->tab.count);
	for (int s = 1; s < TCPW_STATE_MAX; s++)
		if (d->tab.by_state[s])
			OUT("  %-14s %u\n", state_name(s), d->tab.by_state[s]);
	OUT("seeded          %llu\n", (unsigned long long)d->seeded);
	OUT("time_wait       %llu inferred, %llu expired\n",
	    (unsigned long long)d->tw_inferred,
	    (unsigned long long)d->tw_expired);
	OUT("reconcile       %llu runs: %llu added, %llu removed, %llu changed, %llu owners\n",
	    (unsigned long long)d->rec_runs,
	    (unsigned long long)d->rec_added,
	    (unsigned long long)d->rec_removed,
	    (unsigned long long)d->rec_changed,
	    (unsigned long long)d->rec_owners);
	{
		__u64 op, res, sup;
		__u32 open = findings_open(d->diag.f, &op, &res, &sup);

		OUT("findings        %u open: %llu opened, %llu resolved, %llu suppressed\n",
		    open, (unsigned long long)op, (unsigned long long)res,
		    (unsigned long long)sup);
		OUT("diag            %llu sweeps, %.2f ms mean, %.2f ms max; %u peers, %llu not counted\n",
		    (unsigned long long)d->diag.sweeps,
		    d->diag.sweeps ? d->diag.sweep_ns_total / 1e6 /
				     d->diag.sweeps : 0.0,
		    d->diag.sweep_ns_max / 1e6, d->diag.count,
		    (unsigned long long)d->diag.agg_full);
	}
	OUT("output          %llu records, %llu bytes; %llu dropped (%llu bytes), %llu write errors, %zu bytes pending\n",
	    (unsigned long long)d->lines,
	    (unsigned long long)(d->out.written + output_pending(d)),
	    (unsigned long long)(d->outq.dropped_total + d->outq.dropped),
	    (unsigned long long)(d->outq.dropped_bytes_total +
				 d->outq.dropped_bytes),
	    (unsigned long long)d->outq.errors, output_pending(d));
#undef OUT
}

static void stats_json(struct daemon *d, struct jbuf *b)
{
	__u64 total = 0, lost = 0;
	bool first = true;

	for (int k = 1; k < TCPW_EV_MAX; k++) {
		total += d->events[k];
		lost += d->drops[k];
	}
	json_lit(b, "{\"source\":\"");
	json_raw(b, source_name(d->src), strlen(source_name(d->src)));
	json_lit(b, "\",\"uptime_ms\":");
	json_u64(b, (mono_ns() - d->start_ns) / 1000000);
	json_kinds(b, ",\"events\":", 10, d->events);
	json_key(b, "events_total");
	json_u64(b, total);
	json_kinds(b, ",\"lost\":", 8, d->drops);
	json_key(b, "lost_total");
	json_u64(b, lost);
	json_key(b, "bad_records");
	json_u64(b, d->bad_records);
	json_key(b, "sockets");
	json_u64(b, d->tab.count);
	json_lit(b, ",\"states\":{");
	for (int s = 1; s < TCPW_STATE_MAX; s++) {
		if (!d->tab.by_state[s])
			continue;
		if (!first)
			json_ch(b, ',');
		first = false;
		json_ch(b, '"');
		json_raw(b, state_name(s), strlen(state_name(s)));
		json_lit(b, "\":");
		json_u64(b, d->tab.by_state[s]);
	}
	json_ch(b, '}');
	json_key(b, "seeded");
	json_u64(b, d->seeded);
	json_key(b, "timewait_inferred");
	json_u64(b, d->tw_inferred);
	json_key(b, "timewait_expired");
	json_u64(b, d->tw_expired);
	json_lit(b, ",\"reconcile\":{\"runs\":");
	json_u64(b, d->rec_runs);
	json_key(b, "added");
	json_u64(b, d->rec_added);
	json_key(b, "removed");
	json_u64(b, d->rec_removed);
	json_key(b, "changed");
	json_u64(b, d->rec_changed);
	json_key(b, "owners");
	json_u64(b, d->rec_owners);
	json_ch(b, '}');
	{
		__u64 op, res, sup;
		__u32 open = findings_open(d->diag.f, &op, &res, &sup);

		json_lit(b, ",\"findings\":{\"open\":");
		json_u64(b, open);
		json_key(b, "opened");
		json_u64(b, op);
		json_key(b, "resolved");
		json_u64(b, res);
		json_key(b, "suppressed");
		json_u64(b, sup);
		json_ch(b, '}');
		json_lit(b, ",\"diag\":{\"sweeps\":");
		json_u64(b, d->diag.sweeps);
		json_key(b, "sweep_us_mean");
		json_u64(b, d->diag.sweeps ? d->diag.sweep_ns_total / 1000 /
					     d->diag.sweeps : 0);
		json_key(b, "sweep_us_max");
		json_u64(b, d->diag.sweep_ns_max / 1000);
		json_key(b, "peers");
		json_u64(b, d->diag.count);
		json_key(b, "peers_full");
		json_u64(b, d->diag.agg_full);
		json_ch(b, '}');
	}
	json_key(b, "output_records");
	json_u64(b, d->lines);
	json_key(b, "output_bytes");
	json_u64(b, d->out.written + output_pending(d));
	/* records dropped because the reader was slow or writes failed */
	json_u64_field(b, "output_dropped",
		       d->outq.dropped_total + d->outq.dropped);
	json_u64_field(b, "output_dropped_bytes",
		       d->outq.dropped_bytes_total + d->outq.dropped_bytes);
	json_u64_field(b, "output_write_errors", d->outq.errors);
	json_u64_field(b, "output_pending_bytes", output_pending(d));
	json_lit(b, "}\n");
}

void query_stats(struct daemon *d, struct jbuf *b, char **argv, int argc)
{
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
	if (json)
		stats_json(d, b);
	else
		stats_text(d, b);
}

void query_diag(struct daemon *d, struct jbuf *b, char **argv, int argc)
{
	bool json = false;
	__u64 now = mono_ns();

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "json=1")) {
			json = true;
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
