// SPDX-License-Identifier: GPL-2.0
/* One refresh of `tcpwatch top`: three requests, their JSON lines parsed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "ctl/client.h"
#include "lib/format.h"
#include "top/snap.h"

/* The daemon must answer each request within this (the screen waits). */
#define SNAP_TIMEOUT_MS	5000
/* An answer bigger than this is not what top asked for. */
#define SNAP_MAX_ANSWER	(16u << 20)

struct answer {
	char *p;
	size_t len, cap;
};

static bool collect(void *ctx, const char *p, size_t n)
{
	struct answer *a = ctx;

	if (a->len + n + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 65536;
		char *q;

		while (cap < a->len + n + 1)
			cap *= 2;
		if (cap > SNAP_MAX_ANSWER)
			return false;
		q = realloc(a->p, cap);
		if (!q)
			return false;
		a->p = q;
		a->cap = cap;
	}
	memcpy(a->p + a->len, p, n);
	a->len += n;
	a->p[a->len] = 0;
	return true;
}

/* Each line of the answer as a JSON object, to fn; false: malformed. */
static bool each_line(struct answer *a, void (*fn)(struct json_object *o,
						   struct snap *s),
		      struct snap *s)
{
	char *line = a->p;

	while (line && *line) {
		char *nl = strchr(line, '\n');
		struct json_object *o;

		if (nl)
			*nl = 0;
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			return false;
		}
		fn(o, s);
		json_object_put(o);
		line = nl ? nl + 1 : NULL;
	}
	return true;
}

static __u64 get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       (__u64)json_object_get_uint64(v) : 0;
}

static void get_str(struct json_object *o, const char *key, char *out,
		    size_t n)
{
	struct json_object *v;
	const char *s = NULL;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		s = json_object_get_string(v);
	snprintf(out, n, "%s", s ? s : "");
}

static void on_stats(struct json_object *o, struct snap *s)
{
	struct json_object *st;

	get_str(o, "source", s->source, sizeof(s->source));
	s->uptime_ms = get_u64(o, "uptime_ms");
	s->sockets = get_u64(o, "sockets");
	s->events = get_u64(o, "events_total");
	s->lost = get_u64(o, "lost_total");
	if (!json_object_object_get_ex(o, "states", &st) ||
	    !json_object_is_type(st, json_type_object))
		return;
	json_object_object_foreach(st, k, v) {
		if (s->nstates == SNAP_STATES)
			break;
		snprintf(s->states[s->nstates].name,
			 sizeof(s->states[0].name), "%s", k);
		s->states[s->nstates++].n = json_object_get_uint64(v);
	}
}

static void endpoint(struct json_object *o, bool v6, const char *addr,
		     const char *port, char *out, size_t n)
{
	char a[ADDR_STRLEN];

	get_str(o, addr, a, sizeof(a));
	snprintf(out, n, v6 ? "[%s]:%llu" : "%s:%llu", a,
		 (unsigned long long)get_u64(o, port));
}

static void on_row(struct json_object *o, struct snap *s)
{
	struct json_object *snap;
	struct snap_row *r;
	char fam[8];
	bool v6;

	if (json_object_object_get_ex(o, "matched", NULL)) {
		s->matched = get_u64(o, "matched");
		return;
	}
	if (s->nrows == s->rows_cap)
		return;
	r = &s->rows[s->nrows++];
	memset(r, 0, sizeof(*r));
	get_str(o, "family", fam, sizeof(fam));
	v6 = !strcmp(fam, "inet6");
	r->cookie = get_u64(o, "cookie");
	r->netns = get_u64(o, "netns");
	get_str(o, "state", r->state, sizeof(r->state));
	endpoint(o, v6, "saddr", "sport", r->local, sizeof(r->local));
	endpoint(o, v6, "daddr", "dport", r->peer, sizeof(r->peer));
	r->in_state_ms = get_u64(o, "in_state_ms");
	r->pid = get_u64(o, "pid");
	get_str(o, "comm", r->comm, sizeof(r->comm));
	r->retrans = get_u64(o, "retrans");
	r->rst = get_u64(o, "rst_sent") + get_u64(o, "rst_recv");
	if (json_object_object_get_ex(o, "snap", &snap) &&
	    json_object_is_type(snap, json_type_object)) {
		r->recvq = get_u64(snap, "rcv_queued");
		r->sendq = get_u64(snap, "wmem_queued");
	}
}

static void on_finding(struct json_object *o, struct snap *s)
{
	struct snap_finding *f;

	s->findings_open++;
	if (s->nfindings == SNAP_FINDINGS)
		return;
	f = &s->findings[s->nfindings++];
	get_str(o, "severity", f->severity, sizeof(f->severity));
	get_str(o, "rule", f->rule, sizeof(f->rule));
	get_str(o, "summary", f->summary, sizeof(f->summary));
}

/* One request, its answer's lines to fn. */
static int ask(const char *path, const char *req,
	       void (*fn)(struct json_object *o, struct snap *s),
	       struct snap *s, char *err, size_t errlen)
{
	struct answer a = { 0 };
	int ret = ctl_fetch(path, req, collect, &a, SNAP_TIMEOUT_MS, err,
			    errlen);

	if (!ret && a.len && !each_line(&a, fn, s)) {
		snprintf(err, errlen, "the daemon's answer to \"%s\" is not JSON lines: is it the same tcpwatch version?",
			 req);
		ret = -EPROTO;
	} else if (ret == -EIO) {
		snprintf(err, errlen, "the answer to \"%s\" is over %u MiB",
			 req, SNAP_MAX_ANSWER >> 20);
	}
	free(a.p);
	return ret;
}

void snap_free(struct snap *s)
{
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

int snap_fetch(const char *path, const struct snap_query *q, struct snap *s,
	       char *err, size_t errlen)
{
	__u32 limit = q->limit ? q->limit : 1;	/* limit=0 is all */
	char req[256];
	int n, ret;

	snap_free(s);
	ret = ask(path, "stats json=1", on_stats, s, err, errlen);
	if (ret)
		return ret;
	n = snprintf(req, sizeof(req), "ls json=1 count=1 sort=%s limit=%u",
		     q->sort, limit);
	if (q->state >= 0)
		n += snprintf(req + n, sizeof(req) - n, " state=%s",
			      state_name(q->state));
	if (q->port >= 0)
		n += snprintf(req + n, sizeof(req) - n, " port=%d", q->port);
	if (q->netns)
		snprintf(req + n, sizeof(req) - n, " netns=%u", q->netns);
	s->rows = calloc(limit, sizeof(*s->rows));
	if (!s->rows) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->rows_cap = limit;
	ret = ask(path, req, on_row, s, err, errlen);
	if (ret)
		return ret;
	return ask(path, "diag sweep=0 json=1", on_finding, s, err, errlen);
}
