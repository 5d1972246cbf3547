/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event ring: fixed-size struct tcpw_event slots, many producers
 * (tracepoint probes on any CPU, any context up to hard irq), one
 * consumer at a time (read() under a mutex). See ring.c for the
 * locking and memory-ordering rules.
 */
#ifndef TCPW_RING_H
#define TCPW_RING_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/cache.h>

#include "uapi/tcpwatch.h"

struct tcpw_ring {
	raw_spinlock_t lock;		/* serialises producers */
	u32 nr;				/* number of slots */
	struct tcpw_event *slots;	/* vmalloc'ed, nr entries */
	/*
	 * Positions run over [0, 2 * nr): a position p names slot
	 * p % nr, and head == tail means empty while
	 * head - tail == nr (mod 2 * nr) means full, without a wasted
	 * slot and without ever overflowing.
	 */
	u32 head ____cacheline_aligned;	/* next slot to fill; producers */
	u32 tail ____cacheline_aligned;	/* next slot to read; consumer */
};

int tcpw_ring_init(struct tcpw_ring *r, u32 bytes);
void tcpw_ring_free(struct tcpw_ring *r);

/*
 * Copy one record in. Returns the number of records pending after it,
 * or 0 when the ring was full and the record was not stored. Never
 * sleeps; callable from any context.
 */
u32 tcpw_ring_push(struct tcpw_ring *r, const struct tcpw_event *ev);

/* Records waiting; a lockless estimate for anyone but the consumer. */
u32 tcpw_ring_pending(const struct tcpw_ring *r);

/*
 * Consumer side; the caller serialises consumers. Copies up to
 * max_records whole records to buf and frees their slots. Returns the
 * number copied, or -EFAULT (then nothing is consumed).
 */
long tcpw_ring_read_user(struct tcpw_ring *r, char __user *buf,
			 u32 max_records);

/* Consumer side: throw away everything pending. */
void tcpw_ring_discard(struct tcpw_ring *r);

#endif /* TCPW_RING_H */
