/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cgroup v2 hierarchy, as the kernel shows it: where it is mounted,
 * the id of a path (on cgroup2 a directory's inode number is the cgroup
 * id, the one sockets carry), and the path of an id. Paths here are
 * relative to the cgroup2 root: "/" or "/system.slice/nginx.service".
 */
#ifndef TCPW_KCGROUP_H
#define TCPW_KCGROUP_H

#include <stddef.h>
#include <linux/types.h>

/* The first cgroup2 mount in /proc/mounts; 0 or -ENOENT. */
int cg_find_mount(char *out, size_t n);

/* id and depth (the root is 0) of rel under mnt; 0 or -errno. */
int cg_path_id(const char *mnt, const char *rel, __u64 *id, __u32 *level);

/* Calls cb for every cgroup under mnt, the root first; -errno. */
typedef int (*cg_walk_cb)(void *ctx, __u64 id, const char *rel);
int cg_walk(const char *mnt, cg_walk_cb cb, void *ctx);

/*
 * The path of id, by open_by_handle_at() on mnt_fd (an O_PATH fd of the
 * mount; needs CAP_DAC_READ_SEARCH): 0, -ESTALE when no such cgroup is
 * left, or another -errno (-EPERM: not allowed; walk instead).
 */
int cg_id_path(int mnt_fd, const char *mnt, __u64 id, char *out, size_t n);

#endif
