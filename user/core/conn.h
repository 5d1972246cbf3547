/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One `conn` record per connection, when it is over for its application:
 * at CLOSE, or on entering TIME_WAIT (or an orphan's timewait FIN_WAIT2),
 * with how it ended. A close that a reset sent by this socket may still
 * follow (tcp_disconnect() and a close() with unread data trace CLOSE
 * first, then the reset) waits in a small queue until that reset comes
 * or CONN_HOLD_NS has passed.
 */
#ifndef TCPW_CONN_H
#define TCPW_CONN_H

#include <stdbool.h>
#include <linux/types.h>

#include "core/table.h"

enum conn_outcome {
	CONN_FIN,		/* FINs both ways, no TIME_WAIT here */
	CONN_TIME_WAIT,		/* we closed first: a timewait socket */
	CONN_RESET_SENT,
	CONN_RESET_RECV,
	CONN_REFUSED,		/* a reset answered our SYN */
	CONN_TIMEOUT,		/* no answer: SYN, data or keepalive */
	CONN_DROP,		/* no answer, and this host dropped its
				 * packets (TCPW_EV_DROP) */
	CONN_UNKNOWN,		/* the end was not seen: a reconcile found
				 * the socket gone */
	CONN_OUTCOME_MAX,
};

#define CONN_PENDING	16
#define CONN_HOLD_NS	2000000ULL	/* a trailing reset comes within µs */

struct conn_pending {
	struct sock_entry e;	/* copy, as it was at CLOSE */
	__u64 ts_ns;
	__u8 old;		/* the state it closed from */
};

struct conns {
	struct conn_pending v[CONN_PENDING];	/* ring */
	__u32 head, n;
};

const char *conn_outcome_name(unsigned int o);

/*
 * How a connection ended: from the state it left (old), the state it
 * ended in (end: TCPW_CLOSE, TCPW_TIME_WAIT, or TCPW_FIN_WAIT2 for an
 * orphan's timewait socket) and its counters.
 */
enum conn_outcome conn_outcome(const struct sock_entry *e, __u8 old,
			       __u8 end);

/* Data bytes each way, from the last snapshot without SYN and FINs. */
void conn_bytes(const struct sock_entry *e, __u8 end, __u64 *tx,
		__u64 *rx);

struct daemon;
struct tcpw_event;
struct apply_result;
/* After an event is applied: write or queue what it ended. */
void conn_event(struct daemon *d, const struct tcpw_event *ev,
		const struct apply_result *res);
/* A reconcile removed e, whose end no event told. */
void conn_vanished(struct daemon *d, const struct sock_entry *e,
		   __u64 now_ns);
/* Write the queued closes older than CONN_HOLD_NS (all: every one). */
void conn_flush(struct daemon *d, __u64 now_ns, bool all);

#endif
