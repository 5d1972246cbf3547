/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sock_diag (NETLINK_SOCK_DIAG) dumps of TCP sockets, as ss(8) does:
 * the seed of the table at start-up and the ground truth reconcile
 * compares it against. One netlink socket serves one netns: it stays
 * in the netns it was created in.
 */
#ifndef TCPW_SOCKDIAG_H
#define TCPW_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct nlmsghdr;

struct sd_sock {
	__u64 cookie;		/* idiag_cookie: same as the BPF/kmod cookie */
	__u64 bytes_acked;	/* from tcp_info, when has_info */
	__u64 bytes_received;
	__u64 cgroup;		/* INET_DIAG_CGROUP_ID (5.7+, full sockets);
				 * 0: none */
	__u32 inode;		/* socket inode, 0 for timewait/request socks */
	__u32 uid;
	__u32 rqueue;		/* idiag_rqueue: unread bytes, or accept
				 * queue length for a listener */
	__u32 wqueue;		/* idiag_wqueue: unacked bytes, or backlog
				 * for a listener */
	__u32 expires_ms;	/* idiag_expires: timer, e.g. TIME_WAIT left */
	__u32 snd_wnd;		/* tcp_info (0 when the kernel lacks it) */
	__u32 rcv_wnd;
	__u32 snd_cwnd;
	__u32 srtt_us;
	__u32 total_retrans;
	__u32 data_segs_out;	/* 0 if the kernel lacks it (< 4.6) */
	__u32 rcvbuf;		/* skmeminfo, when has_mem */
	__u32 sndbuf;
	__u32 wmem_queued;
	__u16 family;		/* AF_INET / AF_INET6 */
	__u16 sport;		/* host order */
	__u16 dport;
	__u8 state;		/* enum tcpw_state */
	bool has_info;
	bool has_mem;
	bool has_wnd;		/* snd_wnd and rcv_wnd are known (6.2+) */
	__u8 saddr[16];		/* network order, IPv4 in the first 4 */
	__u8 daddr[16];
};

typedef int (*sd_cb)(void *ctx, const struct sd_sock *s);

/* A sock_diag socket in the caller's current netns; -errno on error. */
int sd_open(void);
/*
 * Dump TCP sockets whose state bit (1 << state) is in states, for
 * AF_INET then AF_INET6, calling cb for each. Returns the count or
 * -errno. A negative return from cb stops the dump with that value.
 */
int sd_dump(int fd, __u32 states, sd_cb cb, void *ctx);
/*
 * Parse one SOCK_DIAG_BY_FAMILY reply message. Pure: no I/O, so the
 * unit tests can feed it crafted messages. Returns 0 or -EINVAL for a
 * malformed message.
 */
int sd_parse(const struct nlmsghdr *nlh, struct sd_sock *out);

#define SD_ALL_STATES	0xffffffffu

#endif
