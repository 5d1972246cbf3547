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
	char w[32];

	json_lit(b, "{\"type\":\"");
	json_raw(b, type, strlen(type));
	json_lit(b, "\",\"time\":\"");
	json_raw(b, w, wallclock_fmt(&d->wc, ts_ns, w));
	json_ch(b, '"');
	json_u64_field(b, "ts_ns", ts_ns);
}

void emit_tail(struct daemon *d)
{
	json_lit(&d->out, "}\n");
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

	emit_head(d, kind_name(ev->kind), ev->ts_ns);
	json_u64_field(b, "cookie", ev->cookie);
	/* The tuple as it is now: SYN_SENT events lack the source port. */
	if (e)
		json_tuple(b, ev->netns, e->family, e->saddr, e->sport, e->daddr,
		      e->dport);
	else
		json_tuple(b, ev->netns, ev->family, ev->saddr, ev->sport,
		      ev->daddr, ev->dport);
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

	if (!d->has_out)
		return false;
	emit_head(d, "state", ts_ns);
	json_u64_field(b, "cookie", e->cookie);
	json_tuple(b, e->netns, e->family, e->saddr, e->sport, e->daddr,
	      e->dport);
	state_field(b, ",\"old\":", 7, old);
	state_field(b, ",\"new\":", 7, new);
	json_fixed_field(b, "old_ms", (ts_ns > e->state_ns ?
				       ts_ns - e->state_ns : 0) / 1000, 3);
	json_lit(b, ",\"inferred\":true,\"reason\":\"");
	json_raw(b, reason, strlen(reason));
	json_ch(b, '"');
	json_owner(b, e, NULL);
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

	if (!d->has_out)
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

	if (!d->has_out)
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

	if (!d->has_out)
		return;
	emit_head(d, "start", mono_ns());
	json_lit(b, ",\"version\":\"" TCPWATCH_VERSION "\"");
	json_u64_field(b, "abi", TCPW_ABI_VERSION);
	json_name_field(b, "source", source_name(d->src));
	json_u64_field(b, "seeded", d->seeded);
	json_u64_field(b, "netns_filter", d->o.filter.netns);
	json_u64_field(b, "pid", getpid());
	emit_tail(d);
}

void emit_stop(struct daemon *d)
{
	struct jbuf *b = &d->out;

	if (!d->has_out)
		return;
	emit_head(d, "stop", mono_ns());
	json_kinds(b, ",\"events\":", 10, d->events);
	json_kinds(b, ",\"lost\":", 8, d->drops);
	json_u64_field(b, "lost_total", d->lost_total);
	json_u64_field(b, "sockets", d->tab.count);
	emit_tail(d);
}
