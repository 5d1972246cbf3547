// SPDX-License-Identifier: GPL-2.0
/*
 * Socket owners, as ss -p finds them: every /proc/PID/fd/N link that
 * reads "socket:[inode]". Processes come and go during the walk, so
 * ENOENT and ESRCH are the normal case, not errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/owner.h"

static int parse_uint(const char *s, long max)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v > max)
		return -1;
	return (int)v;
}

int owner_comm(pid_t pid, char comm[16])
{
	char path[32], buf[32];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* TASK_COMM_LEN is 16; newer kernels may print more */
	snprintf(comm, 16, "%.15s", buf);
	return 0;
}

/* "socket:[12345]" -> 12345; 0 when the link is something else */
static __u32 socket_inode(const char *link)
{
	static const char pfx[] = "socket:[";
	unsigned long long v = 0;
	const char *p;

	if (strncmp(link, pfx, sizeof(pfx) - 1))
		return 0;
	for (p = link + sizeof(pfx) - 1; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > 0xffffffffull)
			return 0;
	}
	if (p[0] != ']' || p[1])
		return 0;
	return (__u32)v;
}

static int scan_pid(int proc_fd, int pid, owner_want_cb want,
		    owner_found_cb found, void *ctx)
{
	char path[32], comm[16];
	bool have_comm = false;
	struct dirent *de;
	int dfd, count = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%d/fd", pid);
	dfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;	/* exited, or not ours to see */
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		char link[64];
		ssize_t n;
		__u32 ino;
		int fd;

		fd = parse_uint(de->d_name, INT_MAX);
		if (fd < 0)
			continue;
		n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue;	/* closed meanwhile */
		link[n] = '\0';
		ino = socket_inode(link);
		if (!ino || !want(ctx, ino))
			continue;
		if (!have_comm) {
			/* gone already: then it no longer owns anything */
			if (owner_comm(pid, comm))
				break;
			have_comm = true;
		}
		found(ctx, ino, pid, fd, comm);
		count++;
	}
	closedir(d);
	return count;
}

int owner_scan_pid(pid_t pid, owner_want_cb want, owner_found_cb found,
		   void *ctx)
{
	int proc_fd, count;

	proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return -errno;
	count = scan_pid(proc_fd, pid, want, found, ctx);
	close(proc_fd);
	return count;
}

int owner_scan(owner_want_cb want, owner_found_cb found, void *ctx)
{
	struct dirent *de;
	int proc_fd, count = 0;
	DIR *d;

	if (!want || !found)
		return -EINVAL;
	proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return -errno;
	d = fdopendir(proc_fd);
	if (!d) {
		int err = -errno;

		close(proc_fd);
		return err;
	}
	/* /proc lists thread group leaders only: pid is the TGID */
	while ((de = readdir(d))) {
		int pid = parse_uint(de->d_name, INT_MAX);

		if (pid > 0)
			count += scan_pid(proc_fd, pid, want, found, ctx);
	}
	closedir(d);
	return count;
}
