// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel module event source: reads struct tcpw_event records from
 * /dev/tcpwatch (kmod/, Documentation/kmod.md).
 *
 * The ring size, the sample interval and the port and cgroup filters
 * are module parameters, fixed at insmod time: when the daemon's options
 * differ this source says so once and goes on with the module's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "source/source.h"

_Static_assert(sizeof(struct tcpw_event) == TCPW_EVENT_SIZE,
	       "struct tcpw_event changed size");

#define KMOD_DEV	"/dev/" TCPW_DEV_NAME
#define KMOD_PARAMS	"/sys/module/tcpwatch/parameters/"
#define NOT_LOADED	"kernel module not loaded: sudo insmod kmod/tcpwatch.ko (or use --source bpf)"
/* One read() takes up to this many records (256 KiB). */
#define BATCH		((256u << 10) / TCPW_EVENT_SIZE)
/* One consume() reads at most this many batches, then lets the loop run. */
#define MAX_BATCHES	64

struct kmod_source {
	struct source base;
	int fd;
	/* Records read but not yet handed over (a callback stopped us). */
	size_t off, len;
	struct tcpw_event buf[BATCH];
	const struct tcpw_event *batch[SOURCE_BATCH];
};

/* A module parameter as a string, or "" when it cannot be read. */
static void read_param(const char *name, char *val, size_t len)
{
	char path[128];
	FILE *f;

	val[0] = '\0';
	snprintf(path, sizeof(path), KMOD_PARAMS "%s", name);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(val, (int)len, f))
		val[0] = '\0';
	fclose(f);
	val[strcspn(val, "\n")] = '\0';
}

/*
 * The options the module fixed at load time. Note the ones that differ
 * from what the daemon was asked for; they are not errors.
 */
static bool note_params(const struct source_opts *o)
{
	char ring[32], sample[32], ports[128], want[128], cg[4096];
	const char *want_cg = o->cgroup_path ? o->cgroup_path : "";
	int i, n = o->nr_ports, at = 0;

	read_param("ring_bytes", ring, sizeof(ring));
	read_param("sample_ms", sample, sizeof(sample));
	read_param("ports", ports, sizeof(ports));
	read_param("cgroup", cg, sizeof(cg));
	if (!strcmp(cg, "(null)"))
		cg[0] = '\0';	/* charp: unset */
	want[0] = '\0';
	if (n > SOURCE_MAX_PORTS)
		n = SOURCE_MAX_PORTS;
	for (i = 0; i < n && at < (int)sizeof(want); i++)
		at += snprintf(want + at, sizeof(want) - at, "%s%u",
			       i ? "," : "", o->ports[i]);

	if (ring[0] && o->ring_bytes && strtoul(ring, NULL, 10) != o->ring_bytes)
		fprintf(stderr,
			"tcpwatch: note: the module's ring is %s bytes, not %u (ring_bytes= at insmod)\n",
			ring, o->ring_bytes);
	if (sample[0] && strtoul(sample, NULL, 10) != o->sample_ms)
		fprintf(stderr,
			"tcpwatch: note: the module samples every %s ms, not %u (sample_ms= at insmod)\n",
			sample, o->sample_ms);
	if (strcmp(ports, want))
		fprintf(stderr,
			"tcpwatch: note: the module's port filter is '%s', not '%s' (ports= at insmod); the daemon filters the rest\n",
			ports, want);
	if (strcmp(cg, want_cg))
		fprintf(stderr,
			"tcpwatch: note: the module's cgroup filter is '%s', not '%s' (cgroup= at insmod); the daemon filters the rest\n",
			cg, want_cg);
	return want_cg[0] && !strcmp(cg, want_cg);
}

/* The kernel's own names, which the module reads from the kernel. */
static int kmod_reasons(struct kmod_source *s)
{
	struct tcpw_drop_reason r;
	int ret;

	for (r.reason = 0;; r.reason++) {
		r._reserved = 0;
		if (ioctl(s->fd, TCPW_IOC_DROP_REASON, &r))
			return errno == ENOENT ? 0 : -errno;
		r.name[sizeof(r.name) - 1] = '\0';
		ret = source_set_reason(&s->base, r.reason, r.name);
		if (ret)
			return ret == -ERANGE ? 0 : ret;
	}
}

static __u64 kmod_drop_folded(struct source *src)
{
	struct kmod_source *s = (struct kmod_source *)src;
	__u64 n = 0;

	return ioctl(s->fd, TCPW_IOC_DROP_FOLDED, &n) ? 0 : n;
}

static int kmod_lost_netns(struct source *src, struct tcpw_lost_netns *out)
{
	struct kmod_source *s = (struct kmod_source *)src;

	return ioctl(s->fd, TCPW_IOC_LOST_NETNS, out) ? -errno : 0;
}

static void kmod_close(struct source *src)
{
	struct kmod_source *s = (struct kmod_source *)src;

	if (!s)
		return;
	source_free_reasons(&s->base);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static int kmod_open(struct source **out, const struct source_opts *opts,
		     char *err, size_t errlen)
{
	struct kmod_source *s;
	__u32 version = 0;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &source_kmod_ops;
	s->fd = open(KMOD_DEV, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
			snprintf(err, errlen, NOT_LOADED);
		else if (ret == -EACCES || ret == -EPERM)
			snprintf(err, errlen,
				 "cannot open " KMOD_DEV ": %s: run as root (or use --source bpf)",
				 strerror(-ret));
		else
			snprintf(err, errlen, "cannot open " KMOD_DEV ": %s",
				 strerror(-ret));
		goto cleanup;
	}
	if (ioctl(s->fd, TCPW_IOC_GET_VERSION, &version)) {
		ret = -errno;
		snprintf(err, errlen,
			 KMOD_DEV " does not answer TCPW_IOC_GET_VERSION (%s): is it the tcpwatch module?",
			 strerror(-ret));
		goto cleanup;
	}
	if (version != TCPW_ABI_VERSION) {
		snprintf(err, errlen,
			 "kernel module speaks ABI version %u, this tcpwatch needs %u: rebuild and reload it (make kmod; sudo rmmod tcpwatch; sudo insmod kmod/tcpwatch.ko)",
			 version, TCPW_ABI_VERSION);
		ret = -EPROTO;
		goto cleanup;
	}
	ret = kmod_reasons(s);
	if (ret) {
		snprintf(err, errlen,
			 "cannot read drop reason names from " KMOD_DEV ": %s",
			 strerror(-ret));
		goto cleanup;
	}
	s->base.cgroup_filtered = note_params(opts);
	*out = &s->base;
	return 0;

cleanup:
	kmod_close(&s->base);
	return ret;
}

static int kmod_fd(struct source *src)
{
	return ((struct kmod_source *)src)->fd;
}

/*
 * Hand over what is buffered, then read whole batches until the device
 * is empty (EAGAIN) or MAX_BATCHES were read (base.more). Records go to
 * cb SOURCE_BATCH at a time at most, one of another ABI version skipped.
 * Returns the number of records handed over, or -errno.
 */
static int kmod_consume(struct source *src, source_cb cb, void *ctx)
{
	struct kmod_source *s = (struct kmod_source *)src;
	int n = 0, batches = 0;
	ssize_t r;

	s->base.more = false;
	for (;;) {
		while (s->off < s->len) {
			size_t k = 0;

			for (; s->off < s->len && k < SOURCE_BATCH; s->off++)
				if (s->buf[s->off].version == TCPW_ABI_VERSION)
					s->batch[k++] = &s->buf[s->off];
			if (!k)
				continue;
			n += (int)k;
			if (cb(ctx, s->batch, k) < 0)
				return n;
		}
		if (batches++ == MAX_BATCHES) {
			s->base.more = true;
			return n;
		}
		s->off = s->len = 0;
		r = read(s->fd, s->buf, sizeof(s->buf));
		if (r < 0) {
			if (errno == EAGAIN)
				return n;
			if (errno == EINTR)
				continue;
			return n ? n : -errno;
		}
		if (r == 0 || r % TCPW_EVENT_SIZE)
			return n ? n : -EPROTO;
		s->len = (size_t)r / TCPW_EVENT_SIZE;
	}
}

static int kmod_stats(struct source *src, struct tcpw_stats *st)
{
	struct kmod_source *s = (struct kmod_source *)src;

	if (ioctl(s->fd, TCPW_IOC_GET_STATS, st))
		return -errno;
	return 0;
}

const struct source_ops source_kmod_ops = {
	.name = "kmod",
	.open = kmod_open,
	.fd = kmod_fd,
	.consume = kmod_consume,
	.stats = kmod_stats,
	.drop_folded = kmod_drop_folded,
	.lost_netns = kmod_lost_netns,
	.close = kmod_close,
};
