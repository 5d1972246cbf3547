// SPDX-License-Identifier: GPL-2.0
/*
 * Window/buffer samples without a probe on the packet path: a delayed
 * work walks the established hash every sample_ms, as /proc/net/tcp's
 * walker does (each bucket under its lock, BH off, RCU held), and emits
 * a SAMPLE record for each full socket whose snapshot changed since its
 * last sample. The BPF side does the same with an iter/tcp program.
 *
 * The module has no per-socket storage, so the last digest of each
 * socket is kept in a table keyed by cookie (open addressing, linear
 * probing), owned by the work alone (a work item never runs twice at
 * once). It cannot grow under the bucket locks: a socket that finds no
 * room is sampled anyway; after the walk the table is rebuilt from the
 * sockets seen this walk, at four times their number, which also drops the
 * sockets that are gone.
 *
 * Only tcp_hashinfo is walked: a netns with its own established hash
 * (net.ipv4.tcp_child_ehash_entries set when it was created) is not
 * sampled.
 */
#define pr_fmt(fmt) "tcpwatch: " fmt

#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/inet_hashtables.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "tcpw.h"

#define DIGEST_MIN_SLOTS	1024U

struct digest_slot {
	u64 cookie;		/* 0: empty */
	u64 digest;
	u32 walk;		/* the last walk that saw the socket */
};

static struct delayed_work sample_work;
static unsigned long sample_jiffies;	/* 0: no samples */
static struct digest_slot *slots;
static u32 nr_slots, used, seen, walk;
static bool full;			/* a socket found no room this walk */

static u64 mix(u64 h, u64 v)
{
	return (h ^ v) * 0x9e3779b97f4a7c15ULL;
}

/* The snapshot fields and the FIN flag, folded into a non-zero word. */
static u64 digest(const struct tcpw_event *ev)
{
	u64 h = 1;

	h = mix(h, ev->bytes_acked);
	h = mix(h, ev->bytes_received);
	h = mix(h, (u64)ev->snd_wnd << 32 | ev->rcv_wnd);
	h = mix(h, (u64)ev->snd_cwnd << 32 | ev->srtt_us);
	h = mix(h, (u64)ev->rcvbuf << 32 | ev->rcv_queued);
	h = mix(h, (u64)ev->sndbuf << 32 | ev->wmem_queued);
	h = mix(h, (u64)ev->total_retrans << 32 | ev->data_segs_out);
	h = mix(h, ev->flags);
	return h ? h : 1;
}

static struct digest_slot *slot_find(struct digest_slot *v, u32 n, u64 c)
{
	u32 mask = n - 1, i = hash_64(c, 32) & mask, k;

	for (k = 0; k < n; k++, i = (i + 1) & mask)
		if (!v[i].cookie || v[i].cookie == c)
			return &v[i];
	return NULL;
}

/*
 * Emit the sample when the socket's snapshot is news (not seen, or
 * changed). The digest is kept only once the record is in the ring: a
 * sample lost to a full ring (counted) is tried again next walk.
 */
static void sample_if_changed(const struct tcpw_event *ev)
{
	struct digest_slot *s = NULL;
	u64 d = digest(ev);

	if (slots)
		s = slot_find(slots, nr_slots, ev->cookie);
	if (s && s->cookie) {
		if (s->walk != walk)
			seen++;
		s->walk = walk;
		if (s->digest != d && tcpw_emit(ev))
			s->digest = d;
		return;
	}
	seen++;
	/* at most half full, so that probing stays short */
	if (!s || (used + 1) * 2 > nr_slots) {
		full = true;
		tcpw_emit(ev);
		return;
	}
	if (!tcpw_emit(ev))
		return;
	s->cookie = ev->cookie;
	s->digest = d;
	s->walk = walk;
	used++;
}

/*
 * After a walk, outside every lock: rebuild the table when it ran out
 * of room or holds mostly sockets that are gone.
 */
static void digests_resize(void)
{
	u32 n = DIGEST_MIN_SLOTS, i;
	struct digest_slot *v;

	if (!full && used <= 2 * seen + DIGEST_MIN_SLOTS / 4 && slots)
		return;
	while (n < 4 * (u64)seen && n < (1U << 30))
		n <<= 1;
	v = kvcalloc(n, sizeof(*v), GFP_KERNEL);
	if (!v)
		return;		/* keep the old one; sockets without room
				 * are sampled every walk meanwhile */
	used = 0;
	for (i = 0; slots && i < nr_slots; i++) {
		struct digest_slot *s;

		if (!slots[i].cookie || slots[i].walk != walk)
			continue;
		s = slot_find(v, n, slots[i].cookie);
		*s = slots[i];
		used++;
	}
	kvfree(slots);
	slots = v;
	nr_slots = n;
}

static void walk_bucket(struct inet_hashinfo *h, unsigned int b)
{
	struct inet_ehash_bucket *head = &h->ehash[b];
	spinlock_t *lock = inet_ehash_lockp(h, b);
	struct hlist_nulls_node *node;
	struct tcpw_event ev;
	struct sock *sk;

	if (hlist_nulls_empty(&head->chain))
		return;
	/*
	 * The RCU read section is what the device's release waits for
	 * (synchronize_rcu) before it drops the ring's contents: a record
	 * is only emitted inside one, after seeing the capture on.
	 */
	rcu_read_lock();
	spin_lock_bh(lock);
	sk_nulls_for_each(sk, node, &head->chain) {
		if (!tcpw_capturing())
			break;
		if (!sk_fullsock(sk) || sk->sk_state == TCP_CLOSE ||
		    sk->sk_state == TCP_LISTEN)
			continue;
		if (tcpw_fill_sample(&ev, sk))
			sample_if_changed(&ev);
	}
	spin_unlock_bh(lock);
	rcu_read_unlock();
}

static void sample_walk(struct work_struct *work)
{
	struct inet_hashinfo *h = &tcp_hashinfo;
	static unsigned int capture;
	unsigned int b;

	/*
	 * A new reader starts from no digests: it saw none, even when it
	 * opened the device again between two walks.
	 */
	if (!tcpw_capturing() || capture != READ_ONCE(tcpw_captures)) {
		kvfree(slots);
		slots = NULL;
		nr_slots = used = 0;
		capture = READ_ONCE(tcpw_captures);
		if (!tcpw_capturing())
			goto out;
	}
	walk++;
	seen = 0;
	full = false;
	for (b = 0; b <= h->ehash_mask; b++) {
		walk_bucket(h, b);
		if (!(b & 255))
			cond_resched();
	}
	digests_resize();
out:
	queue_delayed_work(system_unbound_wq, &sample_work, sample_jiffies);
}

void tcpw_sample_init(u32 sample_ms)
{
	INIT_DELAYED_WORK(&sample_work, sample_walk);
	sample_jiffies = msecs_to_jiffies(sample_ms);
	if (sample_ms && !sample_jiffies)
		sample_jiffies = 1;
	if (sample_jiffies)
		queue_delayed_work(system_unbound_wq, &sample_work,
				   sample_jiffies);
}

void tcpw_sample_exit(void)
{
	/* Waits for a running walk and stops the re-queueing. */
	cancel_delayed_work_sync(&sample_work);
	kvfree(slots);
	slots = NULL;
	nr_slots = used = 0;
}
