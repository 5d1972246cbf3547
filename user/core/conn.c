// SPDX-License-Identifier: GPL-2.0
/*
 * The conn record: how each connection ended (core/conn.h). O(1) per
 * event: only the events that end a connection do any work here.
 */
#include <string.h>

#include "core/conn.h"
#include "core/daemon.h"
#include "core/emit.h"

const char *conn_outcome_name(unsigned int o)
{
	static const char *const names[CONN_OUTCOME_MAX] = {
		[CONN_FIN] = "fin",
		[CONN_TIME_WAIT] = "time_wait",
		[CONN_RESET_SENT] = "reset_sent",
		[CONN_RESET_RECV] = "reset_recv",
		[CONN_REFUSED] = "refused",
		[CONN_TIMEOUT] = "timeout",
		[CONN_DROP] = "drop",
		[CONN_UNKNOWN] = "unknown",
	};

	return o < CONN_OUTCOME_MAX ? names[o] : "unknown";
}

/* Whether one of the transitions kept in e's history entered state. */
static bool entered(const struct sock_entry *e, __u8 state)
{
	unsigned int n = e->nhist < TABLE_HIST ? e->nhist : TABLE_HIST;

	for (unsigned int i = 0; i < n; i++)
		if (e->hist[i].new == state)
			return true;
	return false;
}

enum conn_outcome conn_outcome(const struct sock_entry *e, __u8 old,
			       __u8 end)
{
	/*
	 * We closed first and the kernel made it a timewait socket: in
	 * TIME_WAIT, or (an orphan) in FIN_WAIT2 until the peer's FIN,
	 * which a remote peer sends without any event to see it by.
	 */
	if (end == TCPW_TIME_WAIT || end == TCPW_FIN_WAIT2)
		return CONN_TIME_WAIT;
	if (e->rst_recv)
		return old == TCPW_SYN_SENT ? CONN_REFUSED : CONN_RESET_RECV;
	if (e->rst_sent)
		return CONN_RESET_SENT;
	/* LAST_ACK -> CLOSE: the ACK of our FIN came. */
	if (old == TCPW_LAST_ACK || old == TCPW_CLOSING)
		return CONN_FIN;
	/*
	 * Otherwise the kernel gave up: SYN retries (or the application
	 * stopped waiting in connect()), data or keepalive retries. If
	 * this host dropped its packets, that is why.
	 */
	return e->drops ? CONN_DROP : CONN_TIMEOUT;
}

/*
 * bytes_acked and bytes_received count sequence space: the active
 * side's SYN once the SYN-ACK acked it, our FIN once acked, the peer's
 * FIN once received (a passive child starts past the SYN).
 */
void conn_bytes(const struct sock_entry *e, __u8 end, __u64 *tx, __u64 *rx)
{
	__u64 ctl_tx = 0, ctl_rx = 0;

	if (!e->has_snap) {
		*tx = *rx = 0;
		return;
	}
	if ((e->flags & SOCK_ACTIVE) && e->handshake_us)
		ctl_tx++;
	if (end == TCPW_TIME_WAIT || end == TCPW_FIN_WAIT2 ||
	    entered(e, TCPW_FIN_WAIT2) ||
	    (end == TCPW_CLOSE && entered(e, TCPW_LAST_ACK) &&
	     !e->rst_recv && !e->rst_sent))
		ctl_tx++;
	if (end == TCPW_TIME_WAIT || entered(e, TCPW_CLOSE_WAIT) ||
	    entered(e, TCPW_CLOSING))
		ctl_rx++;
	*tx = e->snap.bytes_acked > ctl_tx ? e->snap.bytes_acked - ctl_tx : 0;
	*rx = e->snap.bytes_received > ctl_rx ?
	      e->snap.bytes_received - ctl_rx : 0;
}

static void write_conn(struct daemon *d, const struct sock_entry *e,
		       __u8 old, __u8 end, enum conn_outcome o, __u64 ts_ns)
{
	struct conn_end c = {
		.old = old, .end = end, .ts_ns = ts_ns,
		.outcome = conn_outcome_name(o),
	};

	conn_bytes(e, end, &c.tx, &c.rx);
	emit_conn(d, e, &c);
}

static void write_pending(struct daemon *d, struct conn_pending *p)
{
	write_conn(d, &p->e, p->old, TCPW_CLOSE,
		   conn_outcome(&p->e, p->old, TCPW_CLOSE), p->ts_ns);
}

/* States a close() or disconnect() answers with a reset after CLOSE. */
static bool reset_may_follow(__u8 old)
{
	return old == TCPW_ESTABLISHED || old == TCPW_CLOSE_WAIT ||
	       old == TCPW_FIN_WAIT1 || old == TCPW_FIN_WAIT2 ||
	       old == TCPW_SYN_RECV;
}

static void queue_close(struct daemon *d, const struct sock_entry *e,
			__u8 old, __u64 ts_ns)
{
	struct conns *q = &d->conns;
	struct conn_pending *p;

	if (q->n == CONN_PENDING) {	/* full: the oldest goes now */
		if (q->v[q->head].e.cookie)
			write_pending(d, &q->v[q->head]);
		q->head = (q->head + 1) % CONN_PENDING;
		q->n--;
	}
	p = &q->v[(q->head + q->n++) % CONN_PENDING];
	p->e = *e;
	p->old = old;
	p->ts_ns = ts_ns;
}

/* The reset a queued close was waiting for: write it now. */
static void reset_after_close(struct daemon *d, __u64 cookie)
{
	struct conns *q = &d->conns;

	for (__u32 i = 0; i < q->n; i++) {
		struct conn_pending *p = &q->v[(q->head + i) % CONN_PENDING];

		if (p->e.cookie != cookie)
			continue;
		if (p->e.rst_sent < 0xffff)
			p->e.rst_sent++;
		write_pending(d, p);
		p->e.cookie = 0;	/* written; the flush skips it */
		return;
	}
}

void conn_event(struct daemon *d, const struct tcpw_event *ev,
		const struct apply_result *res)
{
	const struct sock_entry *e = res->e;
	enum conn_outcome o;

	if (ev->kind == TCPW_EV_RST_SENT && !e && ev->cookie && d->conns.n) {
		reset_after_close(d, ev->cookie);
		return;
	}
	if (ev->kind != TCPW_EV_STATE || !e || res->old == TCPW_LISTEN)
		return;
	if (res->timewait && res->new != TCPW_CLOSE) {
		/* became a kernel timewait socket: over for the owner */
		write_conn(d, e, res->old, res->new,
			   conn_outcome(e, res->old, res->new), ev->ts_ns);
		return;
	}
	if (!res->removed || res->new != TCPW_CLOSE)
		return;
	o = conn_outcome(e, res->old, TCPW_CLOSE);
	if ((o == CONN_TIMEOUT || o == CONN_DROP) && reset_may_follow(res->old))
		queue_close(d, e, res->old, ev->ts_ns);
	else
		write_conn(d, e, res->old, TCPW_CLOSE, o, ev->ts_ns);
}

void conn_vanished(struct daemon *d, const struct sock_entry *e,
		   __u64 now_ns)
{
	/* Already written: a timewait socket; not a connection: a
	 * listener. */
	if ((e->flags & SOCK_TW) || e->state == TCPW_LISTEN ||
	    !emit_wants(d, REC_CONN))
		return;
	write_conn(d, e, e->state, TCPW_CLOSE, CONN_UNKNOWN, now_ns);
}

void conn_flush(struct daemon *d, __u64 now_ns, bool all)
{
	struct conns *q = &d->conns;

	while (q->n) {
		struct conn_pending *p = &q->v[q->head];

		if (!all && p->e.cookie && p->ts_ns + CONN_HOLD_NS > now_ns)
			break;
		if (p->e.cookie)
			write_pending(d, p);
		q->head = (q->head + 1) % CONN_PENDING;
		q->n--;
	}
}
