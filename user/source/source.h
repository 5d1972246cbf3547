/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event sources: the BPF programs or the kernel module. Both deliver
 * struct tcpw_event records (include/uapi/tcpwatch.h) and both count
 * what they had to drop; the daemon does not care which one it has.
 */
#ifndef TCPW_SOURCE_H
#define TCPW_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "uapi/tcpwatch.h"

enum source_kind { SOURCE_AUTO, SOURCE_BPF, SOURCE_KMOD };

#define SOURCE_MAX_PORTS TCPW_MAX_PORTS	/* include/uapi/tcpwatch.h */

struct source_opts {
	__u32 ring_bytes;	/* ring size in bytes, power of two */
	__u32 sample_ms;	/* window/buffer sample interval; 0 = off */
	__u32 netns;		/* only this netns (inode); 0 = all */
	__u16 ports[SOURCE_MAX_PORTS];	/* only these local/remote ports */
	int nr_ports;		/* 0 = all ports */
	__u64 cgroup;		/* only this cgroup (v2 id) and below; 0 = all */
	__u32 cgroup_level;	/* its depth (the root is 0) */
	const char *cgroup_path;	/* the same, under the cgroup2 mount */
	__u32 wakeup_bytes;	/* wake the reader at this much pending data;
				 * below it the daemon's tick drains the ring */
	bool verbose;		/* libbpf debug output */
};

/*
 * Records are handed over in batches of up to SOURCE_BATCH, in ring
 * order, so that the daemon can look ahead (prefetch its table) while it
 * applies them one by one. They stay where the source read them (the
 * BPF ring, the module's read buffer), valid until cb returns.
 */
#define SOURCE_BATCH	128

/* Called with n records; a negative return stops the drain (the batch
 * counts as handed over). */
typedef int (*source_cb)(void *ctx, const struct tcpw_event *const *ev,
			 size_t n);

struct source;

struct source_ops {
	const char *name;
	int (*open)(struct source **out, const struct source_opts *opts,
		    char *err, size_t errlen);
	int (*fd)(struct source *s);
	int (*consume)(struct source *s, source_cb cb, void *ctx);
	int (*stats)(struct source *s, struct tcpw_stats *st);
	/* Drops the DROP rate limit folded (include/uapi/tcpwatch.h). */
	__u64 (*drop_folded)(struct source *s);
	/* Optional: the namespaces lost events were of (TCPW_IOC_LOST_NETNS),
	 * taken out of the kernel's set. */
	int (*lost_netns)(struct source *s, struct tcpw_lost_netns *out);
	/* Optional: one sample pass over the caller's netns (see below). */
	int (*sample)(struct source *s, __u64 *out);
	void (*close)(struct source *s);
};

/* What a sample pass adds to out[] (source_sample). */
enum {
	SAMPLE_VISITED,		/* sockets the pass looked at */
	SAMPLE_FULL,		/* full sockets that passed the filters */
	SAMPLE_EMITTED,		/* SAMPLE records written (snapshot changed) */
};

/* Every source struct starts with this. */
struct source {
	const struct source_ops *ops;
	/* The running kernel's drop reason names, by value (reasons.c) */
	char **reasons;
	__u32 nr_reasons;
	/* The kernel side keeps only opts->cgroup's sockets: the daemon
	 * need not check each event's cgroup again. */
	bool cgroup_filtered;
	/* The last consume() stopped at its bound, not at an empty ring:
	 * records may remain, and no wakeup may come for them. */
	bool more;
};

extern const struct source_ops source_bpf_ops;
extern const struct source_ops source_kmod_ops;

/*
 * Open a source. SOURCE_AUTO tries BPF, then the module. On failure
 * returns -errno and leaves an actionable message in err.
 */
int source_open(struct source **out, enum source_kind kind,
		const struct source_opts *opts, char *err, size_t errlen);
/* A pollable fd: readable when records are pending. */
int source_fd(struct source *s);
/*
 * Drain pending records without blocking, up to a bound that keeps the
 * caller's loop responsive (s->more says it was reached); returns
 * records or -errno.
 */
int source_consume(struct source *s, source_cb cb, void *ctx);
/* Drop counters by kind (and events by kind when the source counts them). */
int source_stats(struct source *s, struct tcpw_stats *st);
const char *source_name(const struct source *s);
/*
 * The kernel's name of a drop reason ("NETFILTER_DROP"), NULL when the
 * kernel gave none (s may be NULL). Names are set at open: from the
 * kernel's BTF (enum skb_drop_reason) or the module (drop_reasons[]).
 */
const char *source_reason_name(const struct source *s, __u32 reason);
__u64 source_drop_folded(struct source *s);
/* The namespaces events were lost of since the last call; -ENOTTY: the
 * source cannot tell (an older module): every netns is suspect. */
int source_lost_netns(struct source *s, struct tcpw_lost_netns *out);
/* reasons.c: set s's names; name NULL leaves a hole. */
int source_set_reason(struct source *s, __u32 reason, const char *name);
void source_free_reasons(struct source *s);
int source_reasons_from_btf(struct source *s, const void *btf);
/*
 * The daemon runs the samples: BPF's iterator, once a sample interval,
 * on the kernel worker's thread, in each netns. (The module samples by
 * itself.) source_sample(s, out) is one pass over the calling thread's
 * netns; it may run on another thread than the one that drains the ring.
 */
bool source_samples(const struct source *s);
int source_sample(void *s, __u64 *out);
void source_close(struct source *s);
int source_parse_kind(const char *s, enum source_kind *out);

#endif
