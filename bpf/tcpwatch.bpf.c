// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwatch BPF programs: TCP tracepoints -> struct tcpw_event records in
 * a ring buffer (include/uapi/tcpwatch.h), and an iter/tcp program for the
 * periodic window/buffer samples (tcpw_sample, at the end).
 *
 * The event programs are tp_btf (BTF-typed raw tracepoints): arguments are read
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
const volatile __u64 wakeup_bytes = 0;	/* wake the reader at this backlog */
const volatile __u32 wakeup_check_mask = 0;	/* check every mask + 1 */
const volatile __u64 drop_ring_bytes = ~0ULL;	/* DROP records' share */
const volatile __u32 filter_netns = 0;	/* 0 = every netns */
const volatile __u32 nr_filter_ports = 0;	/* 0 = every port */
const volatile __u16 filter_ports[TCPW_MAX_PORTS] = {};
const volatile __u64 filter_cgroup = 0;	/* 0 = every cgroup; else this */
const volatile __u32 filter_cgroup_level = 0;	/* id, at this depth, and below */

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

/* What the filters look at, read once and reused for the record. */
struct tcpw_key {
	__u32 netns;
	__u16 sport;		/* local, host order */
	__u16 dport;		/* remote, host order */
	__u64 cgroup;		/* the socket's cgroup id; 0: none */
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
	k->cgroup = 0;
}

/*
 * The cgroup filter, after the netns and port ones: the probe reads it
 * takes (about four) are paid only with --cgroup.
 */
static __always_inline bool cgroup_wanted(__u64 cgroup_addr)
{
	return cgroup_addr_under(cgroup_addr, filter_cgroup,
				 filter_cgroup_level);
}

/*
 * The same for a full socket, with direct loads where the layout allows
 * (5.15+ sk_cgrp_data, 6.1+ ancestors[]) up to the ancestor's slot: the
 * verifier refuses direct loads past the end of struct cgroup, where
 * ancestors[] (a flexible array) lives, so that slot and the ancestor's
 * id are probe reads (three, not five).
 */
static __always_inline bool full_cgroup_wanted(const struct sock *sk)
{
	const struct cgroup *cg;
	__u64 anc = 0;

	if (!bpf_core_field_exists(struct sock, sk_cgrp_data) ||
	    !bpf_core_field_exists(struct sock_cgroup_data, cgroup) ||
	    !bpf_core_field_exists(struct cgroup, ancestors))
		return cgroup_wanted(sock_cgroup_addr(sk));
	cg = sk->sk_cgrp_data.cgroup;
	if (!cg || (__u32)cg->level < filter_cgroup_level)
		return false;
	bpf_probe_read_kernel(&anc, sizeof(anc),
			      (void *)cg + bpf_core_field_offset(struct cgroup,
								 ancestors) +
			      filter_cgroup_level * 8ULL);
	return cgroup_addr_id(anc) == filter_cgroup;
}

/* k->cgroup of a full socket; false when the cgroup filter drops it. */
static __always_inline bool full_cgroup(const struct sock *sk,
					struct tcpw_key *k)
{
	if (filter_cgroup && !full_cgroup_wanted(sk))
		return false;
	k->cgroup = sock_cgroup_id(sk);
	return true;
}

/*
 * k->cgroup of a socket that may not be full: a request sock has its
 * listener's cgroup (the child will copy it), a timewait sock none (the
 * daemon keeps the one its earlier records had). With --cgroup, a
 * timewait sock passes: the daemon keeps it only if it tracks it.
 */
static __always_inline bool any_cgroup(const struct sock *sk,
				       const struct tcp_sock *tp,
				       struct tcpw_key *k)
{
	const struct sock *l;
	__u64 addr;

	if (tp)
		return full_cgroup(sk, k);
	if (sk->__sk_common.skc_state != TCPW_NEW_SYN_RECV)
		return true;
	/* a union with skc_flags: the verifier would type it a scalar */
	l = BPF_CORE_READ(sk, __sk_common.skc_listener);
	addr = sock_cgroup_addr(l);
	if (filter_cgroup && !cgroup_wanted(addr))
		return false;
	k->cgroup = cgroup_addr_id(addr);
	return true;
}

/*
 * The namespaces a full ring lost table events of (the module's
 * TCPW_IOC_LOST_NETNS): the daemon takes them out and heals only these.
 * A netns that finds the map full is counted instead: then every netns
 * is suspect.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPW_LOST_NETNS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} lost_netns SEC(".maps");
__u64 lost_netns_overflow;

static __always_inline struct tcpw_event *reserve(__u8 kind, __u32 netns)
{
	struct tcpw_event *e;
	__u8 one = 1;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops[kind], 1);
		/* a lost sample is tried again next pass */
		if (kind != TCPW_EV_SAMPLE &&
		    bpf_map_update_elem(&lost_netns, &netns, &one, BPF_ANY))
			__sync_fetch_and_add(&lost_netns_overflow, 1);
	}
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
TCPW_PAIR(netns, pid, 40);
TCPW_PAIR(snd_wnd, rcv_wnd, 48);
TCPW_PAIR(snd_cwnd, srtt_us, 56);
TCPW_PAIR(rcvbuf, rcv_queued, 64);
TCPW_PAIR(sndbuf, wmem_queued, 72);
TCPW_PAIR(total_retrans, data_segs_out, 80);
TCPW_PAIR(reason, count, 88);
TCPW_PAIR(_reserved, version, 96);
TCPW_PAIR(sport, kind, 104);
_Static_assert(__builtin_offsetof(struct tcpw_event, cgroup) == 16 &&
	       __builtin_offsetof(struct tcpw_event, family) == 102 &&
	       __builtin_offsetof(struct tcpw_event, dport) == 106 &&
	       __builtin_offsetof(struct tcpw_event, flags) == 111 &&
	       __builtin_offsetof(struct tcpw_event, saddr) == 112 &&
	       __builtin_offsetof(struct tcpw_event, comm) == 144,
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
	put(&e->cgroup, k->cgroup);
	put(&e->reason, 0);
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

	e = reserve(kind, k->netns);
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
	if (!wanted(&k) || !any_cgroup(sk, tp, &k))
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
	if (!wanted(&k) || !full_cgroup(sk, &k))
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
	if (!wanted(&k) || !full_cgroup(sk, &k))	/* the listener's */
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
	k.cgroup = 0;
	if (!wanted(&k) || filter_cgroup)	/* no socket, no cgroup */
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

	e = reserve(TCPW_EV_RST_SENT, k.netns);
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
 * The sample iterator: the daemon runs it (read() on an iterator fd) once
 * a sample interval, on its kernel worker thread, in each netns (an
 * iter/tcp shows the sockets of the netns it was created in). Nothing
 * runs on the packet path. A full socket gets a SAMPLE record only when
 * its snapshot differs from the one it last had here: idle sockets cost
 * no ring space. The kernel holds the socket's lock around the program.
 */

/* Per-socket digest of the last sample's snapshot; 0 = none yet. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sample_digest SEC(".maps");

/* Sockets shown, full sockets sampled, records written. Only the worker
 * thread runs the iterator, one run at a time: no atomics needed. */
__u64 iter_visited, iter_full, iter_emitted;

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	return (h ^ v) * 0x9e3779b97f4a7c15ULL;
}

/* Everything snapshot() writes, folded into a non-zero word. */
static __always_inline __u64 digest(const struct tcp_sock *tp)
{
	const struct sock *sk = &tp->inet_conn.icsk_inet.sk;
	__u64 h = 1;

	h = mix(h, tp->bytes_acked);
	h = mix(h, tp->bytes_received);
	h = mix(h, W32(tp->snd_wnd, tp->rcv_wnd));
	h = mix(h, W32(tp->snd_cwnd, tp->srtt_us >> 3));
	h = mix(h, W32(sk->sk_rcvbuf, tp->rcv_nxt - tp->copied_seq));
	h = mix(h, W32(sk->sk_sndbuf, sk->sk_wmem_queued));
	h = mix(h, W32(tp->total_retrans, tp->data_segs_out));
	h = mix(h, sock_flags(sk) & (1UL << SOCK_DONE));
	return h ? h : 1;
}

SEC("iter/tcp")
int tcpw_sample(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	const struct tcp_sock *tp;
	struct tcpw_key k;
	__u64 *last, h, lost;
	__u8 state;

	if (!skc)
		return 0;
	iter_visited++;
	/* NULL for request and timewait socks */
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	state = skc->skc_state;
	if (state == TCPW_LISTEN || state == TCPW_CLOSE)
		return 0;
	skc_key(skc, tp, &k);
	if (!wanted(&k) || !full_cgroup(&tp->inet_conn.icsk_inet.sk, &k))
		return 0;
	iter_full++;
	last = bpf_sk_storage_get(&sample_digest, (void *)tp, 0,
				  BPF_SK_STORAGE_GET_F_CREATE);
	if (!last)
		return 0;
	h = digest(tp);
	if (*last == h)
		return 0;
	lost = drops[TCPW_EV_SAMPLE];	/* only this program makes samples */
	emit_skc(skc, tp, &k, 0, TCPW_EV_SAMPLE, state, state, false);
	/* a sample lost to a full ring (counted) is tried again next pass */
	if (drops[TCPW_EV_SAMPLE] == lost) {
		*last = h;
		iter_emitted++;
	}
	return 0;
}

/* -- kfree_skb: TCP segments the kernel dropped, and why ------------- */

/* What rate-limits drop records: one per tuple and reason per interval. */
struct drop_key {
	__u8 saddr[16];		/* local */
	__u8 daddr[16];
	__u32 netns;
	__u32 reason;
	__u16 sport, dport;
	__u16 family;
	__u16 _pad;
};

struct drop_val {
	__u64 last_ns;		/* the last record */
	__u64 folded;		/* drops since, not in a record yet */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* an LRU list per CPU: no shared lock on a drop storm */
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 4096);
	__type(key, struct drop_key);
	__type(value, struct drop_val);
} drop_last SEC(".maps");

/*
 * Drops folded into an entry: each is carried by a later record's count
 * (the daemon subtracts those), or stays pending (a tuple that stopped
 * dropping, an entry the LRU evicted). Never lost without a count.
 */
__u64 drop_folded;

/* Start of a TCP header: ports, seq, ack, data offset, flags. */
struct tcp_head {
	__be16 source, dest;
	__be32 seq, ack_seq;
	__u8 doff, flags;
};

#define TCP_FLAG_SYN	0x02
#define TCP_FLAG_ACK	0x10

/*
 * The tuple from the packet, seen from our side. Without a socket the
 * segment was on its way in (dropped on input, or by TCP for want of a
 * socket), so our end is its destination; with a socket that is not the
 * segment's own (a reset from the kernel's control socket), on its way
 * out, so our end is its source.
 */
static __always_inline int drop_tuple(const struct sk_buff *skb,
				      const __u8 *ip, struct drop_key *dk,
				      __u8 *syn, bool out)
{
	unsigned char *th = skb->head + skb->network_header;
	struct tcp_head t;

	if (dk->family == AF_INET) {
		th += (ip[0] & 0xf) * 4;
		__builtin_memcpy(out ? dk->saddr : dk->daddr,
				 ip + IP4_SADDR_OFF, 4);
		__builtin_memcpy(out ? dk->daddr : dk->saddr,
				 ip + IP4_DADDR_OFF, 4);
	} else {
		th += 40;	/* TCP right after the fixed header */
		__builtin_memcpy(out ? dk->saddr : dk->daddr,
				 ip + IP6_SADDR_OFF, 16);
		__builtin_memcpy(out ? dk->daddr : dk->saddr,
				 ip + IP6_DADDR_OFF, 16);
	}
	if (bpf_probe_read_kernel(&t, sizeof(t), th))
		return -1;
	dk->sport = bpf_ntohs(out ? t.source : t.dest);
	dk->dport = bpf_ntohs(out ? t.dest : t.source);
	*syn = (t.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	return 0;
}

/*
 * Rate limit: true if a record is due, with *count the drops it stands
 * for. Two CPUs racing for one entry both see the interval over; the
 * compare-and-swap of last_ns lets one of them through, the other folds.
 */
static __always_inline bool drop_due(const struct drop_key *dk, __u64 now,
				     __u32 *count, struct drop_val **vp)
{
	struct drop_val *v = bpf_map_lookup_elem(&drop_last, dk);
	struct drop_val nv = { .last_ns = now };
	__u64 last;

	*vp = v;
	*count = 1;
	if (!v) {
		bpf_map_update_elem(&drop_last, dk, &nv, BPF_NOEXIST);
		return true;
	}
	last = v->last_ns;
	if (now - last < TCPW_DROP_INTERVAL_NS ||
	    __sync_val_compare_and_swap(&v->last_ns, last, now) != last) {
		__sync_fetch_and_add(&v->folded, 1);
		__sync_fetch_and_add(&drop_folded, 1);
		return false;
	}
	*count += __sync_lock_test_and_set(&v->folded, 0);
	return true;
}

/*
 * The reason comes first, the cheapest test: SKB_CONSUMED (6.3+) is not a
 * drop, and NOT_SPECIFIED is skipped too: 6.1 frees ordinary segments
 * with it (the last ACK in LAST_ACK, any segment to a TIME_WAIT socket),
 * so it says nothing. Then TCP, read from the packet itself (skb->sk may
 * be anything, or a request sock). Only the first three arguments are
 * read: 6.11 added a fourth, rx_sk.
 */
TCPW_TP(kfree_skb)
int BPF_PROG(tcpw_drop, const struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason)
{
	const struct sock *sk;
	struct drop_key dk = {};
	struct tcpw_event *e;
	struct drop_val *v;
	struct tcpw_key k;
	unsigned char *nh;
	__u64 cookie = 0;
	__u8 ip[40], syn, state = TCPW_CLOSE, flags;
	__u32 count;
	bool own;

	if ((__u32)reason <= bpf_core_enum_value(enum skb_drop_reason,
						 SKB_DROP_REASON_NOT_SPECIFIED))
		return 0;
	/* The whole IP header in one read: the addresses come with it. */
	nh = skb->head + skb->network_header;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		dk.family = AF_INET;
		if (bpf_probe_read_kernel(ip, 20, nh) || ip[9] != IPPROTO_TCP)
			return 0;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		dk.family = AF_INET6;
		if (bpf_probe_read_kernel(ip, 40, nh) || ip[6] != IPPROTO_TCP)
			return 0;
	} else {
		return 0;
	}
	/* The netns filter before any more reading (the socket's netns
	 * wins below, where the packet has one). */
	sk = skb->sk;
	k.netns = sk ? sk->__sk_common.skc_net.net->ns.inum
		     : skb->dev->nd_net.net->ns.inum;	/* 0 if no dev */
	if (filter_netns && k.netns != filter_netns)
		return 0;

	/*
	 * A TCP packet owned by another kind of socket is not TCP's: a raw
	 * socket's copy (purged with its queue), or a reset the kernel's
	 * control socket sends, which is lost with it, the one case missed.
	 */
	if (sk && sk->__sk_common.skc_state != TCPW_TIME_WAIT &&
	    sk->__sk_common.skc_state != TCPW_NEW_SYN_RECV &&
	    sk->sk_type != SOCK_STREAM)	/* sk_type: full sockets only */
		return 0;
	if (drop_tuple(skb, ip, &dk, &syn, sk != NULL))
		return 0;
	/* The segment's own socket (sending it, or early-demuxed to it). */
	k.cgroup = 0;
	own = sk && sk->__sk_common.skc_family == dk.family &&
	    ((sk->__sk_common.skc_num == dk.sport &&
	      bpf_ntohs(sk->__sk_common.skc_dport) == dk.dport) ||
	     (sk->__sk_common.skc_num == dk.dport &&
	      bpf_ntohs(sk->__sk_common.skc_dport) == dk.sport));
	if (own) {
		const struct sock_common *skc = &sk->__sk_common;

		/*
		 * skb->sk is an RCU pointer to the verifier, which the
		 * cookie helper refuses: read the cookie as made. Every
		 * socket with a state change we record has one (emit_skc).
		 */
		cookie = skc->skc_cookie.counter;
		state = skc->skc_state;
		/* The socket's view: its local end is ours. */
		if (skc->skc_num != dk.sport) {
			struct drop_key r = dk;

			__builtin_memcpy(dk.saddr, r.daddr, 16);
			__builtin_memcpy(dk.daddr, r.saddr, 16);
			dk.sport = r.dport;
			dk.dport = r.sport;
		}
	}
	k.sport = dk.sport;
	k.dport = dk.dport;
	if (!wanted(&k))
		return 0;
	/* the cgroup filter last; no socket, no cgroup */
	if (own ? (state == TCPW_TIME_WAIT || state == TCPW_NEW_SYN_RECV ?
		   !any_cgroup(sk, NULL, &k) : !full_cgroup(sk, &k)) :
	    filter_cgroup != 0)
		return 0;
	dk.netns = k.netns;
	dk.reason = reason;

	if (!drop_due(&dk, bpf_ktime_get_ns(), &count, &v))
		return 0;
	/*
	 * Drop records take at most half the ring: a flood of them (a SYN
	 * flood from random ports, each a new tuple) while the reader is
	 * behind must leave room for the state events the table is built
	 * from. Past it they are lost as if the ring were full: counted.
	 */
	e = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < drop_ring_bytes ?
	    bpf_ringbuf_reserve(&events, sizeof(*e), 0) : NULL;
	if (!e) {
		/* A lost record; its drops go with the tuple's next one
		 * (if the entry made it: a new tuple's single drop is lost
		 * with the record, and counted with it). */
		__sync_fetch_and_add(&drops[TCPW_EV_DROP], 1);
		if (v) {
			__sync_fetch_and_add(&v->folded, count);
			__sync_fetch_and_add(&drop_folded, 1);
		}
		return 0;
	}
	no_snapshot(e);
	put_addr(e->saddr, *(__be32 *)&dk.saddr[0], *(__be32 *)&dk.saddr[4],
		 *(__be32 *)&dk.saddr[8], *(__be32 *)&dk.saddr[12]);
	put_addr(e->daddr, *(__be32 *)&dk.daddr[0], *(__be32 *)&dk.daddr[4],
		 *(__be32 *)&dk.daddr[8], *(__be32 *)&dk.daddr[12]);
	flags = (cookie ? 0 : TCPW_F_NOSOCK) | (syn ? TCPW_F_SYN : 0);
	put_head(e, dk.family, TCPW_EV_DROP, &k, state, state, flags);
	put(&e->reason, W32(reason, count));
	put(&e->comm[0], 0);
	put(&e->comm[8], 0);
	e->cookie = cookie;
	e->ts_ns = bpf_ktime_get_ns();
	submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
