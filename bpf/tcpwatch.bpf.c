// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwatch BPF programs: TCP tracepoints -> struct tcpw_event records in
 * a ring buffer (include/uapi/tcpwatch.h).
 *
 * All programs are tp_btf (BTF-typed raw tracepoints): arguments are read
 * with direct, CO-RE-relocated loads, no bpf_probe_read, and only the
 * first two arguments of any tracepoint are used, so the extra trailing
 * arguments newer kernels added (tcp_retransmit_skb's err, tcp_send_reset's
 * reason) make no difference.
 *
 * Cost rules: filters first; one ring reservation per event; no wakeup
 * unless the ring holds wakeup_bytes (the daemon drains on a timer tick
 * otherwise); no atomic operation on the way of a record that is not
 * lost (the daemon counts what it receives; drops are counted here).
 */
#include "kernel_types.h"
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "uapi/tcpwatch.h"
#include "core_fixes.bpf.h"

_Static_assert(sizeof(struct tcpw_event) == TCPW_EVENT_SIZE,
	       "struct tcpw_event changed size");

#define SOCK_DONE	1	/* enum sock_flags, include/net/sock.h */
/* A program on one of TCPW_TRACEPOINTS (uapi): another name does not build. */
#define TP_ENUM(name) TCPW_TP_##name,
enum { TCPW_TRACEPOINTS(TP_ENUM) };
#undef TP_ENUM
#define TCPW_TP(name)							\
	_Static_assert(TCPW_TP_##name >= 0, #name " in TCPW_TRACEPOINTS"); \
	SEC("tp_btf/" #name)
#define TCPW_CPU_SLOTS	128	/* power of two; CPUs beyond share slots */

/* Set by userspace before load. */
const volatile __u64 sample_interval_ns = 0;	/* tcp_probe; 0 = off */
const volatile __u64 wakeup_bytes = 0;	/* wake the reader at this backlog */
const volatile __u32 wakeup_check_mask = 0;	/* check every mask + 1 */
const volatile __u32 filter_netns = 0;	/* 0 = every netns */
const volatile __u32 nr_filter_ports = 0;	/* 0 = every port */
const volatile __u16 filter_ports[TCPW_MAX_PORTS] = {};

/*
 * Records submitted by CPU slot, one cache line each: the backlog is
 * only looked at every wakeup_check_mask + 1 records per CPU. Not
 * atomic: a softirq run interrupting a process-context run can lose an
 * increment, which only moves the next check by one record.
 */
__u64 submitted[TCPW_CPU_SLOTS][8] __attribute__((aligned(64)));
/* Events lost to a full ring, by kind: the only exact count needed. */
__u64 drops[TCPW_EV_MAX];

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* max_entries set by userspace */
} events SEC(".maps");

/* Per-socket time of the last tcp_probe sample. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sample_at SEC(".maps");

/* What the filters look at, read once and reused for the record. */
struct tcpw_key {
	__u32 netns;
	__u16 sport;		/* local, host order */
	__u16 dport;		/* remote, host order */
};

static __always_inline bool wanted(const struct tcpw_key *k)
{
	int i;

	if (filter_netns && k->netns != filter_netns)
		return false;
	if (!nr_filter_ports)
		return true;
#pragma unroll
	for (i = 0; i < TCPW_MAX_PORTS; i++) {
		if (i >= nr_filter_ports)
			break;
		if (filter_ports[i] == k->sport || filter_ports[i] == k->dport)
			return true;
	}
	return false;
}

/*
 * tp is the socket as a full TCP socket, or NULL (request, timewait). For
 * a full socket the local port comes from inet_sport: tcp_set_state()
 * unhashes a socket going to CLOSE, zeroing skc_num, before the
 * tracepoint fires. (Going to SYN_SENT, connect() has not picked the port
 * yet: both are still 0 unless the socket was bound.)
 */
static __always_inline void skc_key(const struct sock_common *skc,
				    const struct tcp_sock *tp,
				    struct tcpw_key *k)
{
	k->netns = skc->skc_net.net->ns.inum;
	if (tp)
		k->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	else
		k->sport = skc->skc_num;
	k->dport = bpf_ntohs(skc->skc_dport);
}

static __always_inline struct tcpw_event *reserve(__u8 kind)
{
	struct tcpw_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&drops[kind], 1);
	return e;
}

static __always_inline void submit(struct tcpw_event *e)
{
	__u32 cpu = bpf_get_smp_processor_id() & (TCPW_CPU_SLOTS - 1);
	__u64 flags = BPF_RB_NO_WAKEUP;

	/* The backlog includes this record: it is already reserved. */
	if (!(submitted[cpu][0]++ & wakeup_check_mask) &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/*
 * The record is written in 8-byte words (half the stores of one per
 * field). W*() pack fields in memory order, lowest address first.
 */
typedef __u64 __attribute__((may_alias)) tcpw_word;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define W32(a, b)	((__u64)(__u32)(a) | (__u64)(__u32)(b) << 32)
#define W16(a, b)	((__u32)(__u16)(a) | (__u32)(__u16)(b) << 16)
#define W8(a, b, c, d)	((__u32)(__u8)(a) | (__u32)(__u8)(b) << 8 | \
			 (__u32)(__u8)(c) << 16 | (__u32)(__u8)(d) << 24)
#else
#define W32(a, b)	((__u64)(__u32)(a) << 32 | (__u64)(__u32)(b))
#define W16(a, b)	((__u32)(__u16)(a) << 16 | (__u32)(__u16)(b))
#define W8(a, b, c, d)	((__u32)(__u8)(a) << 24 | (__u32)(__u8)(b) << 16 | \
			 (__u32)(__u8)(c) << 8 | (__u32)(__u8)(d))
#endif

/* The pairs the words are made of: each first field 8-byte aligned. */
#define TCPW_PAIR(a, b, off)						\
	_Static_assert(__builtin_offsetof(struct tcpw_event, a) == (off) && \
		       __builtin_offsetof(struct tcpw_event, b) == (off) + 4, \
		       #a " and " #b " do not make one word")
TCPW_PAIR(netns, pid, 32);
TCPW_PAIR(snd_wnd, rcv_wnd, 40);
TCPW_PAIR(snd_cwnd, srtt_us, 48);
TCPW_PAIR(rcvbuf, rcv_queued, 56);
TCPW_PAIR(sndbuf, wmem_queued, 64);
TCPW_PAIR(total_retrans, data_segs_out, 72);
TCPW_PAIR(_reserved, version, 80);
TCPW_PAIR(sport, kind, 88);
_Static_assert(__builtin_offsetof(struct tcpw_event, family) == 86 &&
	       __builtin_offsetof(struct tcpw_event, dport) == 90 &&
	       __builtin_offsetof(struct tcpw_event, flags) == 95 &&
	       __builtin_offsetof(struct tcpw_event, saddr) == 96 &&
	       __builtin_offsetof(struct tcpw_event, comm) == 128,
	       "record layout differs from the words written");

/* field: 8-byte aligned in the record */
static __always_inline void put(void *field, __u64 v)
{
	*(tcpw_word *)field = v;
}

/* Everything from netns to flags but pid and the snapshot. */
static __always_inline void put_head(struct tcpw_event *e, __u16 family,
				     __u8 kind, const struct tcpw_key *k,
				     __u8 oldstate, __u8 newstate, __u8 flags)
{
	put(&e->netns, W32(k->netns, 0));
	put(&e->_reserved, W32(0, W16(TCPW_ABI_VERSION, family)));
	put(&e->sport, W32(W16(k->sport, k->dport),
			   W8(kind, oldstate, newstate, flags)));
}

static __always_inline void no_snapshot(struct tcpw_event *e)
{
	put(&e->bytes_acked, 0);
	put(&e->bytes_received, 0);
	put(&e->snd_wnd, 0);
	put(&e->snd_cwnd, 0);
	put(&e->rcvbuf, 0);
	put(&e->sndbuf, 0);
	put(&e->total_retrans, 0);
}

/* Addresses in network order: an IPv4 one fills the first 4 bytes. */
static __always_inline void put_addr(__u8 *dst, __be32 a0, __be32 a1,
				     __be32 a2, __be32 a3)
{
	put(dst, W32(a0, a1));
	put(dst + 8, W32(a2, a3));
}

/* Writes the addresses; returns the family. */
static __always_inline __u16 skc_addrs(struct tcpw_event *e,
				       const struct sock_common *skc)
{
	__u16 family = skc->skc_family;

	/* skc_v6_* exist only with CONFIG_IPV6; then so does AF_INET6. */
	if (bpf_core_field_exists(skc->skc_v6_daddr) && family == AF_INET6) {
		put_addr(e->saddr, skc->skc_v6_rcv_saddr.in6_u.u6_addr32[0],
			 skc->skc_v6_rcv_saddr.in6_u.u6_addr32[1],
			 skc->skc_v6_rcv_saddr.in6_u.u6_addr32[2],
			 skc->skc_v6_rcv_saddr.in6_u.u6_addr32[3]);
		put_addr(e->daddr, skc->skc_v6_daddr.in6_u.u6_addr32[0],
			 skc->skc_v6_daddr.in6_u.u6_addr32[1],
			 skc->skc_v6_daddr.in6_u.u6_addr32[2],
			 skc->skc_v6_daddr.in6_u.u6_addr32[3]);
	} else {
		put_addr(e->saddr, skc->skc_rcv_saddr, 0, 0, 0);
		put_addr(e->daddr, skc->skc_daddr, 0, 0, 0);
	}
	return family;
}

/* Window and buffer state of a full TCP socket; returns flags to add. */
static __always_inline __u8 snapshot(struct tcpw_event *e,
				     const struct tcp_sock *tp)
{
	const struct sock *sk = &tp->inet_conn.icsk_inet.sk;

	put(&e->bytes_acked, tp->bytes_acked);
	put(&e->bytes_received, tp->bytes_received);
	put(&e->snd_wnd, W32(tp->snd_wnd, tp->rcv_wnd));
	put(&e->snd_cwnd, W32(tp->snd_cwnd, tp->srtt_us >> 3));
	put(&e->rcvbuf, W32(sk->sk_rcvbuf, tp->rcv_nxt - tp->copied_seq));
	put(&e->sndbuf, W32(sk->sk_sndbuf, sk->sk_wmem_queued));
	put(&e->total_retrans, W32(tp->total_retrans, tp->data_segs_out));
	/*
	 * The peer's FIN arrived: tcp_fin() sets SOCK_DONE. It tells a
	 * real TIME_WAIT from an orphan's FIN_WAIT2 timewait socket
	 * (sk_shutdown can't: close() sets it whole on every orphan).
	 */
	if (sock_flags(sk) & (1UL << SOCK_DONE))
		return TCPW_F_SNAPSHOT | TCPW_F_FIN_RCVD;
	return TCPW_F_SNAPSHOT;
}

/*
 * One record about a socket: full (tp set, so with a snapshot), request
 * or timewait (tp NULL). ts 0 means now.
 */
static __always_inline int emit_skc(const struct sock_common *skc,
				    const struct tcp_sock *tp,
				    const struct tcpw_key *k, __u64 ts,
				    __u8 kind, __u8 oldstate, __u8 newstate,
				    bool owner)
{
	__u8 flags = owner ? TCPW_F_OWNER : 0;
	struct tcpw_event *e;
	__u64 cookie;
	__u16 family;

	e = reserve(kind);
	if (!e)
		return 0;
	/*
	 * The ring wraps every ~55k records, so the record's cache lines
	 * are cold: store to all of them first, then call the helpers,
	 * which run while the misses are served instead of before the
	 * commit waits for them.
	 */
	if (tp)
		flags |= snapshot(e, tp);
	else
		no_snapshot(e);
	family = skc_addrs(e, skc);
	put_head(e, family, kind, k, oldstate, newstate, flags);
	put(&e->comm[0], 0);
	put(&e->comm[8], 0);
	/* Made on first use: only a socket's first record pays the helper. */
	cookie = skc->skc_cookie.counter;
	if (!cookie)
		cookie = bpf_get_socket_cookie((void *)skc);
	e->cookie = cookie;
	e->ts_ns = ts ? ts : bpf_ktime_get_ns();
	if (owner) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	submit(e);
	return 0;
}

/*
 * A record about sk in its current state. bpf_skc_to_tcp_sock() gives
 * NULL for request and timewait socks (and anything not TCP).
 */
static __always_inline int emit_sock(const struct sock *sk, __u8 kind)
{
	const struct sock_common *skc = &sk->__sk_common;
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	struct tcpw_key k;
	__u8 state;

	skc_key(skc, tp, &k);
	if (!wanted(&k))
		return 0;
	state = skc->skc_state;
	return emit_skc(skc, tp, &k, 0, kind, state, state, false);
}

/*
 * The owner (pid, comm) is only recorded on transitions that always run
 * in the owning process's own syscall:
 *   CLOSE -> SYN_SENT		connect()
 *   CLOSE -> LISTEN		listen()
 *   ESTABLISHED -> FIN_WAIT1	close() / shutdown()
 *   CLOSE_WAIT -> LAST_ACK	close() / shutdown()
 *   LISTEN -> CLOSE		close() of a listener
 * Every other transition (handshake completion, FIN or RST received,
 * timers) runs in softirq or timer context, where the task on the CPU is
 * an unrelated victim; the daemon carries the owner per socket instead.
 */
static __always_inline bool owner_context(int oldstate, int newstate)
{
	switch (oldstate) {
	case TCPW_CLOSE:
		return newstate == TCPW_SYN_SENT || newstate == TCPW_LISTEN;
	case TCPW_ESTABLISHED:
		return newstate == TCPW_FIN_WAIT1;
	case TCPW_CLOSE_WAIT:
		return newstate == TCPW_LAST_ACK;
	case TCPW_LISTEN:
		return newstate == TCPW_CLOSE;
	}
	return false;
}

TCPW_TP(inet_sock_set_state)
int BPF_PROG(tcpw_state, const struct sock *sk, int oldstate, int newstate)
{
	const struct sock_common *skc = &sk->__sk_common;
	const struct tcp_sock *tp;
	struct tcpw_key k;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	tp = bpf_skc_to_tcp_sock((void *)sk);
	skc_key(skc, tp, &k);
	if (!wanted(&k))
		return 0;
	return emit_skc(skc, tp, &k, 0, TCPW_EV_STATE, oldstate, newstate,
			owner_context(oldstate, newstate));
}

/* Also fires for SYN retransmits in SYN_SENT. */
TCPW_TP(tcp_retransmit_skb)
int BPF_PROG(tcpw_retrans, const struct sock *sk, const struct sk_buff *skb)
{
	return emit_sock(sk, TCPW_EV_RETRANS);
}

/* sk is the listener; the record is about the request sock. */
TCPW_TP(tcp_retransmit_synack)
int BPF_PROG(tcpw_synack, const struct sock *sk,
	     const struct request_sock *req)
{
	const struct sock_common *skc = &req->__req_common;
	struct tcpw_key k;

	skc_key(skc, NULL, &k);
	if (!wanted(&k))
		return 0;
	return emit_skc(skc, NULL, &k, 0, TCPW_EV_SYNACK_RETRANS,
			TCPW_SYN_RECV, TCPW_SYN_RECV, false);
}

TCPW_TP(tcp_receive_reset)
int BPF_PROG(tcpw_rst_recv, const struct sock *sk)
{
	return emit_sock(sk, TCPW_EV_RST_RECV);
}

/* Wire offsets (RFC 791, RFC 8200, RFC 9293). */
#define IP4_SADDR_OFF	12
#define IP4_DADDR_OFF	16
#define IP6_SADDR_OFF	8
#define IP6_DADDR_OFF	24

/*
 * A reset with no socket (a segment for a closed port): the tuple comes
 * from the segment that caused it, so our address is its destination.
 */
static __always_inline int rst_nosock(const struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	unsigned char *nh = head + skb->network_header;
	unsigned char *th = head + skb->transport_header;
	struct tcpw_event *e;
	__be32 saddr[4] = {}, daddr[4] = {};
	__be16 ports[2];	/* source, dest */
	struct tcpw_key k;
	__u8 ver;

	if (bpf_probe_read_kernel(&ver, 1, nh) ||
	    bpf_probe_read_kernel(ports, sizeof(ports), th))
		return 0;
	k.netns = skb->dev->nd_net.net->ns.inum;	/* 0 if unreadable */
	k.sport = bpf_ntohs(ports[1]);
	k.dport = bpf_ntohs(ports[0]);
	if (!wanted(&k))
		return 0;

	ver >>= 4;
	if (ver == 4) {
		if (bpf_probe_read_kernel(daddr, 4, nh + IP4_SADDR_OFF) ||
		    bpf_probe_read_kernel(saddr, 4, nh + IP4_DADDR_OFF))
			return 0;
	} else if (ver == 6) {
		if (bpf_probe_read_kernel(daddr, 16, nh + IP6_SADDR_OFF) ||
		    bpf_probe_read_kernel(saddr, 16, nh + IP6_DADDR_OFF))
			return 0;
	} else {
		return 0;
	}

	e = reserve(TCPW_EV_RST_SENT);
	if (!e)
		return 0;
	no_snapshot(e);
	put_addr(e->saddr, saddr[0], saddr[1], saddr[2], saddr[3]);
	put_addr(e->daddr, daddr[0], daddr[1], daddr[2], daddr[3]);
	put_head(e, ver == 4 ? AF_INET : AF_INET6, TCPW_EV_RST_SENT, &k,
		 TCPW_CLOSE, TCPW_CLOSE, TCPW_F_NOSOCK);
	put(&e->comm[0], 0);
	put(&e->comm[8], 0);
	e->cookie = 0;
	e->ts_ns = bpf_ktime_get_ns();
	submit(e);
	return 0;
}

/*
 * sk may be NULL (no socket: since 6.10 only; 6.1 traces full sockets
 * only), a timewait sock, a listener, or a full socket. skb is the segment
 * that caused the reset, NULL for an active reset (SO_LINGER 0, abort).
 */
TCPW_TP(tcp_send_reset)
int BPF_PROG(tcpw_rst_sent, const struct sock *sk, const struct sk_buff *skb)
{
	if (sk)
		return emit_sock(sk, TCPW_EV_RST_SENT);
	if (skb)
		return rst_nosock(skb);
	return 0;
}

/*
 * Rate-limited per socket: at most one sample per sample_interval_ns. The
 * first probe on a socket allocates its storage (about 1 us, once).
 */
TCPW_TP(tcp_probe)
int BPF_PROG(tcpw_probe, struct sock *sk, const struct sk_buff *skb)
{
	const struct sock_common *skc = &sk->__sk_common;
	const struct tcp_sock *tp;
	struct tcpw_key k;
	__u64 *last, now;
	__u8 state;

	if (!sample_interval_ns)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	skc_key(skc, tp, &k);
	if (!wanted(&k))
		return 0;
	last = bpf_sk_storage_get(&sample_at, sk, 0,
				  BPF_SK_STORAGE_GET_F_CREATE);
	if (!last)
		return 0;
	now = bpf_ktime_get_ns();
	/*
	 * The first sample comes one interval after the socket's first
	 * probe: a short-lived connection has its state events' snapshots
	 * and needs no samples.
	 */
	if (!*last) {
		*last = now;
		return 0;
	}
	if (now - *last < sample_interval_ns)
		return 0;
	*last = now;
	state = skc->skc_state;
	return emit_skc(skc, tp, &k, now, TCPW_EV_SAMPLE, state, state,
			false);
}

char LICENSE[] SEC("license") = "GPL";
