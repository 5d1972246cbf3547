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

#include <linux/hash.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/kernel.h>
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
#include <trace/events/sock.h>
#include <trace/events/tcp.h>

#include "tcpw.h"

static u64 sample_ns;			/* 0: no tcp_probe samples */
static u16 port_filter[TCPW_MAX_PORTS];
static int nr_port_filter;

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
	if (!wanted(&ev))
		return;
	fill_id(&ev, sk);
	ev.oldstate = sk->sk_state;
	ev.newstate = sk->sk_state;
	if (sk_fullsock(sk))
		snapshot(&ev, sk);
	tcpw_emit(&ev);
}

/* -- tcp_probe rate limit --------------------------------------------- */

/*
 * At most one sample per socket per sample_ms, without allocating and
 * without per-socket storage (a module has no sk_storage): a fixed
 * table of cookie -> time of the last sample, 2-way associative (slots
 * h and h ^ 1, one cache line). A socket found in either slot is
 * rate-limited by its own time; a new socket takes the slot with the
 * older time (dead sockets age out that way) and is sampled at once.
 *
 * Races are benign by design: one socket's segments are processed
 * under its socket lock, so a slot is only raced for by two different
 * sockets hashing to it, and the worst outcome is one extra or one
 * skipped sample. The rate limit is approximate only when three or
 * more busy sockets share a slot pair (4096 slots).
 */
#define SAMPLE_BITS	12
#define SAMPLE_SLOTS	(1U << SAMPLE_BITS)

struct sample_slot {
	u64 cookie;
	u64 last_ns;
};

static struct sample_slot sample_tbl[SAMPLE_SLOTS];

static bool sample_due(u64 cookie, u64 now)
{
	u32 h = hash_64(cookie, SAMPLE_BITS);
	struct sample_slot *a = &sample_tbl[h], *b = &sample_tbl[h ^ 1];
	struct sample_slot *s;

	if (READ_ONCE(a->cookie) == cookie) {
		s = a;
	} else if (READ_ONCE(b->cookie) == cookie) {
		s = b;
	} else {
		s = READ_ONCE(a->last_ns) <= READ_ONCE(b->last_ns) ? a : b;
		WRITE_ONCE(s->cookie, cookie);
		WRITE_ONCE(s->last_ns, now);
		return true;
	}
	if (now - READ_ONCE(s->last_ns) < sample_ns)
		return false;
	WRITE_ONCE(s->last_ns, now);
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
	if (!wanted(&ev))
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
	if (!wanted(&ev))
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
	if (!skb || !fill_tuple_skb(&ev, skb) || !wanted(&ev))
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

static void tcpw_probe(void *data, struct sock *sk, struct sk_buff *skb)
{
	struct tcpw_event ev;

	if (!tcpw_capturing())
		return;
	event_init(&ev, TCPW_EV_SAMPLE);
	fill_tuple(&ev, sk);
	if (!wanted(&ev))
		return;
	fill_id(&ev, sk);
	if (!sample_due(ev.cookie, ev.ts_ns))
		return;
	ev.oldstate = sk->sk_state;
	ev.newstate = sk->sk_state;
	if (sk_fullsock(sk))
		snapshot(&ev, sk);
	tcpw_emit(&ev);
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
	BUILD_BUG_ON(!sizeof(register_trace_tcp_probe(tcpw_probe, NULL)));
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
	PROBE(tcp_probe, tcpw_probe),
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

int tcpw_probes_init(u32 sample_ms, const u16 *ports, int nr_ports)
{
	int i, ret;

	check_protos();
	sample_ns = (u64)sample_ms * NSEC_PER_MSEC;
	nr_port_filter = min(nr_ports, TCPW_MAX_PORTS);
	memcpy(port_filter, ports, nr_port_filter * sizeof(*ports));

	for_each_kernel_tracepoint(find_tracepoint, NULL);
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		struct tcpw_attach *p = &probes[i];

		if (WARN_ON_ONCE(!p->func)) {
			ret = -EINVAL;
			goto out_unregister;
		}
		if (p->func == tcpw_probe && !sample_ns)
			continue;
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
	return ret;
}

void tcpw_probes_exit(void)
{
	unregister_all();
}
