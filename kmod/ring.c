// SPDX-License-Identifier: GPL-2.0
/*
 * The event ring.
 *
 * One ring for all CPUs, like the BPF ring buffer (kernel/bpf/ringbuf.c),
 * so that the reader sees the events of one socket in the order they
 * happened even when they fired on different CPUs (connect() on one,
 * the SYN-ACK softirq on another). Per-CPU rings would need a merge by
 * timestamp in read(); the shared lock is cheap here because it is held
 * only for a bounds check and a 160-byte copy.
 *
 * Locking:
 * - Producers take r->lock with raw_spin_lock_irqsave(): probes run in
 *   process, softirq and (in principle) hard irq context, a raw lock
 *   never sleeps (not even on PREEMPT_RT) and irqsave keeps an interrupt
 *   on the same CPU from deadlocking on it. Only producers write head,
 *   and only under the lock.
 * - The consumer (read(), serialised by the device's mutex) never takes
 *   the lock. Only it writes tail.
 *
 * Memory ordering (two release/acquire pairs):
 * - producer: fill slot; smp_store_release(&head)
 *   consumer: smp_load_acquire(&head); copy slot
 *   so the consumer never copies a half-written record.
 * - consumer: copy slot; smp_store_release(&tail)
 *   producer: smp_load_acquire(&tail); fill slot
 *   so a producer never overwrites a slot that is still being copied.
 *
 * A full ring rejects the new record (the caller counts the drop): old
 * records are never overwritten, so what the reader gets is a prefix of
 * the event stream plus exact drop counts, never a torn record.
 */
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "ring.h"

static inline u32 ring_dist(const struct tcpw_ring *r, u32 from, u32 to)
{
	return to >= from ? to - from : to + 2 * r->nr - from;
}

static inline u32 ring_advance(const struct tcpw_ring *r, u32 pos, u32 n)
{
	pos += n;
	return pos >= 2 * r->nr ? pos - 2 * r->nr : pos;
}

static inline u32 ring_slot(const struct tcpw_ring *r, u32 pos)
{
	return pos >= r->nr ? pos - r->nr : pos;
}

int tcpw_ring_init(struct tcpw_ring *r, u32 bytes)
{
	u32 nr = bytes / sizeof(struct tcpw_event);

	if (nr < 2)
		return -EINVAL;
	r->slots = vzalloc(array_size(nr, sizeof(struct tcpw_event)));
	if (!r->slots)
		return -ENOMEM;
	raw_spin_lock_init(&r->lock);
	r->nr = nr;
	r->head = 0;
	r->tail = 0;
	return 0;
}

void tcpw_ring_free(struct tcpw_ring *r)
{
	vfree(r->slots);
	r->slots = NULL;
}

u32 tcpw_ring_push(struct tcpw_ring *r, const struct tcpw_event *ev)
{
	unsigned long flags;
	u32 head, tail, used;

	raw_spin_lock_irqsave(&r->lock, flags);
	head = r->head;
	/* Pairs with smp_store_release(&r->tail) in the consumer. */
	tail = smp_load_acquire(&r->tail);
	used = ring_dist(r, tail, head);
	if (unlikely(used >= r->nr)) {
		raw_spin_unlock_irqrestore(&r->lock, flags);
		return 0;
	}
	memcpy(&r->slots[ring_slot(r, head)], ev, sizeof(*ev));
	/* Pairs with smp_load_acquire(&r->head) in the consumer. */
	smp_store_release(&r->head, ring_advance(r, head, 1));
	raw_spin_unlock_irqrestore(&r->lock, flags);
	return used + 1;
}

u32 tcpw_ring_pending(const struct tcpw_ring *r)
{
	return ring_dist(r, READ_ONCE(r->tail), READ_ONCE(r->head));
}

long tcpw_ring_read_user(struct tcpw_ring *r, char __user *buf,
			 u32 max_records)
{
	const size_t rec = sizeof(struct tcpw_event);
	u32 head, tail, n, first, slot;

	/* Pairs with smp_store_release(&r->head) in tcpw_ring_push(). */
	head = smp_load_acquire(&r->head);
	tail = r->tail;
	n = min(ring_dist(r, tail, head), max_records);
	if (!n)
		return 0;

	/* The pending records are at most two contiguous runs. */
	slot = ring_slot(r, tail);
	first = min(n, r->nr - slot);
	if (copy_to_user(buf, &r->slots[slot], first * rec))
		return -EFAULT;
	if (n > first &&
	    copy_to_user(buf + first * rec, &r->slots[0], (n - first) * rec))
		return -EFAULT;

	/* Pairs with smp_load_acquire(&r->tail) in tcpw_ring_push(). */
	smp_store_release(&r->tail, ring_advance(r, tail, n));
	return n;
}

void tcpw_ring_discard(struct tcpw_ring *r)
{
	smp_store_release(&r->tail, smp_load_acquire(&r->head));
}
