/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network namespaces: events carry net->ns.inum; sock_diag only sees
 * the netns its socket lives in. To dump every netns the daemon finds
 * them (/run/netns/NAME, /proc/PID/ns/net) and opens a diag socket in each.
 */
#ifndef TCPW_NETNS_H
#define TCPW_NETNS_H

#include <linux/types.h>

struct netns_entry {
	__u32 inum;		/* the id events carry */
	int diag_fd;		/* sock_diag socket living in that netns */
	/* Files opened inside the netns: /proc/sys/net and /proc/net
	 * show the opener's netns for as long as they stay open. */
	int range_fd;		/* net.ipv4.ip_local_port_range */
	int netstat_fd;		/* /proc/net/netstat (TcpExt) */
	int tw_reuse_fd;	/* net.ipv4.tcp_tw_reuse */
	int ns_fd;		/* the netns itself; -1: the caller's own */
	__u64 overflows0;	/* TcpExtListenOverflows when first seen */
	char name[64];		/* /run/netns name, or "pid:N" */
};

struct netns_set {
	struct netns_entry *v;
	int n, cap;
};

/* inode of the caller's netns; -errno on failure */
int netns_self(__u32 *inum);
/* inode of a netns given as a /run/netns name, a path or a number */
int netns_resolve(const char *spec, __u32 *inum);
/*
 * Find every netns (or only `only` when non-zero) and open a sock_diag
 * socket in each one not yet in the set. Entries already present are
 * kept. Returns the number of entries or -errno.
 */
int netns_refresh(struct netns_set *set, __u32 only);
void netns_free(struct netns_set *set);
/*
 * Move the calling thread into e's netns, and back home (the netns it
 * started in). Something that takes the caller's netns (an iter/tcp
 * iterator, a socket) made in between belongs to e's.
 */
int netns_enter(const struct netns_entry *e);
int netns_leave(const struct netns_entry *e);
/* The netns's ephemeral port range; -errno if unknown. */
int netns_port_range(struct netns_entry *e, __u32 *lo, __u32 *hi);
/* Its net.ipv4.tcp_tw_reuse (0, 1, 2: loopback only); -errno. */
int netns_tw_reuse(struct netns_entry *e, __u32 *v);
/* Its TcpExtListenOverflows counter; -errno if unknown. */
int netns_listen_overflows(struct netns_entry *e, __u64 *v);

#endif
