// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/tcpwatch: read() whole records, poll(), ioctls.
 *
 * Capture runs only while the device is open: the first open empties
 * the ring, zeroes the counters and turns the probes on; the last
 * close turns them off and waits for probes still running. So a loaded
 * but unused module costs one load and branch per tracepoint hit.
 *
 * Wakeups are batched, never one per event:
 * - a producer whose record makes the pending count reach the
 *   wakeup_bytes threshold queues an irq_work that wakes the reader.
 *   Each count is reached by exactly one push (pushes are serialised by
 *   the ring lock), so this is one wakeup per threshold crossing; the
 *   irq_work keeps wake_up() (and its locks) out of the probe's
 *   context, as the BPF ring buffer does;
 * - a timer every flush_ms wakes a sleeping reader if anything at all
 *   is pending, so a quiet stream is still delivered promptly and a
 *   blocking read() never waits forever below the threshold.
 * A reader only sleeps on an empty ring, so it never misses a crossing.
 */
#define pr_fmt(fmt) "tcpwatch: " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "ring.h"
#include "tcpw.h"

/*
 * As the BPF side counts them: events[k] are records that made it into
 * the ring, drops[k] the ones a full ring refused. Their sum is every
 * record the probes produced.
 */
struct tcpw_counters {
	u64 events[TCPW_EV_MAX];
	u64 drops[TCPW_EV_MAX];
};

static DEFINE_PER_CPU(struct tcpw_counters, tcpw_counters);

/*
 * The namespaces a full ring lost table events of, for
 * TCPW_IOC_LOST_NETNS. Only touched when the ring is full, so a lock is
 * cheap enough; raw, because probes run with preemption off, also on
 * PREEMPT_RT.
 */
static DEFINE_RAW_SPINLOCK(lost_lock);
static struct tcpw_lost_netns lost_netns;

static void lost_netns_note(u32 netns)
{
	unsigned long flags;
	u32 i;

	raw_spin_lock_irqsave(&lost_lock, flags);
	for (i = 0; i < lost_netns.nr; i++)
		if (lost_netns.netns[i] == netns)
			goto out;
	if (lost_netns.nr < TCPW_LOST_NETNS_MAX)
		lost_netns.netns[lost_netns.nr++] = netns;
	else
		lost_netns.overflow = 1;
out:
	raw_spin_unlock_irqrestore(&lost_lock, flags);
}

/* Copy the set out and empty it; out == NULL only empties it. */
static void lost_netns_take(struct tcpw_lost_netns *out)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lost_lock, flags);
	if (out)
		*out = lost_netns;
	lost_netns.nr = 0;
	lost_netns.overflow = 0;
	raw_spin_unlock_irqrestore(&lost_lock, flags);
}

static struct tcpw_ring ring;
static u32 wake_records;		/* pending count that wakes */
static u32 flush_jiffies;		/* 0: no flush timer */

static DECLARE_WAIT_QUEUE_HEAD(read_wq);
static DEFINE_MUTEX(consume_lock);		/* one consumer at a time */
static DEFINE_MUTEX(open_lock);		/* open_count, capture on/off */
static unsigned int open_count;
static struct irq_work wake_work;
static struct timer_list flush_timer;

bool tcpw_active;
unsigned int tcpw_captures;

static void wake_reader(void)
{
	wake_up_interruptible_poll(&read_wq, EPOLLIN | EPOLLRDNORM);
}

static void wake_work_fn(struct irq_work *work)
{
	wake_reader();
}

static void flush_timer_fn(struct timer_list *t)
{
	/* wq_has_sleeper() has the barrier that pairs with the waiter's. */
	if (tcpw_ring_pending(&ring) && wq_has_sleeper(&read_wq))
		wake_reader();
	if (READ_ONCE(tcpw_active))
		mod_timer(&flush_timer, jiffies + flush_jiffies);
}

bool tcpw_emit(const struct tcpw_event *ev)
{
	u32 pending;

	if (WARN_ON_ONCE(ev->kind == 0 || ev->kind >= TCPW_EV_MAX))
		return false;
	/*
	 * DROP records take at most half the ring: a flood of them (a SYN
	 * flood from random ports, each a new tuple) while the reader is
	 * behind must leave room for the events the table is built from.
	 */
	if (ev->kind == TCPW_EV_DROP &&
	    tcpw_ring_pending(&ring) >= ring.nr / 2)
		pending = 0;
	else
		pending = tcpw_ring_push(&ring, ev);
	if (unlikely(!pending)) {
		this_cpu_inc(tcpw_counters.drops[ev->kind]);
		/* samples are tried again, drops are not in the table */
		if (ev->kind != TCPW_EV_SAMPLE && ev->kind != TCPW_EV_DROP)
			lost_netns_note(ev->netns);
		return false;
	}
	this_cpu_inc(tcpw_counters.events[ev->kind]);
	if (pending == wake_records)
		irq_work_queue(&wake_work);
	return true;
}

static void counters_reset(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(&tcpw_counters, cpu), 0,
		       sizeof(struct tcpw_counters));
}

static void stats_fill(struct tcpw_stats *st)
{
	int cpu, k;

	memset(st, 0, sizeof(*st));
	for_each_possible_cpu(cpu) {
		const struct tcpw_counters *c = per_cpu_ptr(&tcpw_counters,
							    cpu);

		for (k = 0; k < TCPW_EV_MAX; k++) {
			st->events[k] += READ_ONCE(c->events[k]);
			st->drops[k] += READ_ONCE(c->drops[k]);
		}
	}
	st->ring_bytes = ring.nr * sizeof(struct tcpw_event);
	st->ring_used = tcpw_ring_pending(&ring) * sizeof(struct tcpw_event);
}

static int tcpw_open(struct inode *inode, struct file *file)
{
	mutex_lock(&open_lock);
	if (open_count++ == 0) {
		/*
		 * No probe is running: the last release() waited for them.
		 * Start from an empty ring and zeroed counters, then publish
		 * tcpw_active after those stores.
		 */
		mutex_lock(&consume_lock);
		tcpw_ring_discard(&ring);
		mutex_unlock(&consume_lock);
		counters_reset();
		lost_netns_take(NULL);
		tcpw_drop_reset();
		WRITE_ONCE(tcpw_captures, tcpw_captures + 1);
		smp_store_release(&tcpw_active, true);
		if (flush_jiffies)
			mod_timer(&flush_timer, jiffies + flush_jiffies);
	}
	mutex_unlock(&open_lock);
	return nonseekable_open(inode, file);
}

static int tcpw_release(struct inode *inode, struct file *file)
{
	mutex_lock(&open_lock);
	if (--open_count == 0) {
		WRITE_ONCE(tcpw_active, false);
		/* The callback no longer re-arms once tcpw_active is off. */
		timer_delete_sync(&flush_timer);
		/*
		 * Probes run with preemption disabled: after a grace period
		 * none is still inside tcpw_emit() from this capture.
		 */
		synchronize_rcu();
		irq_work_sync(&wake_work);
	}
	mutex_unlock(&open_lock);
	return 0;
}

static ssize_t tcpw_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	size_t max = count / sizeof(struct tcpw_event);
	long n;

	if (!max)
		return -EINVAL;
	max = min_t(size_t, max, U32_MAX);

	for (;;) {
		if (mutex_lock_interruptible(&consume_lock))
			return -ERESTARTSYS;
		n = tcpw_ring_read_user(&ring, buf, max);
		mutex_unlock(&consume_lock);
		if (n < 0)
			return n;
		if (n > 0)
			return n * sizeof(struct tcpw_event);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(read_wq,
					     tcpw_ring_pending(&ring)))
			return -ERESTARTSYS;
	}
}

static __poll_t tcpw_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &read_wq, wait);
	return tcpw_ring_pending(&ring) ? EPOLLIN | EPOLLRDNORM : 0;
}

static long lost_netns_ioctl(void __user *uarg)
{
	struct tcpw_lost_netns l;

	lost_netns_take(&l);
	if (!copy_to_user(uarg, &l, sizeof(l)))
		return 0;
	/* not handed over: every netns is suspect now */
	raw_spin_lock_irq(&lost_lock);
	lost_netns.overflow = 1;
	raw_spin_unlock_irq(&lost_lock);
	return -EFAULT;
}

static long tcpw_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct tcpw_drop_reason r;
	struct tcpw_stats st;
	int ret;

	switch (cmd) {
	case TCPW_IOC_GET_STATS:
		stats_fill(&st);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	case TCPW_IOC_GET_VERSION:
		return put_user((__u32)TCPW_ABI_VERSION, (__u32 __user *)uarg);
	case TCPW_IOC_DROP_REASON:
		if (copy_from_user(&r, uarg, sizeof(r)))
			return -EFAULT;
		ret = tcpw_drop_reason_name(r.reason, r.name, sizeof(r.name));
		if (ret)
			return ret;
		return copy_to_user(uarg, &r, sizeof(r)) ? -EFAULT : 0;
	case TCPW_IOC_DROP_FOLDED:
		return put_user(tcpw_drop_folded(), (__u64 __user *)uarg);
	case TCPW_IOC_LOST_NETNS:
		return lost_netns_ioctl(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations tcpw_fops = {
	.owner		= THIS_MODULE,	/* rmmod is refused while open */
	.open		= tcpw_open,
	.release	= tcpw_release,
	.read		= tcpw_read,
	.poll		= tcpw_poll,
	.unlocked_ioctl	= tcpw_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice tcpw_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= TCPW_DEV_NAME,
	.fops	= &tcpw_fops,
	.mode	= 0600,
};

int tcpw_dev_init(u32 ring_bytes, u32 wakeup_bytes, u32 flush_ms)
{
	int ret;

	ret = tcpw_ring_init(&ring, ring_bytes);
	if (ret)
		return ret;
	wake_records = wakeup_bytes ? wakeup_bytes / sizeof(struct tcpw_event)
				    : ring.nr / 4;
	wake_records = clamp_t(u32, wake_records, 1, ring.nr / 2);
	flush_jiffies = flush_ms ? max(msecs_to_jiffies(flush_ms), 1UL) : 0;
	init_irq_work(&wake_work, wake_work_fn);
	timer_setup(&flush_timer, flush_timer_fn, 0);

	ret = misc_register(&tcpw_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", TCPW_DEV_NAME, ret);
		goto out_ring;
	}
	pr_info("ring %u records (%zu bytes), wakeup at %u records, flush every %u ms\n",
		ring.nr, ring.nr * sizeof(struct tcpw_event), wake_records,
		flush_ms);
	return 0;

out_ring:
	tcpw_ring_free(&ring);
	return ret;
}

void tcpw_dev_exit(void)
{
	/* The module reference held by every open file makes this idle. */
	misc_deregister(&tcpw_misc);
	irq_work_sync(&wake_work);
	timer_delete_sync(&flush_timer);
	tcpw_ring_free(&ring);
}
