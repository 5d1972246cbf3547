// SPDX-License-Identifier: GPL-2.0
/*
 * Network namespace discovery, and one sock_diag socket per netns: a
 * netlink socket belongs to the netns it was created in, so we step into
 * each netns just long enough to create it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/nsfs.h>

#include "kernel/netns.h"
#include "kernel/sockdiag.h"

/*
 * setns() changes the calling thread only, so "our" netns is the
 * thread's, not the thread group leader's /proc/self.
 */
#define SELF_NS		"/proc/thread-self/ns/net"
#define RUN_NETNS	"/run/netns"

struct found_ns {
	__u32 inum;
	char path[64];		/* a file that pins or names the netns */
	char name[64];
};

struct found_set {
	struct found_ns *v;
	int n, cap;
};

/* fd of the netns we started in, to come back to after setns() */
static int home_fd = -1;

static int home_open(void)
{
	int fd;

	if (home_fd >= 0)
		return 0;
	fd = open(SELF_NS, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	home_fd = fd;
	return 0;
}

int netns_self(__u32 *inum)
{
	struct stat st;

	if (stat(SELF_NS, &st))
		return -errno;
	*inum = (__u32)st.st_ino;
	return 0;
}

/* inode of a netns file; -EINVAL when the file is not a netns */
static int ns_file_inum(const char *path, __u32 *inum)
{
	struct stat st;
	int fd, type, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		err = errno == ENOTTY ? -EINVAL : -errno;
	else if (type != CLONE_NEWNET)
		err = -EINVAL;
	else if (fstat(fd, &st))
		err = -errno;
	else
		*inum = (__u32)st.st_ino;
	close(fd);
	return err;
}

static bool valid_name(const char *s)
{
	return *s && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') &&
	       strlen(s) < sizeof(((struct netns_entry *)0)->name);
}

int netns_resolve(const char *spec, __u32 *inum)
{
	char path[PATH_MAX];
	const char *p;

	if (!spec || !*spec || !inum)
		return -EINVAL;
	if (!strcmp(spec, "self"))
		return netns_self(inum);
	for (p = spec; *p >= '0' && *p <= '9'; p++)
		;
	if (!*p) {
		unsigned long long v;

		errno = 0;
		v = strtoull(spec, NULL, 10);
		/* no file to check it against: taken on trust */
		if (errno || v == 0 || v > 0xffffffffull)
			return -EINVAL;
		*inum = (__u32)v;
		return 0;
	}
	if (spec[0] == '/')
		return ns_file_inum(spec, inum);
	if (!valid_name(spec))
		return -EINVAL;
	snprintf(path, sizeof(path), RUN_NETNS "/%s", spec);
	return ns_file_inum(path, inum);
}

static struct found_ns *found_get(struct found_set *fs, __u32 inum)
{
	/* Processes of one netns tend to be adjacent: look back first. */
	for (int i = fs->n - 1; i >= 0; i--)
		if (fs->v[i].inum == inum)
			return &fs->v[i];
	return NULL;
}

static int found_add(struct found_set *fs, __u32 inum, const char *path,
		     const char *name)
{
	struct found_ns *f;

	if (found_get(fs, inum))
		return 0;
	if (fs->n == fs->cap) {
		int cap = fs->cap ? fs->cap * 2 : 16;
		struct found_ns *v = realloc(fs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		fs->v = v;
		fs->cap = cap;
	}
	f = &fs->v[fs->n++];
	f->inum = inum;
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->name, sizeof(f->name), "%s", name);
	return 0;
}

/* Named namespaces: bind mounts of nsfs files under /run/netns. */
static int discover_run(struct found_set *fs, dev_t nsfs_dev)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir(RUN_NETNS);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (de = readdir(d))) {
		char path[sizeof(RUN_NETNS) + 256 + 1];
		struct stat st;

		if (!valid_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), RUN_NETNS "/%s", de->d_name);
		/* a leftover file whose mount is gone is not on nsfs */
		if (stat(path, &st) || st.st_dev != nsfs_dev)
			continue;
		err = found_add(fs, (__u32)st.st_ino, path, de->d_name);
	}
	closedir(d);
	return err;
}

/* Every netns some process is in; readlink does not open anything. */
static int discover_proc(struct found_set *fs)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		char path[64], link[64], name[32];
		unsigned long long inum;
		char *end;
		long pid;
		ssize_t n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;	/* exited, or a kernel thread */
		link[n] = '\0';
		if (sscanf(link, "net:[%llu]", &inum) != 1)
			continue;
		snprintf(name, sizeof(name), "pid:%ld", pid);
		err = found_add(fs, (__u32)inum, path, name);
	}
	closedir(d);
	return err;
}

#define RANGE_PATH	"/proc/sys/net/ipv4/ip_local_port_range"
/* the opening thread's netns: the worker thread did setns(), not the
 * thread group leader that /proc/self/net would follow */
#define NETSTAT_PATH	"/proc/thread-self/net/netstat"
#define TW_REUSE_PATH	"/proc/sys/net/ipv4/tcp_tw_reuse"

/* The per-netns files, opened while inside the netns. */
static void open_files(struct netns_entry *e)
{
	__u64 v;

	e->range_fd = open(RANGE_PATH, O_RDONLY | O_CLOEXEC);
	e->netstat_fd = open(NETSTAT_PATH, O_RDONLY | O_CLOEXEC);
	e->tw_reuse_fd = open(TW_REUSE_PATH, O_RDONLY | O_CLOEXEC);
	e->overflows0 = 0;
	if (!netns_listen_overflows(e, &v))
		e->overflows0 = v;
}

/*
 * Create a sock_diag socket inside the netns at path (inode inum), and
 * open the netns's files in e.
 */
static int diag_open_in(const char *path, __u32 inum, __u32 self,
			struct netns_entry *e)
{
	struct stat st;
	int fd, diag, err;

	if (inum == self) {
		open_files(e);
		return sd_open();	/* ns_fd -1: no setns() needed */
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a pid may have been reused since discovery */
	if (fstat(fd, &st) || (__u32)st.st_ino != inum) {
		close(fd);
		return -ESRCH;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		close(fd);
		return err;
	}
	e->ns_fd = fd;		/* for netns_enter() */
	diag = sd_open();
	open_files(e);
	if (setns(home_fd, CLONE_NEWNET)) {
		/* stranded in a foreign netns: nothing later can be right */
		err = -errno;
		if (diag >= 0)
			close(diag);
		return err;
	}
	return diag;
}

static void close_files(struct netns_entry *e)
{
	if (e->ns_fd >= 0)
		close(e->ns_fd);
	if (e->diag_fd >= 0)
		close(e->diag_fd);
	if (e->range_fd >= 0)
		close(e->range_fd);
	if (e->netstat_fd >= 0)
		close(e->netstat_fd);
	if (e->tw_reuse_fd >= 0)
		close(e->tw_reuse_fd);
}

static ssize_t read_all(int fd, char *buf, size_t n)
{
	ssize_t r;

	if (fd < 0)
		return -ENOENT;
	do {
		r = pread(fd, buf, n - 1, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	buf[r] = 0;
	return r;
}

int netns_port_range(struct netns_entry *e, __u32 *lo, __u32 *hi)
{
	unsigned int a, b;
	char buf[64];
	ssize_t r = read_all(e->range_fd, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	if (sscanf(buf, "%u %u", &a, &b) != 2 || !a || a > b || b > 65535)
		return -EINVAL;
	*lo = a;
	*hi = b;
	return 0;
}

int netns_tw_reuse(struct netns_entry *e, __u32 *v)
{
	char buf[16];
	ssize_t r = read_all(e->tw_reuse_fd, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	if (sscanf(buf, "%u", v) != 1)
		return -EINVAL;
	return 0;
}

/*
 * /proc/net/netstat is pairs of lines, names then values:
 *   TcpExt: SyncookiesSent ... ListenOverflows ...
 *   TcpExt: 0 ... 12 ...
 */
int netns_listen_overflows(struct netns_entry *e, __u64 *v)
{
	static char buf[16384];
	char *names, *vals, *sn, *sv, *n, *x;
	ssize_t r = read_all(e->netstat_fd, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	names = strstr(buf, "TcpExt:");
	if (!names)
		return -ENOENT;
	vals = strstr(names + 7, "TcpExt:");
	if (!vals)
		return -ENOENT;
	*strchrnul(names, '\n') = 0;
	*strchrnul(vals, '\n') = 0;
	n = strtok_r(names + 7, " ", &sn);
	x = strtok_r(vals + 7, " ", &sv);
	for (; n && x; n = strtok_r(NULL, " ", &sn),
	     x = strtok_r(NULL, " ", &sv)) {
		if (!strcmp(n, "ListenOverflows")) {
			*v = strtoull(x, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

static void entry_drop(struct netns_set *set, int i)
{
	close_files(&set->v[i]);
	memmove(&set->v[i], &set->v[i + 1],
		(set->n - i - 1) * sizeof(set->v[0]));
	set->n--;
}

int netns_refresh(struct netns_set *set, __u32 only)
{
	struct found_set fs = { 0 };
	struct stat st;
	__u32 self;
	int err;

	err = home_open();
	if (err)
		return err;
	if (fstat(home_fd, &st))
		return -errno;
	self = (__u32)st.st_ino;

	/* /run/netns first so named namespaces keep their names */
	err = found_add(&fs, self, SELF_NS, "self");
	if (!err)
		err = discover_run(&fs, st.st_dev);
	if (!err)
		err = discover_proc(&fs);
	if (err)
		goto out;

	/* Drop namespaces that are gone, or not wanted. */
	for (int i = set->n - 1; i >= 0; i--) {
		__u32 inum = set->v[i].inum;

		if (!found_get(&fs, inum) || (only && inum != only))
			entry_drop(set, i);
	}

	for (int i = 0; i < fs.n; i++) {
		struct found_ns *f = &fs.v[i];
		struct netns_entry *e;
		bool have = false;
		int fd;

		if (only && f->inum != only)
			continue;
		for (int j = 0; j < set->n && !have; j++)
			have = set->v[j].inum == f->inum;
		if (have)
			continue;
		if (set->n == set->cap) {
			int cap = set->cap ? set->cap * 2 : 8;
			struct netns_entry *v;

			v = realloc(set->v, cap * sizeof(*v));
			if (!v) {
				err = -ENOMEM;
				goto out;
			}
			set->v = v;
			set->cap = cap;
		}
		e = &set->v[set->n];
		memset(e, 0, sizeof(*e));
		e->diag_fd = e->range_fd = e->netstat_fd = -1;
		e->tw_reuse_fd = e->ns_fd = -1;
		fd = diag_open_in(f->path, f->inum, self, e);
		if (fd < 0)
			close_files(e);
		if (fd == -ESRCH || fd == -ENOENT)
			continue;	/* it went away meanwhile */
		if (fd < 0) {
			err = fd;
			goto out;
		}
		set->n++;
		e->inum = f->inum;
		e->diag_fd = fd;
		snprintf(e->name, sizeof(e->name), "%s", f->name);
	}
	err = set->n;
	if (only && !set->n)
		err = -ENOENT;
out:
	free(fs.v);
	return err;
}

int netns_enter(const struct netns_entry *e)
{
	if (e->ns_fd < 0)
		return 0;
	return setns(e->ns_fd, CLONE_NEWNET) ? -errno : 0;
}

int netns_leave(const struct netns_entry *e)
{
	if (e->ns_fd < 0)
		return 0;
	return setns(home_fd, CLONE_NEWNET) ? -errno : 0;
}

void netns_free(struct netns_set *set)
{
	for (int i = 0; i < set->n; i++)
		close_files(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}
