// SPDX-License-Identifier: GPL-2.0
/*
 * NDJSON records. One object per line; the schema is in
 * Documentation/json-schema.md. This is the consumer's hot path: no
 * printf, no allocation, keys are literals.
 */
#include <arpa/inet.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/emit.h"

void emit_head(struct daemon *d, const char *type, __u64 ts_ns)
{
	struct jbuf *b = &d->out;

	json_lit(b, "{\"type\":\"");
	json_raw(b, type, strlen(type));
	json_lit(b, "\",\"time\":");
	json_time(b, &d->wc, ts_ns);
	json_u64_field(b, "ts_ns", ts_ns);
	d->rec.ts_ns = ts_ns;
	d->rec.sock = false;
}

/* A socket record: what subscribers' filters look at (daemon.h). */
void rec_sock(struct daemon *d, __u32 netns, __u16 sport, __u16 dport,
	      __u8 state)
{
	d->rec.sock = true;
	d->rec.netns = netns;
	d->rec.sport = sport;
	d->rec.dport = dport;
	d->rec.state = state;
}

void emit_tail(struct daemon *d)
{
	json_lit(&d->out, "}\n");
	if (d->tap)	/* subscribers and the backlog get every record */
		d->tap(d, d->out.p + d->outq.mark, d->out.len - d->outq.mark);
	if (d->outq.discard)
		d->out.len = d->outq.mark;	/* -n: no destination */
	else
		output_commit(d);	/* kept or dropped whole (output.h) */
}

static void state_field(struct jbuf *b, const char *key, size_t klen,
			__u8 state)
{
	const char *n = state_name(state);

	json_raw(b, key, klen);
	json_ch(b, '"');
	json_raw(b, n, strlen(n));
	json_ch(b, '"');
}

void json_owner(struct jbuf *b, const struct sock_entry *e,
		const struct tcpw_event *ev)
{
	__u32 pid = 0;
	const char *comm = NULL;
	__u8 src = OWNER_NONE;

	if (e && e->pid) {
		pid = e->pid;
		comm = e->comm;
		src = e->owner_src;
	} else if (ev && (ev->flags & TCPW_F_OWNER)) {
		pid = ev->pid;
		comm = ev->comm;
		src = OWNER_EVENT;
	}
	if (pid) {
		json_u64_field(b, "pid", pid);
		json_cstr_field(b, "comm", comm, 16);
	} else {
		json_lit(b, ",\"pid\":null,\"comm\":null");
	}
	json_name_field(b, "owner", owner_src_name(src));
}

void json_cgroup(struct jbuf *b, struct cgcache *c, __u64 id)
{
	const struct cg_info *g = cgc_get(c, id);

	json_u64_field(b, "cgroup_id", id);
	if (!g) {
		json_lit(b, ",\"cgroup\":null,\"unit\":null,\"container\":null");
		return;
	}
	json_str_field(b, "cgroup", g->path, strlen(g->path));
	if (g->n.unit_len)
		json_str_field(b, "unit", g->path + g->n.unit_off,
			       g->n.unit_len);
	else
		json_null_field(b, "unit");
	if (g->n.ctr_len)
		json_str_field(b, "container", g->path + g->n.ctr_off,
			       g->n.ctr_len);
	else
		json_null_field(b, "container");
}

void json_counters(struct jbuf *b, const struct sock_entry *e)
{
	json_u64_field(b, "retrans", e ? e->retrans : 0);
	json_u64_field(b, "rst_sent", e ? e->rst_sent : 0);
	json_u64_field(b, "rst_recv", e ? e->rst_recv : 0);
}

void json_snap(struct jbuf *b, const struct sock_snap *s)
{
	json_lit(b, ",\"snap\":{\"snd_wnd\":");
	json_u64(b, s->snd_wnd);
	json_u64_field(b, "rcv_wnd", s->rcv_wnd);
	json_u64_field(b, "snd_cwnd", s->snd_cwnd);
	json_u64_field(b, "srtt_us", s->srtt_us);
	json_u64_field(b, "rcvbuf", s->rcvbuf);
	json_u64_field(b, "rcv_queued", s->rcv_queued);
	json_u64_field(b, "sndbuf", s->sndbuf);
	json_u64_field(b, "wmem_queued", s->wmem_queued);
	json_u64_field(b, "bytes_acked", s->bytes_acked);
	json_u64_field(b, "bytes_received", s->bytes_received);
	json_u64_field(b, "total_retrans", s->total_retrans);
	json_u64_field(b, "data_segs_out", s->data_segs_out);
	json_ch(b, '}');
}

/*
 * Whether a record carries its snapshot. Not when it equals the one the
 * socket's last "snap" showed (SOCK_SNAP_OUT; for a socket just removed,
 * such as a reset right after its CLOSE, d->gone): a reader keeps the
 * last one per cookie. Samples and retransmits always do: it is what
 * they are for. State records entering SYN_SENT, SYN_RECV or LISTEN, or
 * leaving LISTEN, never do: they hold only initial values (a passive
 * child's are still its listener's), or a listener's.
 */
static bool snap_initial(__u8 old, __u8 new)
{
	return new == TCPW_SYN_SENT || new == TCPW_SYN_RECV ||
	       new == TCPW_LISTEN || old == TCPW_LISTEN;
}

static bool snap_due(const struct daemon *d, const struct tcpw_event *ev,
		     const struct sock_entry *e, struct sock_snap *s)
{
	if (!(ev->flags & TCPW_F_SNAPSHOT))
		return false;
	snap_of_event(s, ev);
	switch (ev->kind) {
	case TCPW_EV_SAMPLE:
	case TCPW_EV_RETRANS:
	case TCPW_EV_SYNACK_RETRANS:
		return true;
	case TCPW_EV_STATE:
		if (snap_initial(ev->oldstate, ev->newstate))
			return false;
		break;
	}
	if (e)
		return !(e->flags & SOCK_SNAP_OUT);
	for (int i = 0; i < GONE_SNAPS; i++)
		if (ev->cookie && d->gone[i].cookie == ev->cookie)
			return memcmp(s, &d->gone[i].snap, sizeof(*s));
	return true;
}

void emit_event(struct daemon *d, const struct tcpw_event *ev,
		const struct apply_result *res)
{
	struct jbuf *b = &d->out;
	struct sock_entry *e = res->e;
	struct sock_snap snap;

	if (!emit_wants(d, ev->kind))
		return;
	emit_head(d, kind_name(ev->kind), ev->ts_ns);
	json_u64_field(b, "cookie", ev->cookie);
	/* The tuple as it is now: SYN_SENT events lack the source port. */
	if (e)
		json_tuple(b, ev->netns, e->family, e->saddr, e->sport, e->daddr,
		      e->dport);
	else
		json_tuple(b, ev->netns, ev->family, ev->saddr, ev->sport,
		      ev->daddr, ev->dport);
	rec_sock(d, ev->netns, e ? e->sport : ev->sport,
		 e ? e->dport : ev->dport, res->new);
	if (ev->kind == TCPW_EV_STATE) {
		state_field(b, ",\"old\":", 7, res->old);
		state_field(b, ",\"new\":", 7, res->new);
		json_fixed_field(b, "old_ms", res->old_ns / 1000, 3);
	} else {
		state_field(b, ",\"state\":", 9, res->new);
	}
	if (res->inferred)
		json_lit(b, ",\"inferred\":true");
	if (res->timewait)
		json_lit(b, ",\"timewait\":true");
	if (ev->flags & TCPW_F_NOSOCK)
		json_lit(b, ",\"nosock\":true");
	json_owner(b, e, ev);
	json_cgroup(b, &d->cg, e && e->cgroup ? e->cgroup : ev->cgroup);
	json_counters(b, e);
	if (snap_due(d, ev, e, &snap)) {
		json_snap(b, &snap);
		/* The event's snapshot is the entry's (table_apply). */
		if (e)
			e->flags |= SOCK_SNAP_OUT;
	}
	emit_tail(d);
}

bool emit_synthetic(struct daemon *d, const struct sock_entry *e, __u8 old,
		    __u8 new, __u64 ts_ns, const char *reason)
{
	struct jbuf *b = &d->out;
	bool snap = e->has_snap && !(e->flags & SOCK_SNAP_OUT) &&
		    !snap_initial(old, new);

	if (!d->has_out || !emit_wants(d, TCPW_EV_STATE))
		return false;
	emit_head(d, "state", ts_ns);
	json_u64_field(b, "cookie", e->cookie);
	json_tuple(b, e->netns, e->family, e->saddr, e->sport, e->daddr,
	      e->dport);
	rec_sock(d, e->netns, e->sport, e->dport, new);
	state_field(b, ",\"old\":", 7, old);
	state_field(b, ",\"new\":", 7, new);
	json_fixed_field(b, "old_ms", (ts_ns > e->state_ns ?
				       ts_ns - e->state_ns : 0) / 1000, 3);
	json_lit(b, ",\"inferred\":true,\"reason\":\"");
	json_raw(b, reason, strlen(reason));
	json_ch(b, '"');
	json_owner(b, e, NULL);
	json_cgroup(b, &d->cg, e->cgroup);
	json_counters(b, e);
	if (snap)
		json_snap(b, &e->snap);
	emit_tail(d);
	return snap;
}

void json_kinds(struct jbuf *b, const char *key, size_t klen,
		const __u64 *v)
{
	json_raw(b, key, klen);
	json_ch(b, '{');
	for (int k = 1; k < TCPW_EV_MAX; k++) {
		if (k > 1)
			json_ch(b, ',');
		json_ch(b, '"');
		json_raw(b, kind_name(k), strlen(kind_name(k)));
		json_lit(b, "\":");
		json_u64(b, v[k]);
	}
	json_ch(b, '}');
}

void emit_lost(struct daemon *d, const __u64 *delta, __u64 count)
{
	struct jbuf *b = &d->out;

	if (!d->has_out || !emit_wants(d, REC_LOST))
		return;
	emit_head(d, "lost", mono_ns());
	json_name_field(b, "where", "kernel");
	json_name_field(b, "source", source_name(d->src));
	json_u64_field(b, "count", count);
	json_u64_field(b, "total", d->lost_total);
	json_kinds(b, ",\"by_kind\":", 11, delta);
	emit_tail(d);
}

void emit_reconcile(struct daemon *d, const struct reconcile_result *r,
		    const char *reason, __u64 took_ns)
{
	struct jbuf *b = &d->out;

	if (!d->has_out || !emit_wants(d, REC_RECONCILE))
		return;
	emit_head(d, "reconcile", mono_ns());
	json_name_field(b, "reason", reason);
	json_u64_field(b, "netns", r->netns);
	json_u64_field(b, "sockets", r->sockets);
	json_u64_field(b, "added", r->added);
	json_u64_field(b, "removed", r->removed);
	json_u64_field(b, "changed", r->changed);
	json_u64_field(b, "owners", r->owners);
	json_u64_field(b, "failed", r->failed);
	json_fixed_field(b, "took_ms", took_ns / 1000, 3);
	emit_tail(d);
}

void emit_start(struct daemon *d)
{
	struct jbuf *b = &d->out;

	if (!d->has_out || !emit_wants(d, REC_START))
		return;
	emit_head(d, "start", mono_ns());
	json_lit(b, ",\"version\":\"" TCPWATCH_VERSION "\"");
	json_u64_field(b, "abi", TCPW_ABI_VERSION);
	json_name_field(b, "source", source_name(d->src));
	json_u64_field(b, "seeded", d->seeded);
	json_u64_field(b, "netns_filter", d->o.filter.netns);
	if (d->o.filter.cgroup_path)
		json_str_field(b, "cgroup_filter", d->o.filter.cgroup_path,
			       strlen(d->o.filter.cgroup_path));
	else
		json_null_field(b, "cgroup_filter");
	json_u64_field(b, "pid", getpid());
	emit_tail(d);
}

void emit_stop(struct daemon *d)
{
	struct jbuf *b = &d->out;

	if (!d->has_out || !emit_wants(d, REC_STOP))
		return;
	emit_head(d, "stop", mono_ns());
	json_kinds(b, ",\"events\":", 10, d->events);
	json_kinds(b, ",\"lost\":", 8, d->drops);
	json_u64_field(b, "lost_total", d->lost_total);
	json_u64_field(b, "sockets", d->tab.count);
	emit_tail(d);
}

static const char *direction(const struct sock_entry *e)
{
	if (e->flags & SOCK_ACTIVE)
		return "active";
	/* A seeded socket was not seen opening, unless as a child. */
	return !(e->flags & SOCK_SEEDED) || e->owner_src == OWNER_LISTENER ?
	       "passive" : "unknown";
}

/* "states":[...]: the states kept in e's history, then where it ended. */
static void json_states(struct jbuf *b, const struct sock_entry *e, __u8 end)
{
	unsigned int n = e->nhist < TABLE_HIST ? e->nhist : TABLE_HIST;
	unsigned int first = e->nhist - n;
	__u8 last = 0;

	json_lit(b, ",\"states\":[");
	for (unsigned int i = 0; i < n; i++) {
		const struct sock_trans *t = &e->hist[(first + i) % TABLE_HIST];

		if (!i)
			state_field(b, "", 0, t->old);
		state_field(b, ",", 1, t->new);
		last = t->new;
	}
	if (last != end)
		state_field(b, n ? "," : "", n ? 1 : 0, end);
	json_ch(b, ']');
}

void emit_conn(struct daemon *d, const struct sock_entry *e,
	       const struct conn_end *c)
{
	struct jbuf *b = &d->out;

	if (!d->has_out || !emit_wants(d, REC_CONN))
		return;
	emit_head(d, "conn", c->ts_ns);
	rec_sock(d, e->netns, e->sport, e->dport, c->end);
	json_u64_field(b, "cookie", e->cookie);
	json_tuple(b, e->netns, e->family, e->saddr, e->sport, e->daddr,
		   e->dport);
	json_owner(b, e, NULL);
	json_cgroup(b, &d->cg, e->cgroup);
	json_name_field(b, "direction", direction(e));
	json_name_field(b, "outcome", c->outcome);
	state_field(b, ",\"state\":", 9, c->end);
	json_states(b, e, c->end);
	json_lit(b, ",\"start\":");
	json_time(b, &d->wc, e->birth_ns);
	json_u64_field(b, "start_ns", e->birth_ns);
	if (e->flags & SOCK_SEEDED)
		json_lit(b, ",\"seeded\":true");
	if (e->handshake_us)
		json_u64_field(b, "handshake_us", e->handshake_us);
	else
		json_null_field(b, "handshake_us");
	json_fixed_field(b, "lifetime_ms", (c->ts_ns > e->birth_ns ?
					    c->ts_ns - e->birth_ns : 0) / 1000,
			 3);
	json_u64_field(b, "tx_bytes", c->tx);
	json_u64_field(b, "rx_bytes", c->rx);
	json_counters(b, e);
	json_u64_field(b, "drops", e->drops);
	if (e->flags & SOCK_CONN_SNAP) {
		json_u64_field(b, "min_snd_wnd", e->min_snd_wnd);
		json_u64_field(b, "min_rcv_wnd", e->min_rcv_wnd);
		json_u64_field(b, "max_srtt_us", e->max_srtt_us);
	} else {
		json_lit(b, ",\"min_snd_wnd\":null,\"min_rcv_wnd\":null,\"max_srtt_us\":null");
	}
	emit_tail(d);
}
