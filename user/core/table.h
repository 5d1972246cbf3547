/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live socket table: one entry per TCP socket, keyed by the socket
 * cookie (socket addresses are reused, cookies never are).
 *
 * Entries live in one slab array and are found through a chained hash
 * of 32-bit indices, so an entry costs its own size plus ~8 bytes of
 * index, and lookups are O(1). Events apply in O(1); TIME_WAIT expiry
 * uses a FIFO, since every TIME_WAIT lasts the same 60 s.
 */
#ifndef TCPW_TABLE_H
#define TCPW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "uapi/tcpwatch.h"

#define TABLE_HIST	6		/* transitions kept per socket: a whole
				 * normal lifecycle */
#define TCP_TIMEWAIT_NS	(60ULL * 1000000000ULL)	/* TCP_TIMEWAIT_LEN, fixed */
#define TABLE_NIL	0xffffffffu

#include "core/idx_map.h"

enum owner_src {
	OWNER_NONE,
	OWNER_EVENT,		/* seen acting in process context */
	OWNER_LISTENER,		/* inherited from the listening socket */
	OWNER_PROCFS,		/* found in /proc/PID/fd, as ss -p does */
};

/* Entry flags */
#define SOCK_SEEDED	0x01	/* came from sock_diag, not from events */
#define SOCK_INFERRED	0x02	/* current state inferred (TIME_WAIT) */
#define SOCK_RST	0x04	/* a reset was sent or received */
#define SOCK_LISTENER	0x08	/* in the listener index */
#define SOCK_TW		0x10	/* a kernel timewait socket now (TIME_WAIT,
				 * or an orphan's FIN_WAIT2): in the tuple
				 * index and the expiry FIFO */
#define SOCK_ACTIVE	0x20	/* opened by connect() (seen in SYN_SENT) */
#define SOCK_SNAP_OUT	0x40	/* snap is what the socket's last NDJSON
				 * "snap" said: an equal one is not repeated */
#define SOCK_CONN_SNAP	0x80	/* min_*_wnd, max_srtt_us hold a snapshot
				 * of the open connection (conn records) */

/* Packed: 6 bytes, not 8; the history is most of an entry's size. */
struct sock_trans {
	__u32 ms;		/* since birth */
	__u8 old, new;
} __attribute__((packed));

struct sock_snap {
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 snd_cwnd;
	__u32 srtt_us;
	__u32 rcvbuf;
	__u32 rcv_queued;
	__u32 sndbuf;
	__u32 wmem_queued;
	__u32 total_retrans;
	__u32 data_segs_out;
};

struct sock_entry {
	__u64 cookie;		/* 0: free slot */
	__u64 birth_ns;		/* CLOCK_MONOTONIC; first seen if SEEDED */
	__u64 state_ns;		/* entered the current state */
	__u64 last_ns;		/* last event or reconcile touch */
	__u64 expire_ns;	/* SOCK_TW: when the kernel drops it */
	__u64 cgroup;		/* cgroup v2 id (the socket's, kept when a
				 * timewait sock's records lack it); 0 = unknown */
	struct sock_snap snap;
	__u32 netns;
	__u32 pid;		/* owner tgid; 0 = unknown */
	__u32 inode;		/* from sock_diag; 0 = unknown */
	__u32 next;		/* hash chain / free list */
	__u32 retrans;		/* retransmits seen (incl. SYN-ACK) */
	__u16 rst_sent;
	__u16 rst_recv;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 state;		/* enum tcpw_state, TIME_WAIT inferred */
	__u8 owner_src;		/* enum owner_src */
	__u8 flags;		/* SOCK_* */
	__u8 nhist;		/* transitions recorded, saturating at 255 */
	__u8 has_snap;
	__u8 gen;		/* reconcile pass that last saw it */
	__u16 drops;		/* dropped packets (TCPW_EV_DROP), saturating */
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
	struct sock_trans hist[TABLE_HIST];	/* ring: hist[i % TABLE_HIST] */
	/* For the conn record (core/conn.h): 16 bytes. */
	__u32 handshake_us;	/* 0: not established (yet) */
	__u32 min_snd_wnd;	/* smallest windows and largest srtt in */
	__u32 min_rcv_wnd;	/* the snapshots of the open connection */
	__u32 max_srtt_us;	/* (SOCK_CONN_SNAP) */
};

struct tw_item {
	__u64 cookie;
	__u64 expire_ns;
};

struct table {
	struct sock_entry *v;	/* slab */
	__u32 cap, used;	/* slab capacity, high-water index */
	__u32 count;		/* live entries */
	__u32 free_head;
	__u32 *heads;
	__u32 mask;		/* buckets - 1 */
	__u32 by_state[TCPW_STATE_MAX];

	struct idx_map listeners;	/* (netns, family, port) -> LISTEN */
	struct idx_map tw_tuples;	/* 4-tuple hash -> SOCK_TW entry */

	struct tw_item *tw;	/* TIME_WAIT expiry FIFO (a ring) */
	__u32 tw_cap, tw_head, tw_len;
};

/* What applying an event did, for the JSON writer. */
struct apply_result {
	struct sock_entry *e;	/* the entry (or *gone when removed) */
	__u8 old, new;		/* the transition as the table sees it */
	bool inferred;		/* new state inferred, not seen */
	bool timewait;		/* the socket became a kernel timewait sock */
	bool removed;		/* entry was removed; *gone holds its copy */
	bool created;		/* entry created by this event */
	bool suppressed;	/* not about a socket: emit nothing */
	bool child_born;	/* a passive child first seen in SYN_RECV:
				 * its LISTEN -> SYN_RECV was announced on
				 * the listener (6.1) and is implied */
	__u64 old_ns;		/* time spent in the old state */
	/* A timewait entry this event ended (its 4-tuple was reused, or
	 * the local peer's FIN moved it on); tw_ended holds a copy. */
	bool tw_ended;		/* removed: reused tuple */
	bool tw_promoted;	/* FIN_WAIT2 -> TIME_WAIT: tw_entry */
	struct sock_entry *tw_entry;
};

const char *owner_src_name(unsigned int src);	/* "listener" */
/* The record's snapshot fields (valid with TCPW_F_SNAPSHOT). */
void snap_of_event(struct sock_snap *s, const struct tcpw_event *ev);

int table_init(struct table *t, __u32 expected);
void table_free(struct table *t);

/* A TCPW_EV_DROP record of a tracked socket: count its drops (conn). */
void table_note_drop(struct table *t, const struct tcpw_event *ev);
struct sock_entry *table_find(struct table *t, __u64 cookie);

/*
 * A batch of records is applied in order, looking ahead: the bucket of
 * a record some way ahead is fetched first, then, once it has arrived,
 * the entry it points to (the chains are short). It pays once the table
 * outgrows the caches (Documentation/performance.md). Hints only: a
 * table that grows meanwhile makes them useless, not wrong. Always
 * inlined: GCC finds an out-of-line copy free of side effects and drops
 * the call.
 */
#define TABLE_PF static inline __attribute__((always_inline)) void

TABLE_PF table_prefetch_bucket(const struct table *t, __u64 cookie)
{
	__builtin_prefetch(&t->heads[hash64(cookie) & t->mask]);
}

TABLE_PF table_prefetch_entry(const struct table *t, __u64 cookie)
{
	__u32 i = t->heads[hash64(cookie) & t->mask];
	const char *p;

	if (i >= t->used)
		return;
	/* Every line of it (up to 5): the lookup reads the cookie and the
	 * chain link, applying the record most of the rest. */
	p = (const char *)&t->v[i];
	__builtin_prefetch(p);
	__builtin_prefetch(p + 64);
	__builtin_prefetch(p + 128);
	__builtin_prefetch(p + 192);
	__builtin_prefetch(p + sizeof(t->v[i]) - 1);
}
/* Insert or return the existing entry for cookie; NULL on ENOMEM. */
struct sock_entry *table_get(struct table *t, __u64 cookie, bool *created);
void table_remove(struct table *t, struct sock_entry *e);
void table_set_state(struct table *t, struct sock_entry *e, __u8 state,
		     __u64 ts_ns);

/*
 * Apply one event. gone receives a copy of a removed entry so the
 * caller can still describe it. Returns 0 or -ENOMEM.
 */
int table_apply(struct table *t, const struct tcpw_event *ev,
		struct apply_result *res, struct sock_entry *gone,
		struct sock_entry *tw_ended);

/* Make e a kernel timewait socket in state (TIME_WAIT or FIN_WAIT2). */
int table_make_tw(struct table *t, struct sock_entry *e, __u8 state,
		  __u64 now_ns, __u64 expire_ns);

/* Owner of the listener for (netns, family, port), or NULL. */
struct sock_entry *table_listener(struct table *t, __u32 netns,
				  __u16 family, __u16 port);

/*
 * Expire inferred TIME_WAIT entries older than now. cb is called with a
 * copy of each before it is dropped. Returns how many expired.
 */
typedef void (*table_expire_cb)(void *ctx, const struct sock_entry *e,
				__u64 now_ns);
int table_expire(struct table *t, __u64 now_ns, table_expire_cb cb,
		 void *ctx);

/* Entry i of the slab, or NULL when that slot is free. */
static inline struct sock_entry *table_at(struct table *t, __u32 i)
{
	return i < t->used && t->v[i].cookie ? &t->v[i] : NULL;
}

#define table_for_each(t, e, i) \
	for ((i) = 0; (i) < (t)->used; (i)++) \
		if (((e) = table_at((t), (i))) != NULL)

#endif
