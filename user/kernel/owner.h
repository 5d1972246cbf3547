/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who holds a socket, found the way ss -p does it: a socket inode from
 * sock_diag matched against the /proc/PID/fd/N -> "socket:[inode]"
 * links. Costly on a busy host, so it is done lazily and in batches.
 */
#ifndef TCPW_OWNER_H
#define TCPW_OWNER_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>

/* Called once per wanted inode that was found. */
typedef void (*owner_found_cb)(void *ctx, __u32 inode, pid_t pid, int fd,
			       const char *comm);
/* Return true for the inodes the scan should report. */
typedef bool (*owner_want_cb)(void *ctx, __u32 inode);

/* Walk /proc; returns the number found or -errno. */
int owner_scan(owner_want_cb want, owner_found_cb found, void *ctx);
/* The same for one process only. */
int owner_scan_pid(pid_t pid, owner_want_cb want, owner_found_cb found,
		   void *ctx);
/* Read /proc/PID/comm; returns 0 or -errno. */
int owner_comm(pid_t pid, char comm[16]);

#endif
