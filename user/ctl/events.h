/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Live subscribers (`tcpwatch events`) and the backlog. A control
 * connection whose request is "events ..." is handed over here: it gets
 * the records the daemon makes from then on (the bytes `run` writes,
 * through emit_tail's tap), filtered on the daemon's side, or with no
 * "follow=1" the backlog's records as of the request (a cursor, copied a
 * chunk at a time) and the end. The loop never waits on a subscriber:
 * each has a buffer of at most EVENTS_SUB_BUF; a subscriber that lets it
 * fill is cut off, gets a "lost" record with "where":"subscriber" once
 * it has read what was buffered, and is disconnected. Only main.c,
 * ctl.c and query.c (stats) include this.
 */
#ifndef TCPW_EVENTS_H
#define TCPW_EVENTS_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/json.h"

struct daemon;

#define EVENTS_SUB_MAX		128
/* A drain of the ring can make several MiB of records in one go, while
 * a reader on the other CPU takes them: room for such a burst. */
#define EVENTS_SUB_BUF		(4u << 20)
/* The backlog holds the records of at most this long ago. */
#define EVENTS_BACKLOG_NS	(10ULL * 1000000000ULL)

struct events_stats {
	__u64 subscribers, subscribed, cut, missed, sent;
	/* answers without follow=1 that lost records to the backlog's
	 * writer, and those records */
	__u64 overrun, overwritten;
	__u64 backlog_records, backlog_bytes;
};

/* Hang the subscribers and the backlog (d->o.backlog_bytes) off d. */
int events_attach(struct daemon *d);
/*
 * The request "events [follow=1] [netns=N] [port=P]... [type=T,...]
 * [state=S,...]" on fd (ctl.c): 0 when this module took fd over, else
 * an error line in err for ctl.c to answer with.
 */
int events_take(struct daemon *d, int fd, char **argv, int argc, bool end,
		struct jbuf *err);
void events_get_stats(struct events_stats *st);

#endif
