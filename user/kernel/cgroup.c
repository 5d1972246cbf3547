// SPDX-License-Identifier: GPL-2.0
/* The cgroup v2 hierarchy: mount, ids and paths (kernel/cgroup.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/cgroup.h"

#define FILEID_KERNFS	0xfe	/* include/linux/exportfs.h: a kernfs id */

int cg_find_mount(char *out, size_t n)
{
	char dev[256], dir[PATH_MAX], type[64];
	int found = -ENOENT;
	FILE *f = fopen("/proc/mounts", "re");

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (strcmp(type, "cgroup2"))
			continue;
		if (strlen(dir) < n) {
			strcpy(out, dir);
			found = 0;
		}
		break;
	}
	fclose(f);
	return found;
}

int cg_path_id(const char *mnt, const char *rel, __u64 *id, __u32 *level)
{
	char p[PATH_MAX];
	struct stat st;
	__u32 lv = 0;

	if (snprintf(p, sizeof(p), "%s/%s", mnt, rel) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	if (stat(p, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	for (const char *c = rel; *c;) {
		size_t len;

		c += strspn(c, "/");
		len = strcspn(c, "/");
		if (!len)
			break;
		if (!(len == 1 && c[0] == '.'))
			lv++;
		c += len;
	}
	*id = st.st_ino;
	*level = lv;
	return 0;
}

/* p holds the path of an open directory at depth len; recurse below. */
static int walk_dir(char *p, size_t len, size_t root_len, cg_walk_cb cb,
		    void *ctx, int depth)
{
	struct dirent *de;
	struct stat st;
	int err = 0;
	DIR *d;

	if (stat(p, &st))
		return errno == ENOENT ? 0 : -errno;	/* removed meanwhile */
	err = cb(ctx, st.st_ino, len > root_len ? p + root_len : "/");
	if (err || depth > 64)
		return err;
	d = opendir(p);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (len + 1 + n >= PATH_MAX)
			continue;
		p[len] = '/';
		memcpy(p + len + 1, de->d_name, n + 1);
		err = walk_dir(p, len + 1 + n, root_len, cb, ctx, depth + 1);
		p[len] = '\0';
	}
	closedir(d);
	return err;
}

int cg_walk(const char *mnt, cg_walk_cb cb, void *ctx)
{
	char p[PATH_MAX];
	size_t len = strlen(mnt);

	while (len > 1 && mnt[len - 1] == '/')
		len--;
	if (len >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, mnt, len);
	p[len] = '\0';
	return walk_dir(p, len, len, cb, ctx, 0);
}

int cg_id_path(int mnt_fd, const char *mnt, __u64 id, char *out, size_t n)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh = { .handle_bytes = sizeof(__u64),
			.handle_type = FILEID_KERNFS } };
	char link[64], p[PATH_MAX];
	size_t mlen = strlen(mnt);
	ssize_t len;
	int fd;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mnt_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, p, sizeof(p) - 1);
	close(fd);
	if (len < 0)
		return -errno;
	p[len] = '\0';
	while (mlen > 1 && mnt[mlen - 1] == '/')
		mlen--;
	/* A cgroup removed meanwhile reads as "PATH (deleted)". */
	if (strncmp(p, mnt, mlen) || (p[mlen] && p[mlen] != '/') ||
	    strstr(p + mlen, " (deleted)"))
		return -ESTALE;
	if (snprintf(out, n, "%s", p[mlen] ? p + mlen : "/") >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}
