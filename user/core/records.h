/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The NDJSON record types `run --records LIST` chooses from: the event
 * kinds (enum tcpw_kind: state, retransmit, ...) and the daemon's own
 * records. A set is a bit mask, bit N for type N.
 */
#ifndef TCPW_RECORDS_H
#define TCPW_RECORDS_H

#include <stddef.h>
#include <linux/types.h>
#include "uapi/tcpwatch.h"

enum rec_type {
	/* 1 .. TCPW_EV_MAX - 1: the event kinds, named by kind_name() */
	REC_LOST = TCPW_EV_MAX,
	REC_RECONCILE,
	REC_START,
	REC_STOP,
	REC_FINDING,
	REC_CONN,
	REC_MAX,
};

_Static_assert(REC_MAX <= 32, "record types fit a __u32 mask");

#define REC_BIT(t)	(1u << (t))
#define REC_ALL		((REC_BIT(REC_MAX) - 1) & ~1u)
/* Today's stream: every type but conn. */
#define REC_DEFAULT	(REC_ALL & ~REC_BIT(REC_CONN))

/* "state", "lost", "conn"...; NULL for a type without a name. */
const char *rec_name(unsigned int t);

/*
 * Parse a comma-separated list of type names, or `default` (today's
 * stream) or `all`. On error, msg says what was wrong and lists the
 * valid names; returns -EINVAL.
 */
int records_parse(const char *list, __u32 *mask, char *msg, size_t n);

#endif
