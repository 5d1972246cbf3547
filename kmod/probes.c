// SPDX-License-Identifier: GPL-2.0
/*
 * Tracepoint probes that fill struct tcpw_event exactly as the BPF
 * programs do (see include/uapi/tcpwatch.h for the field rules).
 *
 * The tracepoints are not exported to modules: they are found by name
 * with for_each_kernel_tracepoint() and attached with
 * tracepoint_probe_register(). Each probe's signature must be the
 * tracepoint's TP_PROTO with a leading void *data; check_protos() below
 * makes the compiler prove that against the headers being built with.
 */
#define pr_fmt(fmt) "tcpwatch: " fmt

#include <linux/cgroup.h>
#include <linux/err.h>
#include <linux/hash.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jhash.h>
#include <linux/kernel.h>
#include <linux/spinlock.h>
#include <linux/version.h>
#include <linux/sched.h>
#include <linux/sock_diag.h>
#include <linux/string.h>
#include <linux/tcp.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <net/inet_sock.h>
#include <net/net_namespace.h>
#include <net/request_sock.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/tcp_states.h>
#include <net/dropreason.h>
#include <trace/events/skb.h>
#include <trace/events/sock.h>
#include <trace/events/tcp.h>

#include "tcpw.h"

static u16 port_filter[TCPW_MAX_PORTS];
static int nr_port_filter;
static struct cgroup *cgroup_filter;	/* NULL: every cgroup */

/* -- filling records ------------------------------------------------- */

static void event_init(struct tcpw_event *ev, u8 kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = ktime_get_ns();
	ev->version = TCPW_ABI_VERSION;
	ev->kind = kind;
}

/*
 * The 4-tuple as sock_diag (ss) reports it: bound local address,
 * remote address, ports in host order. A full socket's local port is
 * inet_sport, which (unlike skc_num) survives the port being released
 * just before the final ->CLOSE transition; timewait and request socks
 * only have skc_num. IPv4 addresses go in the first 4 bytes.
 */
static void fill_tuple(struct tcpw_event *ev, const struct sock *sk)
{
	ev->family = sk->sk_family;
	if (sk_fullsock(sk))
		ev->sport = ntohs(inet_sk(sk)->inet_sport);
	else
		ev->sport = sk->sk_num;
	ev->dport = ntohs(sk->sk_dport);
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		memcpy(ev->saddr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(ev->daddr, &sk->sk_v6_daddr, 16);
		return;
	}
#endif
	memcpy(ev->saddr, &sk->sk_rcv_saddr, 4);
	memcpy(ev->daddr, &sk->sk_daddr, 4);
}

/*
 * No socket (an RST answering a segment for a closed port): the tuple
 * comes from that segment, seen from our side, so its destination is
 * our local end. Starts the record; false if it is not IPv4 or IPv6.
 */
static bool fill_tuple_skb(struct tcpw_event *ev, const struct sk_buff *skb)
{
	const struct tcphdr *th = tcp_hdr(skb);
	u8 version = ip_hdr(skb)->version;

	event_init(ev, TCPW_EV_RST_SENT);
	ev->sport = ntohs(th->dest);
	ev->dport = ntohs(th->source);
	if (version == 4) {
		ev->family = AF_INET;
		memcpy(ev->saddr, &ip_hdr(skb)->daddr, 4);
		memcpy(ev->daddr, &ip_hdr(skb)->saddr, 4);
		return true;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (version == 6) {
		ev->family = AF_INET6;
		memcpy(ev->saddr, &ipv6_hdr(skb)->daddr, 16);
		memcpy(ev->daddr, &ipv6_hdr(skb)->saddr, 16);
		return true;
	}
#endif
	return false;
}

static bool wanted(const struct tcpw_event *ev)
{
	int i;

	if (!nr_port_filter)
		return true;
	for (i = 0; i < nr_port_filter; i++)
		if (port_filter[i] == ev->sport || port_filter[i] == ev->dport)
			return true;
	return false;
}

/*
 * The cgroup a socket was made in (sk_cgrp_data, copied to an accepted
 * child by sk_clone_lock()). A request sock has its listener's; a
 * timewait sock has none (the daemon keeps what earlier records said).
 */
static struct cgroup *sk_cgroup(const struct sock *sk)
{
#ifdef CONFIG_SOCK_CGROUP_DATA
	if (sk_fullsock(sk))
		return sock_cgroup_ptr((struct sock_cgroup_data *)
				       &sk->sk_cgrp_data);
	if (sk->sk_state == TCP_NEW_SYN_RECV) {
		struct sock *l = inet_reqsk(sk)->rsk_listener;

		if (l)
			return sock_cgroup_ptr(&l->sk_cgrp_data);
	}
#endif
	return NULL;
}

/*
 * ev->cgroup, and the cgroup filter: false when the socket is outside
 * the cgroup= subtree. A timewait sock passes (the daemon keeps it only
 * if it tracks it); so does everything without a filter.
 */
static bool cgroup_keep(struct tcpw_event *ev, const struct sock *sk)
{
	struct cgroup *cg = sk_cgroup(sk);

	if (cg)
		ev->cgroup = cgroup_id(cg);
	if (!cgroup_filter)
		return true;
	if (!cg)
		return sk->sk_state == TCP_TIME_WAIT;
	return cgroup_is_descendant(cg, cgroup_filter);
}

/*
 * The kernel's socket cookie, the one sock_diag reports as idiag_cookie
 * (ss -e: "sk:<hex>") and bpf_get_socket_cookie() returns; made on first
 * use, like theirs. __sock_gen_cookie() is not exported, its
 * sock_diag_save_cookie() wrapper is. It only touches sock_common, so it
 * is valid for timewait and request socks too.
 */
static u64 sock_cookie(const struct sock *sk)
{
	u32 c[2];

	sock_diag_save_cookie((struct sock *)sk, c);
	return (u64)c[1] << 32 | c[0];
}

static void fill_id(struct tcpw_event *ev, const struct sock *sk)
{
	ev->cookie = sock_cookie(sk);
	ev->netns = sock_net(sk)->ns.inum;
}

/*
 * Window and buffer state, and whether the peer's FIN has arrived; only
 * for full TCP sockets.
 */
static void snapshot(struct tcpw_event *ev, const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	ev->snd_wnd = READ_ONCE(tp->snd_wnd);
	ev->rcv_wnd = READ_ONCE(tp->rcv_wnd);
	ev->snd_cwnd = tcp_snd_cwnd(tp);
	ev->srtt_us = READ_ONCE(tp->srtt_us) >> 3;
	ev->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	ev->rcv_queued = READ_ONCE(tp->rcv_nxt) - READ_ONCE(tp->copied_seq);
	ev->sndbuf = READ_ONCE(sk->sk_sndbuf);
	ev->wmem_queued = READ_ONCE(sk->sk_wmem_queued);
	ev->bytes_acked = READ_ONCE(tp->bytes_acked);
	ev->bytes_received = READ_ONCE(tp->bytes_received);
	ev->total_retrans = READ_ONCE(tp->total_retrans);
	ev->data_segs_out = READ_ONCE(tp->data_segs_out);
	ev->flags |= TCPW_F_SNAPSHOT;
	/*
	 * SOCK_DONE, not RCV_SHUTDOWN: close() sets RCV_SHUTDOWN on our
	 * own socket (sk_shutdown = SHUTDOWN_MASK), so every closed orphan
	 * would look as if the peer's FIN had come. tcp_fin() sets
	 * SOCK_DONE when it does; only tcp_disconnect() clears it.
	 */
	if (sock_flag(sk, SOCK_DONE))
		ev->flags |= TCPW_F_FIN_RCVD;
}

/*
 * Transitions that only ever happen in a system call of the socket's
 * owner (connect, listen, close, shutdown): there and only there the
 * current task is the owner. Elsewhere (softirq) it is a bystander.
 */
static bool owner_context(int oldstate, int newstate)
{
	switch (oldstate) {
	case TCP_CLOSE:
		return newstate == TCP_SYN_SENT || newstate == TCP_LISTEN;
	case TCP_CLOSE_WAIT:
		return newstate == TCP_LAST_ACK;
	case TCP_ESTABLISHED:
		return newstate == TCP_FIN_WAIT1;
	case TCP_LISTEN:
		return newstate == TCP_CLOSE;
	default:
		return false;
	}
}

static void fill_owner(struct tcpw_event *ev)
{
	ev->pid = task_tgid_nr(current);
	strscpy_pad(ev->comm, current->comm, sizeof(ev->comm));
	ev->flags |= TCPW_F_OWNER;
}

/* A non-STATE event on a socket of any kind: both states are current. */
static void emit_sock(u8 kind, const struct sock *sk)
{
	struct tcpw_event ev;

	event_init(&ev, kind);
	fill_tuple(&ev, sk);
	if (!wanted(&ev) || !cgroup_keep(&ev, sk))
		return;
	fill_id(&ev, sk);
	ev.oldstate = sk->sk_state;
	ev.newstate = sk->sk_state;
	if (sk_fullsock(sk))
		snapshot(&ev, sk);
	tcpw_emit(&ev);
}

/* A SAMPLE record for a full socket (sample.c); false if filtered out. */
bool tcpw_fill_sample(struct tcpw_event *ev, const struct sock *sk)
{
	event_init(ev, TCPW_EV_SAMPLE);
	fill_tuple(ev, sk);
	if (!wanted(ev) || !cgroup_keep(ev, sk))
		return false;
	fill_id(ev, sk);
	ev->oldstate = sk->sk_state;
	ev->newstate = sk->sk_state;
	snapshot(ev, sk);
	return true;
}

/* -- probes: the tracepoints' TP_PROTO with a leading void *data ------ */

static void tcpw_state(void *data, const struct sock *sk,
			    const int oldstate, const int newstate)
{
	struct tcpw_event ev;

	if (!tcpw_capturing() || sk->sk_protocol != IPPROTO_TCP)
		return;
	event_init(&ev, TCPW_EV_STATE);
	fill_tuple(&ev, sk);
	if (!wanted(&ev) || !cgroup_keep(&ev, sk))
		return;
	fill_id(&ev, sk);
	ev.oldstate = oldstate;
	ev.newstate = newstate;
	if (sk_fullsock(sk))
		snapshot(&ev, sk);
	if (owner_context(oldstate, newstate) && in_task())
		fill_owner(&ev);
	tcpw_emit(&ev);
}

static void tcpw_retrans(void *data, const struct sock *sk,
				 const struct sk_buff *skb)
{
	if (tcpw_capturing())
		emit_sock(TCPW_EV_RETRANS, sk);
}

/* The request sock's own tuple and cookie (the child inherits it). */
static void tcpw_synack(void *data, const struct sock *sk,
				    const struct request_sock *req)
{
	const struct sock *rsk = req_to_sk((struct request_sock *)req);
	struct tcpw_event ev;

	if (!tcpw_capturing())
		return;
	event_init(&ev, TCPW_EV_SYNACK_RETRANS);
	fill_tuple(&ev, rsk);
	if (!wanted(&ev) || !cgroup_keep(&ev, sk))	/* the listener's */
		return;
	fill_id(&ev, rsk);
	ev.oldstate = TCP_SYN_RECV;
	ev.newstate = TCP_SYN_RECV;
	tcpw_emit(&ev);
}

/*
 * 6.1 calls this only with a full socket, later kernels also with a
 * timewait or request sock, or with none at all (a segment for a closed
 * port); handle every case.
 */
static void tcpw_rst_sent(void *data, const struct sock *sk,
			     const struct sk_buff *skb)
{
	struct tcpw_event ev;

	if (!tcpw_capturing())
		return;
	if (sk) {
		emit_sock(TCPW_EV_RST_SENT, sk);
		return;
	}
	/* no socket, no cgroup: outside any cgroup= subtree */
	if (!skb || !fill_tuple_skb(&ev, skb) || !wanted(&ev) || cgroup_filter)
		return;
	if (skb->dev)
		ev.netns = dev_net(skb->dev)->ns.inum;
	ev.oldstate = TCP_CLOSE;
	ev.newstate = TCP_CLOSE;
	ev.flags = TCPW_F_NOSOCK;
	tcpw_emit(&ev);
}

static void tcpw_rst_recv(void *data, struct sock *sk)
{
	if (tcpw_capturing())
		emit_sock(TCPW_EV_RST_RECV, sk);
}

/* -- kfree_skb: TCP packets dropped, and why -------------------------- */

/*
 * One record per (tuple, reason) per TCPW_DROP_INTERVAL_NS, its count the
 * drops since the last one, as the BPF side does with an LRU hash: here a
 * fixed table, 2-way associative (slots h and h ^ 1), under one raw lock
 * (probes run with preemption off, in any context; only TCP drops that
 * passed the filters take it). A new tuple takes the slot with the older
 * record; drops folded into the slot it evicts stay counted in
 * drop_folded, as pending (Documentation/json-schema.md, drop).
 */
#define DROP_BITS	10
#define DROP_SLOTS	(1U << DROP_BITS)

struct drop_key {
	u8 saddr[16];		/* local */
	u8 daddr[16];
	u32 netns;
	u32 reason;
	u16 sport, dport;
	u16 family;
	u16 pad;
};

struct drop_slot {
	struct drop_key key;
	u64 last_ns;
	u64 folded;
};

static struct drop_slot drop_tbl[DROP_SLOTS];
static u64 drop_folded;		/* under drop_lock */
static DEFINE_RAW_SPINLOCK(drop_lock);

/*
 * Emit ev for key unless the interval since the tuple's last record has
 * not passed: then fold it. A record the full ring refuses (counted as
 * lost by tcpw_emit) leaves its drops to the tuple's next record.
 */
static void drop_emit(struct tcpw_event *ev, const struct drop_key *key)
{
	u32 h = jhash(key, sizeof(*key), 0) & (DROP_SLOTS - 1);
	struct drop_slot *a = &drop_tbl[h], *b = &drop_tbl[h ^ 1], *s;
	unsigned long flags;
	u64 now = ev->ts_ns;

	raw_spin_lock_irqsave(&drop_lock, flags);
	if (!memcmp(&a->key, key, sizeof(*key))) {
		s = a;
	} else if (!memcmp(&b->key, key, sizeof(*key))) {
		s = b;
	} else {
		s = a->last_ns <= b->last_ns ? a : b;
		s->key = *key;
		s->last_ns = now - TCPW_DROP_INTERVAL_NS;
		s->folded = 0;
	}
	if (now - s->last_ns < TCPW_DROP_INTERVAL_NS) {
		s->folded++;
		drop_folded++;
	} else {
		ev->count = 1 + s->folded;
		s->folded = 0;
		s->last_ns = now;
		if (!tcpw_emit(ev)) {
			s->folded = ev->count;
			drop_folded++;
		}
	}
	raw_spin_unlock_irqrestore(&drop_lock, flags);
}

/* Called with no probe running (the first open of the device). */
void tcpw_drop_reset(void)
{
	memset(drop_tbl, 0, sizeof(drop_tbl));
	drop_folded = 0;
}

u64 tcpw_drop_folded(void)
{
	unsigned long flags;
	u64 n;

	raw_spin_lock_irqsave(&drop_lock, flags);
	n = drop_folded;
	raw_spin_unlock_irqrestore(&drop_lock, flags);
	return n;
}

/*
 * The tuple from the packet, seen from our side: without a socket it
 * was on its way in (our end is its destination), with one on its way
 * out. false: not TCP over IPv4/IPv6, or truncated.
 */
static bool drop_tuple(const struct sk_buff *skb, struct drop_key *k,
		       bool out, bool *syn)
{
	int noff = skb_network_offset(skb), thoff;
	const struct tcphdr *th;
	struct tcphdr _th;

	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph;
		struct iphdr _iph;

		iph = skb_header_pointer(skb, noff, sizeof(_iph), &_iph);
		if (!iph || iph->version != 4 || iph->protocol != IPPROTO_TCP)
			return false;
		k->family = AF_INET;
		memcpy(out ? k->saddr : k->daddr, &iph->saddr, 4);
		memcpy(out ? k->daddr : k->saddr, &iph->daddr, 4);
		thoff = noff + iph->ihl * 4;
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6h;
		struct ipv6hdr _ip6h;

		ip6h = skb_header_pointer(skb, noff, sizeof(_ip6h), &_ip6h);
		if (!ip6h || ip6h->nexthdr != IPPROTO_TCP)
			return false;
		k->family = AF_INET6;
		memcpy(out ? k->saddr : k->daddr, &ip6h->saddr, 16);
		memcpy(out ? k->daddr : k->saddr, &ip6h->daddr, 16);
		thoff = noff + sizeof(*ip6h);
	} else {
		return false;
	}
	th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
	if (!th)
		return false;
	k->sport = ntohs(out ? th->source : th->dest);
	k->dport = ntohs(out ? th->dest : th->source);
	*syn = th->syn && !th->ack;
	return true;
}

/* sk is the packet's own socket: its ports are the packet's. */
static bool drop_own_sock(const struct sock *sk, const struct drop_key *k)
{
	u16 num = sk->sk_num, dport = ntohs(sk->sk_dport);

	return sk->sk_family == k->family &&
	       ((num == k->sport && dport == k->dport) ||
		(num == k->dport && dport == k->sport));
}

/*
 * The reason first, the cheapest test: below NOT_SPECIFIED (SKB_CONSUMED
 * since 6.3) it is no drop, and NOT_SPECIFIED itself is skipped: 6.1
 * frees ordinary segments with it (the last ACK in LAST_ACK, segments to
 * a TIME_WAIT socket). 6.11 added rx_sk, the receiving socket.
 */
static void tcpw_drop(void *data, struct sk_buff *skb, void *location,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
		      enum skb_drop_reason reason, struct sock *rx_sk)
#else
		      enum skb_drop_reason reason)
#endif
{
	const struct sock *sk = skb->sk;
	struct drop_key k = { 0 };
	struct tcpw_event ev;
	bool syn, own;

	if (!tcpw_capturing() || reason <= SKB_DROP_REASON_NOT_SPECIFIED)
		return;
	/* a raw socket's copy of a TCP packet is not TCP's */
	if (sk && sk_fullsock(sk) && sk->sk_type != SOCK_STREAM)
		return;
	if (!drop_tuple(skb, &k, sk, &syn))
		return;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	if (!sk && rx_sk && (!sk_fullsock(rx_sk) ||
			     rx_sk->sk_type == SOCK_STREAM))
		sk = rx_sk;
#endif
	event_init(&ev, TCPW_EV_DROP);
	ev.oldstate = TCP_CLOSE;
	ev.newstate = TCP_CLOSE;
	own = sk && drop_own_sock(sk, &k);
	if (own) {
		fill_tuple(&ev, sk);
		fill_id(&ev, sk);
		ev.oldstate = sk->sk_state;
		ev.newstate = sk->sk_state;
	} else {
		ev.family = k.family;
		ev.sport = k.sport;
		ev.dport = k.dport;
		memcpy(ev.saddr, k.saddr, 16);
		memcpy(ev.daddr, k.daddr, 16);
		if (skb->dev)
			ev.netns = dev_net(skb->dev)->ns.inum;
		else if (sk)
			ev.netns = sock_net(sk)->ns.inum;
		ev.flags = TCPW_F_NOSOCK;
	}
	/* the cgroup filter last; no socket, no cgroup */
	if (!wanted(&ev) || (own ? !cgroup_keep(&ev, sk) : !!cgroup_filter))
		return;
	if (syn)
		ev.flags |= TCPW_F_SYN;
	ev.reason = reason;
	/* the key: the tuple as recorded, our end first */
	k.sport = ev.sport;
	k.dport = ev.dport;
	memcpy(k.saddr, ev.saddr, 16);
	memcpy(k.daddr, ev.daddr, 16);
	k.netns = ev.netns;
	k.reason = reason;
	drop_emit(&ev, &k);
}

/*
 * The running kernel's name of a drop reason (without SKB_DROP_REASON_),
 * from its own table: drop_reasons[] until 6.3, the core subsystem's
 * list since 6.4. -ENOENT past the last one.
 */
int tcpw_drop_reason_name(u32 reason, char *buf, size_t len)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	const struct drop_reason_list *list;
	int ret = -ENOENT;

	rcu_read_lock();
	list = rcu_dereference(drop_reasons_by_subsys[SKB_DROP_REASON_SUBSYS_CORE]);
	if (list && reason < list->n_reasons) {
		strscpy_pad(buf, list->reasons[reason] ?: "", len);
		ret = 0;
	}
	rcu_read_unlock();
	return ret;
#else
	if (reason >= SKB_DROP_REASON_MAX)
		return -ENOENT;
	strscpy_pad(buf, drop_reasons[reason] ?: "", len);
	return 0;
#endif
}

/*
 * Never called: sizeof() does not evaluate its operand, so no reference
 * to the unexported __tracepoint_* symbols is emitted, but the compiler
 * checks each probe against the register_trace_*() prototype generated
 * from the tracepoint's TP_PROTO (-Werror turns a mismatch into an
 * error).
 */
static inline void check_protos(void)
{
	BUILD_BUG_ON(!sizeof(register_trace_inet_sock_set_state(
				tcpw_state, NULL)));
	BUILD_BUG_ON(!sizeof(register_trace_tcp_retransmit_skb(
				tcpw_retrans, NULL)));
	BUILD_BUG_ON(!sizeof(register_trace_tcp_retransmit_synack(
				tcpw_synack, NULL)));
	BUILD_BUG_ON(!sizeof(register_trace_tcp_send_reset(
				tcpw_rst_sent, NULL)));
	BUILD_BUG_ON(!sizeof(register_trace_tcp_receive_reset(
				tcpw_rst_recv, NULL)));
	BUILD_BUG_ON(!sizeof(register_trace_kfree_skb(tcpw_drop, NULL)));
}

/* -- attach ------------------------------------------------------------ */

struct tcpw_attach {
	const char *name;
	void *func;
	struct tracepoint *tp;
	bool registered;
};

/*
 * One slot per tracepoint of TCPW_TRACEPOINTS (uapi), the list the BPF
 * programs and the daemon use too: a probe for a tracepoint not in the
 * list does not build, one in the list without a probe fails the load.
 */
#define TP_ENUM(name) TCPW_TP_##name,
enum { TCPW_TRACEPOINTS(TP_ENUM) TCPW_NR_TP };
#undef TP_ENUM
#define PROBE(tp, fn) [TCPW_TP_##tp] = { .name = #tp, .func = fn }

static struct tcpw_attach probes[TCPW_NR_TP] = {
	PROBE(inet_sock_set_state, tcpw_state),
	PROBE(tcp_retransmit_skb, tcpw_retrans),
	PROBE(tcp_retransmit_synack, tcpw_synack),
	PROBE(tcp_send_reset, tcpw_rst_sent),
	PROBE(tcp_receive_reset, tcpw_rst_recv),
	PROBE(kfree_skb, tcpw_drop),
};

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(probes); i++)
		if (probes[i].name && !strcmp(tp->name, probes[i].name))
			probes[i].tp = tp;
}

static void unregister_all(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		if (!probes[i].registered)
			continue;
		tracepoint_probe_unregister(probes[i].tp, probes[i].func, NULL);
		probes[i].registered = false;
	}
	/* No probe runs past this, so the caller may free what they use. */
	tracepoint_synchronize_unregister();
}

static void cgroup_filter_put(void)
{
	if (cgroup_filter)
		cgroup_put(cgroup_filter);
	cgroup_filter = NULL;
}

int tcpw_probes_init(const u16 *ports, int nr_ports, const char *cgroup)
{
	int i, ret;

	check_protos();
	nr_port_filter = min(nr_ports, TCPW_MAX_PORTS);
	memcpy(port_filter, ports, nr_port_filter * sizeof(*ports));
	if (cgroup && *cgroup) {
		struct cgroup *cg = cgroup_get_from_path(cgroup);

		if (IS_ERR(cg)) {
			pr_err("cgroup=%s: no such cgroup v2 directory (a path from the cgroup2 root, e.g. /system.slice): %ld\n",
			       cgroup, PTR_ERR(cg));
			return PTR_ERR(cg);
		}
		cgroup_filter = cg;
	}

	for_each_kernel_tracepoint(find_tracepoint, NULL);
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		struct tcpw_attach *p = &probes[i];

		if (WARN_ON_ONCE(!p->func)) {
			ret = -EINVAL;
			goto out_unregister;
		}
		if (!p->tp) {
			pr_err("tracepoint %s not found\n", p->name);
			ret = -ENOENT;
			goto out_unregister;
		}
		ret = tracepoint_probe_register(p->tp, p->func, NULL);
		if (ret) {
			pr_err("cannot attach to tracepoint %s: %d\n", p->name,
			       ret);
			goto out_unregister;
		}
		p->registered = true;
	}
	return 0;

out_unregister:
	unregister_all();
	cgroup_filter_put();
	return ret;
}

void tcpw_probes_exit(void)
{
	unregister_all();
	cgroup_filter_put();	/* no probe runs any more */
}
