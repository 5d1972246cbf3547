// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF event source: loads bpf/tcpwatch.bpf.c through its libbpf
 * skeleton and drains its ring buffer.
 *
 * The ring is read here, not by libbpf's ring_buffer: libbpf (1.1) hands
 * over one record per callback and frees its space on return, so a
 * batch would have to be copied out. Read in place, a batch of records
 * goes to the daemon as it lies in the ring and their space goes back to
 * the programs once the batch is applied.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "source/source.h"
#include "tcpwatch.skel.h"

_Static_assert(sizeof(struct tcpw_event) == TCPW_EVENT_SIZE,
	       "struct tcpw_event changed size");
_Static_assert(sizeof(((struct tcpwatch_bpf__rodata *)0)->filter_ports) ==
	       SOURCE_MAX_PORTS * sizeof(__u16),
	       "BPF port filter size differs from SOURCE_MAX_PORTS");
_Static_assert(sizeof(((struct tcpwatch_bpf__bss *)0)->drops) ==
	       TCPW_EV_MAX * sizeof(__u64),
	       "BPF drop counters differ from TCPW_EV_MAX");

#define RING_DEFAULT	(8u << 20)
#define RING_MAX	(1u << 30)
/* A record's size in the ring: BPF_RINGBUF_HDR_SZ (8) + the record. */
#define RING_RECORD	(8 + TCPW_EVENT_SIZE)
#define WAKEUP_CHECK_MAX_SHIFT	5	/* every 32 records per CPU at most */
/*
 * The programs may produce as fast as the daemon consumes: one consume()
 * takes at most this many records (~4 ms of the daemon's time), then
 * returns with base.more set, so that the loop runs and comes back.
 */
#define CONSUME_MAX	(128 * SOURCE_BATCH)
#define VMLINUX_BTF	"/sys/kernel/btf/vmlinux"
#define TRY_KMOD	"; or try --source kmod"

struct bpf_source {
	struct source base;
	struct tcpwatch_bpf *skel;
	int ring_fd;
	__u32 ring_bytes;
	/* The ring mapped as the kernel lays it out: the consumer position
	 * (a page we write), then the producer position (a page) and the
	 * data, mapped twice in a row so that no record wraps. */
	__u64 *cons;
	const __u64 *prod;
	const __u8 *data;
	size_t page;
	__u64 lost_overflow;	/* lost_netns_overflow, as last taken */
	const struct tcpw_event *batch[SOURCE_BATCH];
};

/* Tracepoints the programs attach to, checked before loading. */
#define TP_NAME(name) #name,
static const char *const tracepoints[] = { TCPW_TRACEPOINTS(TP_NAME) };
#undef TP_NAME

static bool libbpf_verbose;
/* The last program libbpf complained about, to name it in our error. */
static char failed_prog[64];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	const char *p;
	va_list copy;
	char line[256];

	if (level == LIBBPF_WARN) {
		va_copy(copy, args);
		vsnprintf(line, sizeof(line), fmt, copy);
		va_end(copy);
		p = strstr(line, "prog '");
		if (p)
			sscanf(p, "prog '%63[^']'", failed_prog);
	}
	/* Our own error says what failed and what to do; libbpf's log
	 * (and its advice) is for -v. */
	if (!libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static __u32 ring_size(__u32 want)
{
	long page = sysconf(_SC_PAGESIZE);
	__u32 sz = page > 0 ? (__u32)page : 4096;

	if (!want)
		want = RING_DEFAULT;
	while (sz < want)
		sz <<= 1;
	return sz;
}

/* Name the first tracepoint this kernel lacks, or return NULL. */
static const char *missing_tracepoint(struct btf *vmlinux)
{
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		snprintf(name, sizeof(name), "btf_trace_%s", tracepoints[i]);
		if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) < 0)
			return tracepoints[i];
	}
	return NULL;
}

/* The first program the skeleton failed to attach. */
static const char *unattached_prog(const struct tcpwatch_bpf *skel)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	int i;

	for (i = 0; i < s->prog_cnt; i++)
		if (!*s->progs[i].link)
			return s->progs[i].name;
	return "?";
}

/*
 * The programs look at the backlog every 2^k records per CPU (the query
 * costs a helper call per record otherwise), so a wakeup can come up to
 * ncpus * 2^k records late. Keep that under an eighth of the ring.
 */
static __u32 wakeup_check_mask(__u32 ring)
{
	int cpus = libbpf_num_possible_cpus();
	__u64 late = (__u64)(cpus > 0 ? cpus : 1) * RING_RECORD;
	__u32 k = 0;

	while (k < WAKEUP_CHECK_MAX_SHIFT && (late << (k + 1)) <= ring / 8)
		k++;
	return (1u << k) - 1;
}

static void set_config(struct tcpwatch_bpf *skel, const struct source_opts *o,
		       __u32 ring)
{
	struct tcpwatch_bpf__rodata *ro = skel->rodata;
	__u64 wake = o->wakeup_bytes ? o->wakeup_bytes : ring / 4;
	int i, n = o->nr_ports;

	/* Past half the ring, a burst would fill it before anyone wakes. */
	if (wake > ring / 2)
		wake = ring / 2;
	ro->wakeup_bytes = wake;
	ro->wakeup_check_mask = wakeup_check_mask(ring);
	ro->drop_ring_bytes = ring / 2;
	ro->filter_netns = o->netns;
	if (n < 0)
		n = 0;
	if (n > SOURCE_MAX_PORTS)
		n = SOURCE_MAX_PORTS;
	for (i = 0; i < n; i++)
		ro->filter_ports[i] = o->ports[i];
	ro->nr_filter_ports = n;
	ro->filter_cgroup = o->cgroup;
	ro->filter_cgroup_level = o->cgroup_level;
}

static void bpf_close(struct source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	if (!s)
		return;
	source_free_reasons(&s->base);
	if (s->cons)
		munmap(s->cons, s->page);
	if (s->prod)
		munmap((void *)s->prod, s->page + 2 * (size_t)s->ring_bytes);
	tcpwatch_bpf__destroy(s->skel);
	free(s);
}

/* As libbpf's ring_buffer__add() maps it. */
static int map_ring(struct bpf_source *s)
{
	void *p;

	s->ring_fd = bpf_map__fd(s->skel->maps.events);
	s->page = (size_t)sysconf(_SC_PAGESIZE);
	p = mmap(NULL, s->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 s->ring_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->cons = p;
	p = mmap(NULL, s->page + 2 * (size_t)s->ring_bytes, PROT_READ,
		 MAP_SHARED, s->ring_fd, (off_t)s->page);
	if (p == MAP_FAILED)
		return -errno;
	s->prod = p;
	s->data = (const __u8 *)p + s->page;
	return 0;
}

static int bpf_open(struct source **out, const struct source_opts *opts,
		    char *err, size_t errlen)
{
	struct bpf_source *s = NULL;
	struct btf *vmlinux;
	const char *tp;
	int ret;

	libbpf_verbose = opts->verbose;
	libbpf_set_print(libbpf_print);

	if (access(VMLINUX_BTF, F_OK)) {
		snprintf(err, errlen,
			 "BPF not available: kernel lacks BTF (%s)%s",
			 VMLINUX_BTF, TRY_KMOD);
		return -EOPNOTSUPP;
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		ret = -errno;
		if (ret == -EACCES || ret == -EPERM)
			goto out_perm;
		snprintf(err, errlen, "cannot read kernel BTF (%s): %s%s",
			 VMLINUX_BTF, strerror(-ret), TRY_KMOD);
		return ret;
	}
	tp = missing_tracepoint(vmlinux);
	if (tp) {
		btf__free(vmlinux);
		snprintf(err, errlen,
			 "BPF not usable: kernel has no tracepoint %s%s", tp,
			 TRY_KMOD);
		return -ENOENT;
	}
	if (opts->ring_bytes > RING_MAX) {
		btf__free(vmlinux);
		snprintf(err, errlen, "ring size %u too large: at most %u bytes",
			 opts->ring_bytes, RING_MAX);
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		btf__free(vmlinux);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &source_bpf_ops;
	/* Names of the drop reasons: the kernel's (6.1 and later have it). */
	ret = source_reasons_from_btf(&s->base, vmlinux);
	btf__free(vmlinux);
	if (ret) {
		snprintf(err, errlen,
			 "kernel BTF has no enum skb_drop_reason (%s)%s",
			 strerror(-ret), TRY_KMOD);
		goto cleanup;
	}
	s->ring_bytes = ring_size(opts->ring_bytes);

	/*
	 * No setrlimit(RLIMIT_MEMLOCK): libbpf >= 1.0 raises it itself only
	 * on kernels without memcg accounting of BPF memory (< 5.11), and
	 * ignores a failure.
	 */
	s->skel = tcpwatch_bpf__open();
	if (!s->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open BPF object: %s%s",
			 strerror(-ret), TRY_KMOD);
		goto cleanup;
	}
	set_config(s->skel, opts, s->ring_bytes);
	/* --sample-ms 0: the daemon never asks for a sample pass */
	if (!opts->sample_ms)
		bpf_program__set_autoload(s->skel->progs.tcpw_sample, false);
	ret = bpf_map__set_max_entries(s->skel->maps.events, s->ring_bytes);
	if (ret) {
		snprintf(err, errlen, "cannot size the BPF ring to %u bytes: %s",
			 s->ring_bytes, strerror(-ret));
		goto cleanup;
	}

	failed_prog[0] = '\0';
	ret = tcpwatch_bpf__load(s->skel);
	if (ret) {
		if (ret == -EPERM || ret == -EACCES) {
			/* EACCES is also the verifier's refusal: name it. */
			if (ret == -EPERM || !failed_prog[0])
				goto out_perm;
		}
		snprintf(err, errlen,
			 "cannot load BPF program '%s': %s (errno %d; -v shows the verifier log)%s",
			 failed_prog[0] ? failed_prog : "?", strerror(-ret),
			 -ret, TRY_KMOD);
		goto cleanup;
	}
	ret = tcpwatch_bpf__attach(s->skel);
	if (ret) {
		snprintf(err, errlen,
			 "cannot attach BPF program '%s': %s (errno %d)%s",
			 unattached_prog(s->skel), strerror(-ret), -ret,
			 TRY_KMOD);
		goto cleanup;
	}
	ret = map_ring(s);
	if (ret) {
		snprintf(err, errlen, "cannot map the BPF ring buffer: %s",
			 strerror(-ret));
		goto cleanup;
	}
	s->base.cgroup_filtered = opts->cgroup;	/* tcpw_key's filter */
	*out = &s->base;
	return 0;

out_perm:
	snprintf(err, errlen,
		 "BPF not permitted: run as root (CAP_BPF + CAP_PERFMON)%s",
		 TRY_KMOD);
	ret = -EPERM;
cleanup:
	if (s)
		bpf_close(&s->base);
	return ret;
}

static int bpf_fd(struct source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	/* readable while the ring holds data, once the programs woke it */
	return s->ring_fd;
}

/* A record's length in the ring: header and data, 8-byte aligned. */
static __u64 ring_len(__u32 hdr)
{
	hdr &= ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
	return ((__u64)hdr + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
}

/*
 * Hand over the committed records, SOURCE_BATCH at a time, in ring
 * order, up to CONSUME_MAX; stop at the first record still being written
 * (its producer has not committed it). A record too short or of another
 * ABI version is skipped, as a discarded one.
 */
static int bpf_consume(struct source *src, source_cb cb, void *ctx)
{
	struct bpf_source *s = (struct bpf_source *)src;
	__u64 mask = s->ring_bytes - 1, cons = *s->cons, prod;
	int taken = 0, err = 0;
	bool busy = false;

	s->base.more = false;
	for (;;) {
		__u32 n = 0;

		prod = __atomic_load_n(s->prod, __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		while (cons < prod && n < SOURCE_BATCH) {
			const __u8 *rec = s->data + (cons & mask);
			__u32 len = __atomic_load_n((const __u32 *)rec,
						    __ATOMIC_ACQUIRE);
			const struct tcpw_event *ev;

			if (len & BPF_RINGBUF_BUSY_BIT) {
				busy = true;
				break;
			}
			cons += ring_len(len);
			ev = (const void *)(rec + BPF_RINGBUF_HDR_SZ);
			if (!(len & BPF_RINGBUF_DISCARD_BIT) &&
			    len >= TCPW_EVENT_SIZE &&
			    ev->version == TCPW_ABI_VERSION)
				s->batch[n++] = ev;
		}
		if (n) {
			err = cb(ctx, s->batch, n);
			taken += (int)n;
		}
		/* Applied: their space goes back to the programs. */
		__atomic_store_n(s->cons, cons, __ATOMIC_RELEASE);
		if (err < 0)
			return err;
		if (busy)
			break;
		if (taken >= CONSUME_MAX) {
			s->base.more = true;
			break;
		}
	}
	return taken;
}

/*
 * Drops only: the programs do not count what they produce (an atomic add
 * per record); produced = received (the daemon's count) + dropped.
 */
static int bpf_stats(struct source *src, struct tcpw_stats *st)
{
	struct bpf_source *s = (struct bpf_source *)src;
	const struct tcpwatch_bpf__bss *bss = s->skel->bss;
	int k;

	/* .bss is mmapped: these are live counters, read without tearing. */
	for (k = 0; k < TCPW_EV_MAX; k++) {
		st->drops[k] = __atomic_load_n(&bss->drops[k],
					       __ATOMIC_RELAXED);
		st->events[k] = 0;
	}
	st->ring_bytes = s->ring_bytes;
	{
		__u64 cons = __atomic_load_n(s->cons, __ATOMIC_ACQUIRE);
		__u64 prod = __atomic_load_n(s->prod, __ATOMIC_ACQUIRE);

		st->ring_used = prod - cons < s->ring_bytes ? prod - cons
							    : s->ring_bytes;
	}
	return 0;
}

static __u64 bpf_drop_folded(struct source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	return __atomic_load_n(&s->skel->bss->drop_folded, __ATOMIC_RELAXED);
}

/* The lost_netns map's keys, taken out (deleted) once read. */
static int bpf_lost_netns(struct source *src, struct tcpw_lost_netns *out)
{
	struct bpf_source *s = (struct bpf_source *)src;
	int fd = bpf_map__fd(s->skel->maps.lost_netns);
	__u64 ov = __atomic_load_n(&s->skel->bss->lost_netns_overflow,
				   __ATOMIC_RELAXED);
	__u32 key, *prev = NULL;

	memset(out, 0, sizeof(*out));
	out->overflow = ov != s->lost_overflow;
	s->lost_overflow = ov;
	/* Read all, then delete: a key noted again in between is healed
	 * by the dump that follows this call anyway. */
	while (out->nr < TCPW_LOST_NETNS_MAX &&
	       !bpf_map_get_next_key(fd, prev, &key)) {
		out->netns[out->nr++] = key;
		prev = &out->netns[out->nr - 1];
	}
	for (__u32 i = 0; i < out->nr; i++)
		bpf_map_delete_elem(fd, &out->netns[i]);
	return 0;
}

/*
 * One run of the sample iterator over the calling thread's netns: the
 * kernel shows every socket of it to tcpw_sample while we read.
 */
static int bpf_sample(struct source *src, __u64 *out)
{
	struct bpf_source *s = (struct bpf_source *)src;
	struct tcpwatch_bpf__bss *bss = s->skel->bss;
	__u64 v = bss->iter_visited, f = bss->iter_full;
	__u64 e = bss->iter_emitted;
	char buf[64];
	ssize_t r;
	int fd, err = 0;

	if (!s->skel->links.tcpw_sample)
		return -ENOENT;		/* not loaded: --sample-ms 0 */
	fd = bpf_iter_create(bpf_link__fd(s->skel->links.tcpw_sample));
	if (fd < 0)
		return -errno;
	/* The program prints nothing: each read() is one batch of sockets. */
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno != EINTR && errno != EAGAIN) {
			err = -errno;
			break;
		}
	}
	close(fd);
	out[SAMPLE_VISITED] += bss->iter_visited - v;
	out[SAMPLE_FULL] += bss->iter_full - f;
	out[SAMPLE_EMITTED] += bss->iter_emitted - e;
	return err;
}

const struct source_ops source_bpf_ops = {
	.name = "bpf",
	.open = bpf_open,
	.fd = bpf_fd,
	.consume = bpf_consume,
	.stats = bpf_stats,
	.drop_folded = bpf_drop_folded,
	.lost_netns = bpf_lost_netns,
	.sample = bpf_sample,
	.close = bpf_close,
};

