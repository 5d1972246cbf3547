/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * tcpwatch event ABI: the one record format shared by the BPF programs
 * (bpf/), the kernel module (kmod/) and the daemon (user/).
 *
 * Rules: fixed-width __u* types only, fields from largest to smallest,
 * explicit padding, the size pinned on every side (TCPW_EVENT_SIZE).
 * Bump TCPW_ABI_VERSION on any incompatible change.
 */
#ifndef _UAPI_TCPWATCH_H
#define _UAPI_TCPWATCH_H

#ifndef __bpf__
#include <linux/types.h>
#include <linux/ioctl.h>
#endif

#define TCPW_ABI_VERSION	3

/* Event kinds (tcpw_event.kind). 0 is never a valid kind. */
enum tcpw_kind {
	TCPW_EV_STATE		= 1,	/* sock:inet_sock_set_state */
	TCPW_EV_RETRANS		= 2,	/* tcp:tcp_retransmit_skb */
	TCPW_EV_SYNACK_RETRANS	= 3,	/* tcp:tcp_retransmit_synack */
	TCPW_EV_RST_SENT	= 4,	/* tcp:tcp_send_reset */
	TCPW_EV_RST_RECV	= 5,	/* tcp:tcp_receive_reset */
	TCPW_EV_SAMPLE		= 6,	/* window/buffer snapshot, when changed */
	TCPW_EV_DROP		= 7,	/* skb:kfree_skb of a TCP packet */
	TCPW_EV_MAX		= 8,
};

/* tcpw_event.flags */
#define TCPW_F_OWNER	0x01	/* pid/comm: the task acting on the socket
				 * in process context (connect, listen,
				 * close), not a softirq's victim */
#define TCPW_F_SNAPSHOT	0x02	/* window/buffer fields are valid (full
				 * TCP socket; not a request/timewait sock) */
#define TCPW_F_NOSOCK	0x04	/* no socket (RST for a closed port): tuple
				 * taken from the packet, cookie is 0 */
#define TCPW_F_FIN_RCVD	0x08	/* the peer's FIN has arrived (SOCK_DONE,
				 * set by tcp_fin()). On FIN_WAIT2 -> CLOSE it
				 * tells a real TIME_WAIT from an orphan's
				 * FIN_WAIT2 timewait socket. */
#define TCPW_F_SYN	0x10	/* DROP: the dropped segment is a SYN
				 * without ACK (a connection attempt) */

/*
 * DROP records are rate-limited per (tuple, reason): at most one per
 * interval, its count the drops since the previous one, itself included.
 */
#define TCPW_DROP_INTERVAL_NS	1000000000ULL

/*
 * TCP states as the kernel numbers them (include/net/tcp_states.h).
 * Repeated here because that header is not UAPI.
 */
enum tcpw_state {
	TCPW_ESTABLISHED = 1,
	TCPW_SYN_SENT,
	TCPW_SYN_RECV,
	TCPW_FIN_WAIT1,
	TCPW_FIN_WAIT2,
	TCPW_TIME_WAIT,
	TCPW_CLOSE,
	TCPW_CLOSE_WAIT,
	TCPW_LAST_ACK,
	TCPW_LISTEN,
	TCPW_CLOSING,
	TCPW_NEW_SYN_RECV,
	TCPW_STATE_MAX,
};

/*
 * One record. Addresses are in network byte order, 16 bytes for both
 * families (IPv4 in the first 4 bytes). Ports are in host byte order.
 * ts_ns is CLOCK_MONOTONIC (bpf_ktime_get_ns / ktime_get_ns).
 */
struct tcpw_event {
	__u64 ts_ns;
	__u64 cookie;		/* socket cookie: same as sock_diag's */
	__u64 cgroup;		/* cgroup v2 id of the socket (sk_cgrp_data:
				 * its creator's, an accepted child copies
				 * its listener's); 0 if unknown */
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 netns;		/* net->ns.inum, as in /proc/PID/ns/net */
	__u32 pid;		/* tgid, valid with TCPW_F_OWNER */
	__u32 snd_wnd;		/* peer's advertised window, bytes */
	__u32 rcv_wnd;		/* our advertised window, bytes */
	__u32 snd_cwnd;		/* segments */
	__u32 srtt_us;		/* smoothed RTT, microseconds */
	__u32 rcvbuf;		/* sk_rcvbuf */
	__u32 rcv_queued;	/* unread bytes: rcv_nxt - copied_seq */
	__u32 sndbuf;		/* sk_sndbuf */
	__u32 wmem_queued;	/* sk_wmem_queued */
	__u32 total_retrans;
	__u32 data_segs_out;	/* data segments sent, retransmits included */
	__u32 reason;		/* DROP: enum skb_drop_reason; else 0 */
	__u32 count;		/* DROP: drops this record stands for
				 * (rate-limited per tuple); else 0 */
	__u32 _reserved;	/* zero */
	__u16 version;		/* TCPW_ABI_VERSION */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 sport;
	__u16 dport;
	__u8  kind;		/* enum tcpw_kind */
	__u8  oldstate;		/* enum tcpw_state; for non-STATE kinds */
	__u8  newstate;		/* both are the current state */
	__u8  flags;		/* TCPW_F_* */
	__u8  saddr[16];
	__u8  daddr[16];
	char  comm[16];		/* valid with TCPW_F_OWNER */
};

/*
 * Limits and lists both halves share: one definition, used by the BPF
 * programs, the module and the daemon.
 */
#define TCPW_MAX_PORTS	8	/* port filter: local or remote port */

/*
 * The TCP tracepoints the sources attach to, as X(name): the daemon
 * checks each is in the kernel before loading (user/source/bpf.c), the
 * BPF programs are SEC("tp_btf/" name) for each (bpf/tcpwatch.bpf.c,
 * TCPW_TP), the module probes each (kmod/probes.c).
 */
#define TCPW_TRACEPOINTS(X)		\
	X(inet_sock_set_state)		\
	X(tcp_retransmit_skb)		\
	X(tcp_retransmit_synack)	\
	X(tcp_send_reset)		\
	X(tcp_receive_reset)		\
	X(kfree_skb)

#define TCPW_EVENT_SIZE	160

/*
 * Kernel module character device (/dev/tcpwatch).
 *
 * read() returns whole struct tcpw_event records, as many as fit;
 * a buffer smaller than one record gets -EINVAL.
 */
#define TCPW_DEV_NAME	"tcpwatch"

struct tcpw_stats {
	__u64 events[TCPW_EV_MAX];	/* produced, by kind */
	__u64 drops[TCPW_EV_MAX];	/* lost to a full ring, by kind */
	__u32 ring_bytes;		/* ring capacity */
	__u32 ring_used;		/* bytes waiting to be read */
};

#define TCPW_IOC_MAGIC		0xC7
#define TCPW_IOC_GET_STATS	_IOR(TCPW_IOC_MAGIC, 1, struct tcpw_stats)
#define TCPW_IOC_GET_VERSION	_IOR(TCPW_IOC_MAGIC, 2, __u32)

/*
 * The running kernel's name of drop reason `reason` (enum
 * skb_drop_reason, without SKB_DROP_REASON_), NUL-terminated; -ENOENT
 * past the last one, an empty name for a hole.
 */
struct tcpw_drop_reason {
	__u32 reason;
	__u32 _reserved;
	char  name[56];
};

#define TCPW_IOC_DROP_REASON	_IOWR(TCPW_IOC_MAGIC, 3, struct tcpw_drop_reason)
/* Drops the rate limit folded into a later record's count, since open. */
#define TCPW_IOC_DROP_FOLDED	_IOR(TCPW_IOC_MAGIC, 4, __u64)

/*
 * The namespaces a full ring lost events of (every kind but SAMPLE and
 * DROP, which the table does not keep), noted since the last call,
 * which takes them: the daemon heals only these from sock_diag. Past
 * TCPW_LOST_NETNS_MAX distinct namespaces `overflow` is non-zero and
 * every netns is suspect.
 */
#define TCPW_LOST_NETNS_MAX	64

struct tcpw_lost_netns {
	__u32 nr;
	__u32 overflow;
	__u32 netns[TCPW_LOST_NETNS_MAX];
};

#define TCPW_IOC_LOST_NETNS	_IOR(TCPW_IOC_MAGIC, 5, struct tcpw_lost_netns)

#endif /* _UAPI_TCPWATCH_H */
