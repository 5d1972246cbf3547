// SPDX-License-Identifier: GPL-2.0
/*
 * The live socket table and the TCP state bookkeeping that makes it
 * truthful where the tracepoint is not (TIME_WAIT; see
 * Documentation/architecture.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/table.h"

#define INIT_CAP	1024u

const char *owner_src_name(unsigned int src)
{
	static const char *const names[] = {
		[OWNER_NONE] = "none",
		[OWNER_EVENT] = "event",
		[OWNER_LISTENER] = "listener",
		[OWNER_PROCFS] = "procfs",
	};

	return src <= OWNER_PROCFS ? names[src] : "none";
}

/* ---- the socket slab and cookie hash ---- */

int table_init(struct table *t, __u32 expected)
{
	__u32 buckets = 1024;

	memset(t, 0, sizeof(*t));
	while (buckets < expected)
		buckets <<= 1;
	t->heads = malloc(buckets * sizeof(*t->heads));
	if (!t->heads)
		return -ENOMEM;
	memset(t->heads, 0xff, buckets * sizeof(*t->heads));
	t->mask = buckets - 1;
	t->free_head = TABLE_NIL;
	if (idx_init(&t->listeners, 256) || idx_init(&t->tw_tuples, 1024)) {
		table_free(t);
		return -ENOMEM;
	}
	return 0;
}

void table_free(struct table *t)
{
	free(t->v);
	free(t->heads);
	free(t->tw);
	idx_destroy(&t->listeners);
	idx_destroy(&t->tw_tuples);
	memset(t, 0, sizeof(*t));
}

static inline __u32 bucket(const struct table *t, __u64 cookie)
{
	return hash64(cookie) & t->mask;
}

struct sock_entry *table_find(struct table *t, __u64 cookie)
{
	__u32 i = t->heads[bucket(t, cookie)];

	while (i != TABLE_NIL) {
		if (t->v[i].cookie == cookie)
			return &t->v[i];
		i = t->v[i].next;
	}
	return NULL;
}

static int grow_heads(struct table *t)
{
	__u32 n = (t->mask + 1) * 2, *h;

	h = malloc(n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h, 0xff, n * sizeof(*h));
	for (__u32 i = 0; i < t->used; i++) {
		struct sock_entry *e = &t->v[i];
		__u32 b;

		if (!e->cookie)
			continue;
		b = hash64(e->cookie) & (n - 1);
		e->next = h[b];
		h[b] = i;
	}
	free(t->heads);
	t->heads = h;
	t->mask = n - 1;
	return 0;
}

struct sock_entry *table_get(struct table *t, __u64 cookie, bool *created)
{
	struct sock_entry *e = table_find(t, cookie);
	__u32 i, b;

	*created = false;
	if (e)
		return e;
	/* Grow the index first: it relinks every live slot, and the slot
	 * taken below holds garbage until it is initialised. */
	if (t->count + 1 > t->mask + 1 && grow_heads(t))
		return NULL;
	if (t->free_head != TABLE_NIL) {
		i = t->free_head;
		t->free_head = t->v[i].next;
	} else {
		if (t->used == t->cap) {
			__u32 ncap = t->cap ? t->cap * 2 : INIT_CAP;
			struct sock_entry *v;

			v = realloc(t->v, (size_t)ncap * sizeof(*v));
			if (!v)
				return NULL;
			t->v = v;
			t->cap = ncap;
		}
		i = t->used++;
	}
	e = &t->v[i];
	memset(e, 0, sizeof(*e));
	e->cookie = cookie;
	b = bucket(t, cookie);
	e->next = t->heads[b];
	t->heads[b] = i;
	t->count++;
	*created = true;
	return e;
}

static inline __u32 index_of(const struct table *t, const struct sock_entry *e)
{
	return (__u32)(e - t->v);
}

static inline __u64 listener_key(__u32 netns, __u16 family, __u16 port)
{
	return (__u64)netns << 32 | (__u64)family << 16 | port;
}

static __u64 tuple_key(__u32 netns, __u16 family, const __u8 *saddr,
		       const __u8 *daddr, __u16 sport, __u16 dport)
{
	__u64 h = (__u64)netns * 0x9e3779b97f4a7c15ULL ^ family;
	__u64 w[4];

	memcpy(w, saddr, 16);
	memcpy(w + 2, daddr, 16);
	for (int i = 0; i < 4; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL + (h >> 29);
	return h ^ ((__u64)sport << 16 | dport) * 0xc2b2ae3d27d4eb4fULL;
}

static inline __u64 entry_tuple_key(const struct sock_entry *e)
{
	return tuple_key(e->netns, e->family, e->saddr, e->daddr, e->sport,
			 e->dport);
}

static void unindex(struct table *t, struct sock_entry *e)
{
	if (e->flags & SOCK_LISTENER)
		idx_del(&t->listeners,
			listener_key(e->netns, e->family, e->sport),
			index_of(t, e));
	if (e->flags & SOCK_TW)
		idx_del(&t->tw_tuples, entry_tuple_key(e), index_of(t, e));
	e->flags &= ~(SOCK_LISTENER | SOCK_TW);
}

void table_remove(struct table *t, struct sock_entry *e)
{
	__u32 i = index_of(t, e), *pp = &t->heads[bucket(t, e->cookie)];

	unindex(t, e);
	while (*pp != TABLE_NIL && *pp != i)
		pp = &t->v[*pp].next;
	if (*pp == i)
		*pp = e->next;
	if (e->state < TCPW_STATE_MAX)
		t->by_state[e->state]--;
	e->cookie = 0;
	e->next = t->free_head;
	t->free_head = i;
	t->count--;
}

static void record(struct sock_entry *e, __u8 old, __u8 new, __u64 ts_ns)
{
	struct sock_trans *tr = &e->hist[e->nhist % TABLE_HIST];
	__u64 ms = ts_ns > e->birth_ns ? (ts_ns - e->birth_ns) / 1000000 : 0;

	tr->ms = ms > 0xffffffffu ? 0xffffffffu : (__u32)ms;
	tr->old = old;
	tr->new = new;
	/* Saturate below 256 while keeping the ring position. */
	e->nhist = e->nhist == 255 ? 256 - TABLE_HIST : e->nhist + 1;
}

void table_set_state(struct table *t, struct sock_entry *e, __u8 state,
		     __u64 ts_ns)
{
	if (e->state == state)
		return;
	if (e->state && e->state < TCPW_STATE_MAX)
		t->by_state[e->state]--;
	if (state < TCPW_STATE_MAX)
		t->by_state[state]++;
	if (e->state == TCPW_LISTEN && state != TCPW_LISTEN &&
	    (e->flags & SOCK_LISTENER)) {
		idx_del(&t->listeners,
			listener_key(e->netns, e->family, e->sport),
			index_of(t, e));
		e->flags &= ~SOCK_LISTENER;
	}
	e->state = state;
	e->state_ns = ts_ns;
	if (state == TCPW_LISTEN && !(e->flags & SOCK_LISTENER) &&
	    !idx_add(&t->listeners,
		     listener_key(e->netns, e->family, e->sport),
		     index_of(t, e)))
		e->flags |= SOCK_LISTENER;
}

struct sock_entry *table_listener(struct table *t, __u32 netns,
				  __u16 family, __u16 port)
{
	__u64 key = listener_key(netns, family, port);
	struct idx_map *m = &t->listeners;
	struct sock_entry *best = NULL;

	for (__u32 i = m->heads[hash64(key) & m->mask]; i != TABLE_NIL;
	     i = m->v[i].next) {
		struct sock_entry *e;

		if (m->v[i].key != key)
			continue;
		e = &t->v[m->v[i].idx];
		/* Prefer a listener whose owner is known. */
		if (!best || (!best->pid && e->pid))
			best = e;
	}
	return best;
}

static struct sock_entry *tw_lookup(struct table *t, __u32 netns,
				    __u16 family, const __u8 *saddr,
				    const __u8 *daddr, __u16 sport,
				    __u16 dport)
{
	struct idx_map *m = &t->tw_tuples;
	__u64 key;

	if (!m->count)
		return NULL;
	key = tuple_key(netns, family, saddr, daddr, sport, dport);
	for (__u32 i = m->heads[hash64(key) & m->mask]; i != TABLE_NIL;
	     i = m->v[i].next) {
		struct sock_entry *e = &t->v[m->v[i].idx];

		if (m->v[i].key == key && e->netns == netns &&
		    e->family == family && e->sport == sport &&
		    e->dport == dport && !memcmp(e->saddr, saddr, 16) &&
		    !memcmp(e->daddr, daddr, 16))
			return e;
	}
	return NULL;
}

static int tw_push(struct table *t, __u64 cookie, __u64 expire_ns)
{
	if (t->tw_len == t->tw_cap) {
		__u32 ncap = t->tw_cap ? t->tw_cap * 2 : 1024;
		struct tw_item *v = malloc(ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (__u32 i = 0; i < t->tw_len; i++)
			v[i] = t->tw[(t->tw_head + i) % t->tw_cap];
		free(t->tw);
		t->tw = v;
		t->tw_cap = ncap;
		t->tw_head = 0;
	}
	t->tw[(t->tw_head + t->tw_len) % t->tw_cap] =
		(struct tw_item){ .cookie = cookie, .expire_ns = expire_ns };
	t->tw_len++;
	return 0;
}

int table_make_tw(struct table *t, struct sock_entry *e, __u8 state,
		  __u64 now_ns, __u64 expire_ns)
{
	int err;

	table_set_state(t, e, state, now_ns);
	e->flags |= SOCK_INFERRED;
	e->expire_ns = expire_ns;
	err = tw_push(t, e->cookie, expire_ns);
	if (err)
		return err;
	if (!(e->flags & SOCK_TW)) {
		err = idx_add(&t->tw_tuples, entry_tuple_key(e),
			      index_of(t, e));
		if (err)
			return err;
		e->flags |= SOCK_TW;
	}
	return 0;
}

/*
 * The FIFO holds every TIME_WAIT in the order it was entered (all last
 * 60 s), so expiry only ever looks at its head. Items whose entry left
 * TIME_WAIT by other means, or was re-armed, are stale and skipped.
 */
int table_expire(struct table *t, __u64 now_ns, table_expire_cb cb,
		 void *ctx)
{
	int n = 0;

	while (t->tw_len) {
		struct tw_item *it = &t->tw[t->tw_head];
		struct sock_entry *e;

		e = table_find(t, it->cookie);
		if (e && (!(e->flags & SOCK_TW) ||
			  e->expire_ns != it->expire_ns))
			e = NULL;
		if (e && it->expire_ns > now_ns)
			break;
		t->tw_head = (t->tw_head + 1) % t->tw_cap;
		t->tw_len--;
		if (!e)
			continue;
		if (cb)
			cb(ctx, e, now_ns);
		table_remove(t, e);
		n++;
	}
	return n;
}

static void copy_tuple(struct sock_entry *e, const struct tcpw_event *ev)
{
	e->netns = ev->netns;
	e->family = ev->family;
	memcpy(e->saddr, ev->saddr, 16);
	memcpy(e->daddr, ev->daddr, 16);
	/* connect() enters SYN_SENT before it picks the source port. */
	if (ev->sport)
		e->sport = ev->sport;
	e->dport = ev->dport;
}

_Static_assert(sizeof(struct sock_snap) == 56, "sock_snap has padding");

void snap_of_event(struct sock_snap *s, const struct tcpw_event *ev)
{
	s->bytes_acked = ev->bytes_acked;
	s->bytes_received = ev->bytes_received;
	s->snd_wnd = ev->snd_wnd;
	s->rcv_wnd = ev->rcv_wnd;
	s->snd_cwnd = ev->snd_cwnd;
	s->srtt_us = ev->srtt_us;
	s->rcvbuf = ev->rcvbuf;
	s->rcv_queued = ev->rcv_queued;
	s->sndbuf = ev->sndbuf;
	s->wmem_queued = ev->wmem_queued;
	s->total_retrans = ev->total_retrans;
	s->data_segs_out = ev->data_segs_out;
}

/* A state of an open connection: past its handshake, not a listener. */
static bool open_state(__u8 s)
{
	return s == TCPW_ESTABLISHED || s == TCPW_FIN_WAIT1 ||
	       s == TCPW_FIN_WAIT2 || s == TCPW_CLOSE_WAIT ||
	       s == TCPW_LAST_ACK || s == TCPW_CLOSING;
}

/* The conn record's smallest windows and largest srtt. */
static void conn_extremes(struct sock_entry *e, const struct sock_snap *s)
{
	if (!(e->flags & SOCK_CONN_SNAP)) {
		e->min_snd_wnd = s->snd_wnd;
		e->min_rcv_wnd = s->rcv_wnd;
		e->max_srtt_us = s->srtt_us;
		e->flags |= SOCK_CONN_SNAP;
		return;
	}
	if (s->snd_wnd < e->min_snd_wnd)
		e->min_snd_wnd = s->snd_wnd;
	if (s->rcv_wnd < e->min_rcv_wnd)
		e->min_rcv_wnd = s->rcv_wnd;
	if (s->srtt_us > e->max_srtt_us)
		e->max_srtt_us = s->srtt_us;
}

/* A changed snapshot is no longer the one last written (SOCK_SNAP_OUT). */
static void copy_snap(struct sock_entry *e, const struct tcpw_event *ev)
{
	struct sock_snap s;
	/* a STATE event's snapshot is read in its new state */
	__u8 st = ev->kind == TCPW_EV_STATE ? ev->newstate : e->state;

	snap_of_event(&s, ev);
	if (open_state(st) || (st == TCPW_CLOSE && open_state(e->state)))
		conn_extremes(e, &s);
	if (e->has_snap && !memcmp(&e->snap, &s, sizeof(s)))
		return;
	e->snap = s;
	e->has_snap = 1;
	e->flags &= ~SOCK_SNAP_OUT;
}

static void inherit_listener(struct table *t, struct sock_entry *e)
{
	struct sock_entry *l = table_listener(t, e->netns, e->family,
					      e->sport);

	if (l && l->pid) {
		e->pid = l->pid;
		memcpy(e->comm, l->comm, sizeof(e->comm));
		e->owner_src = OWNER_LISTENER;
	}
	/* The kernel copies it too (sk_clone_lock); the event's wins. */
	if (l && !e->cgroup)
		e->cgroup = l->cgroup;
}

/* A new connection on a 4-tuple ends the TIME_WAIT that held it. */
static void end_reused_tw(struct table *t, struct sock_entry *e,
			  struct apply_result *res, struct sock_entry *copy)
{
	struct sock_entry *tw;

	if (!e->sport)
		return;
	tw = tw_lookup(t, e->netns, e->family, e->saddr, e->daddr, e->sport,
		       e->dport);
	if (!tw || tw == e)
		return;
	*copy = *tw;
	table_remove(t, tw);
	res->tw_ended = true;
	res->tw_entry = copy;
}

/* A local peer's FIN moves our orphan FIN_WAIT2 on to TIME_WAIT. */
static int promote_peer(struct table *t, const struct sock_entry *e,
			__u64 ts_ns, struct apply_result *res)
{
	struct sock_entry *peer;

	peer = tw_lookup(t, e->netns, e->family, e->daddr, e->saddr,
			 e->dport, e->sport);
	if (!peer || peer->state != TCPW_FIN_WAIT2)
		return 0;
	record(peer, TCPW_FIN_WAIT2, TCPW_TIME_WAIT, ts_ns);
	res->tw_promoted = true;
	res->tw_entry = peer;
	return table_make_tw(t, peer, TCPW_TIME_WAIT, ts_ns,
			     ts_ns + TCP_TIMEWAIT_NS);
}

static int apply_state(struct table *t, const struct tcpw_event *ev,
		       struct sock_entry *e, struct apply_result *res,
		       struct sock_entry *gone, struct sock_entry *tw_copy)
{
	__u8 old = ev->oldstate, new = ev->newstate;
	bool created = false;

	/*
	 * Older kernels (6.1) announce a child's LISTEN -> SYN_RECV in
	 * inet_csk_clone_lock() before giving it its 4-tuple and the
	 * request socket's cookie: the event names the listener. Leave
	 * the listener alone; the child's next event creates the child.
	 */
	if (e && old == TCPW_LISTEN && new == TCPW_SYN_RECV &&
	    e->state == TCPW_LISTEN) {
		res->suppressed = true;
		return 0;
	}
	if (!e) {
		/* A socket closing that we never knew: nothing to keep. */
		if (new == TCPW_CLOSE) {
			res->old = old;
			res->new = new;
			return 0;
		}
		e = table_get(t, ev->cookie, &created);
		if (!e)
			return -ENOMEM;
		e->birth_ns = ev->ts_ns;
		copy_tuple(e, ev);
		table_set_state(t, e, old, ev->ts_ns);
		if (old == TCPW_SYN_RECV) {
			/* the child announced on its listener (above) */
			record(e, TCPW_LISTEN, TCPW_SYN_RECV, ev->ts_ns);
			res->child_born = true;
		}
		if (old == TCPW_SYN_RECV ||
		    (old == TCPW_LISTEN && new == TCPW_SYN_RECV))
			inherit_listener(t, e);
	} else {
		copy_tuple(e, ev);
	}
	res->created = created;
	res->old_ns = ev->ts_ns > e->state_ns ? ev->ts_ns - e->state_ns : 0;
	e->last_ns = ev->ts_ns;
	if (ev->flags & TCPW_F_SNAPSHOT)
		copy_snap(e, ev);
	if (ev->flags & TCPW_F_OWNER) {
		e->pid = ev->pid;
		memcpy(e->comm, ev->comm, sizeof(e->comm));
		e->owner_src = OWNER_EVENT;
	}
	if (ev->cgroup)
		e->cgroup = ev->cgroup;
	res->old = old;
	res->new = new;
	res->e = e;
	/*
	 * The handshake as this end saw it: what connect() waited; for a
	 * passive child, the kernel's RTT sample of its SYN-ACK.
	 */
	if (new == TCPW_ESTABLISHED && old == TCPW_SYN_SENT && !created &&
	    !(e->flags & SOCK_SEEDED))
		e->handshake_us = res->old_ns / 1000 ? res->old_ns / 1000 : 1;
	else if (new == TCPW_ESTABLISHED && old == TCPW_SYN_RECV &&
		 (ev->flags & TCPW_F_SNAPSHOT))
		e->handshake_us = ev->srtt_us ? ev->srtt_us : 1;

	if (new == TCPW_CLOSE && !(e->flags & SOCK_RST) &&
	    (old == TCPW_CLOSING ||
	     (old == TCPW_FIN_WAIT2 && (ev->flags & TCPW_F_FIN_RCVD)))) {
		/*
		 * tcp_time_wait() replaced the socket with a timewait
		 * socket and called tcp_done(): TIME_WAIT, for exactly
		 * TCP_TIMEWAIT_LEN.
		 */
		record(e, old, TCPW_TIME_WAIT, ev->ts_ns);
		res->new = TCPW_TIME_WAIT;
		res->inferred = res->timewait = true;
		return table_make_tw(t, e, TCPW_TIME_WAIT, ev->ts_ns,
				     ev->ts_ns + TCP_TIMEWAIT_NS);
	}
	if (new == TCPW_CLOSE && !(e->flags & SOCK_RST) &&
	    old == TCPW_FIN_WAIT2) {
		/*
		 * An orphan (closed by its owner) got the ACK of its FIN
		 * but not the peer's FIN: the kernel keeps it as a
		 * timewait socket in FIN_WAIT2 until that FIN comes.
		 */
		res->new = TCPW_FIN_WAIT2;
		res->inferred = res->timewait = true;
		return table_make_tw(t, e, TCPW_FIN_WAIT2, ev->ts_ns,
				     ev->ts_ns + TCP_TIMEWAIT_NS);
	}
	record(e, old, new, ev->ts_ns);
	if (new == TCPW_SYN_SENT)
		e->flags |= SOCK_ACTIVE;
	/*
	 * The local peer's FIN reached us: its CLOSE_WAIT -> LAST_ACK
	 * (FIN sent) or LAST_ACK -> CLOSE (our ACK of it arrived; covers
	 * a FIN that crossed our own timewait conversion).
	 */
	if (t->tw_tuples.count &&
	    ((old == TCPW_CLOSE_WAIT && new == TCPW_LAST_ACK) ||
	     (old == TCPW_LAST_ACK && new == TCPW_CLOSE))) {
		int err = promote_peer(t, e, ev->ts_ns, res);

		if (err)
			return err;
	}
	if (new == TCPW_CLOSE) {
		*gone = *e;
		table_remove(t, e);
		res->e = gone;
		res->removed = true;
		return 0;
	}
	table_set_state(t, e, new, ev->ts_ns);

	if ((new == TCPW_ESTABLISHED || new == TCPW_SYN_RECV) &&
	    t->tw_tuples.count)
		end_reused_tw(t, e, res, tw_copy);
	return 0;
}

int table_apply(struct table *t, const struct tcpw_event *ev,
		struct apply_result *res, struct sock_entry *gone,
		struct sock_entry *tw_copy)
{
	struct sock_entry *e;
	bool created;
	__u8 cur = ev->newstate;

	memset(res, 0, sizeof(*res));
	res->old = ev->oldstate;
	res->new = ev->newstate;
	/* Resets for closed ports have no socket to track. */
	if (!ev->cookie || (ev->flags & TCPW_F_NOSOCK))
		return 0;
	e = table_find(t, ev->cookie);
	if (ev->kind == TCPW_EV_STATE)
		return apply_state(t, ev, e, res, gone, tw_copy);

	if (!e) {
		/*
		 * A socket the table missed (lost events, or a request
		 * socket, which has no state-change event).
		 */
		if (cur == TCPW_CLOSE || cur == 0 || cur >= TCPW_STATE_MAX)
			return 0;
		if (cur == TCPW_NEW_SYN_RECV)
			cur = TCPW_SYN_RECV;
		e = table_get(t, ev->cookie, &created);
		if (!e)
			return -ENOMEM;
		e->birth_ns = ev->ts_ns;
		copy_tuple(e, ev);
		table_set_state(t, e, cur, ev->ts_ns);
		if (cur == TCPW_SYN_RECV)
			inherit_listener(t, e);
		res->created = true;
	} else if (!(e->flags & SOCK_TW)) {
		copy_tuple(e, ev);
	}
	e->last_ns = ev->ts_ns;
	if (ev->flags & TCPW_F_SNAPSHOT)
		copy_snap(e, ev);
	if (ev->cgroup)
		e->cgroup = ev->cgroup;
	res->e = e;
	res->old = res->new = e->state;
	switch (ev->kind) {
	case TCPW_EV_RETRANS:
	case TCPW_EV_SYNACK_RETRANS:
		e->retrans++;
		break;
	case TCPW_EV_RST_SENT:
		if (e->rst_sent < 0xffff)
			e->rst_sent++;
		e->flags |= SOCK_RST;
		/* A timewait socket answering with a reset is killed. */
		if (e->flags & SOCK_TW) {
			*gone = *e;
			table_remove(t, e);
			res->e = gone;
			res->removed = true;
		}
		break;
	case TCPW_EV_RST_RECV:
		if (e->rst_recv < 0xffff)
			e->rst_recv++;
		e->flags |= SOCK_RST;
		break;
	default:
		break;
	}
	return 0;
}

void table_note_drop(struct table *t, const struct tcpw_event *ev)
{
	struct sock_entry *e = ev->cookie ? table_find(t, ev->cookie) : NULL;
	__u32 n;

	if (!e)
		return;
	/* a record can stand for several drops (rate-limited) */
	n = e->drops + (ev->count ? ev->count : 1);
	e->drops = n > 0xffff ? 0xffff : n;
}
