/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types the BPF programs touch, kept by hand instead of a
 * generated vmlinux.h, so the build never depends on any kernel's BTF.
 *
 * Every struct here is compiled with preserve_access_index: clang records
 * each field access as a CO-RE relocation and libbpf rewrites the offset
 * from the running kernel's BTF at load time. So these layouts are not
 * the kernel's (offsets, padding and order do not matter, and anonymous
 * unions are flattened); only the fields named here need to exist, with
 * these names, in every kernel we load on (6.1 and newer).
 *
 * The UAPI values at the end are stable ABI, copied here because
 * <linux/bpf.h> pulls in <asm/types.h>, which -target bpf cannot find on
 * multiarch distributions.
 */
#ifndef TCPW_KERNEL_TYPES_H
#define TCPW_KERNEL_TYPES_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef signed short __s16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#pragma clang attribute push(__attribute__((preserve_access_index)), \
			     apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
	__s64 counter;
} atomic64_t;

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
};

/* Head of sock, request_sock and inet_timewait_sock alike. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;		/* network order */
	__u16 skc_num;			/* host order */
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	atomic64_t skc_cookie;		/* 0 until first asked for */
	struct sock *skc_listener;	/* request socks (rsk_listener); in a
					 * union with skc_flags */
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct kernfs_node {
	__u64 id;			/* the cgroup id on cgroup2 */
};

/* ancestors[] since 6.1; the older ancestor_ids[] in core_fixes.bpf.h */
struct cgroup {
	struct kernfs_node *kn;
	int level;			/* the root is 0 */
	struct cgroup *ancestors[];	/* all ancestors including self */
};

/* CONFIG_SOCK_CGROUP_DATA; before 5.15 see core_fixes.bpf.h */
struct sock_cgroup_data {
	struct cgroup *cgroup;		/* v2: the creator's cgroup */
};

struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
	int sk_rcvbuf;
	int sk_sndbuf;
	int sk_wmem_queued;
	__u16 sk_protocol;		/* a bitfield before 5.6 */
	__u16 sk_type;			/* SOCK_*; a bitfield before 5.6 */
};

struct inet_sock {
	struct sock sk;
	__be16 inet_sport;		/* kept after unhash, unlike skc_num */
};

struct inet_connection_sock {
	struct inet_sock icsk_inet;
};

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 snd_cwnd;
	__u32 srtt_us;			/* smoothed RTT << 3 */
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 total_retrans;
	__u32 data_segs_out;
	__u64 bytes_acked;
	__u64 bytes_received;
};

struct request_sock {
	struct sock_common __req_common;
};

struct net_device {
	possible_net_t nd_net;
};

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;		/* owner, or the early-demuxed socket */
	unsigned char *head;
	__be16 protocol;		/* ETH_P_*, network order */
	__u16 transport_header;		/* offsets from head */
	__u16 network_header;
};

/* The context of an iter/tcp program. */
struct bpf_iter_meta {
	void *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
};

#pragma clang attribute pop

/*
 * Only the names: their values differ between kernels (SKB_CONSUMED came
 * in between), so CO-RE takes each from the running kernel's BTF.
 */
enum skb_drop_reason {
	SKB_DROP_REASON_NOT_SPECIFIED = 1,
};

/* include/uapi/linux/bpf.h */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_SK_STORAGE = 24,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_F_NO_PREALLOC = (1U << 0),
	BPF_F_NO_COMMON_LRU = (1U << 1),
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};

enum {
	BPF_SK_STORAGE_GET_F_CREATE = (1ULL << 0),
};

enum {
	BPF_RB_NO_WAKEUP = (1ULL << 0),
	BPF_RB_FORCE_WAKEUP = (1ULL << 1),
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

/* include/linux/socket.h, include/uapi/linux/in.h */
#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define SOCK_STREAM	1
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD

#endif /* TCPW_KERNEL_TYPES_H */
