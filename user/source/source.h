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
	__u32 sample_ms;	/* tcp_probe sample interval; 0 = off */
	__u32 netns;		/* only this netns (inode); 0 = all */
	__u16 ports[SOURCE_MAX_PORTS];	/* only these local/remote ports */
	int nr_ports;		/* 0 = all ports */
	__u32 wakeup_bytes;	/* wake the reader at this much pending data;
				 * below it the daemon's tick drains the ring */
	bool verbose;		/* libbpf debug output */
};

/* Called for each record; a negative return stops the drain. */
typedef int (*source_cb)(void *ctx, const struct tcpw_event *ev);

struct source;

struct source_ops {
	const char *name;
	int (*open)(struct source **out, const struct source_opts *opts,
		    char *err, size_t errlen);
	int (*fd)(struct source *s);
	int (*consume)(struct source *s, source_cb cb, void *ctx);
	int (*stats)(struct source *s, struct tcpw_stats *st);
	void (*close)(struct source *s);
};

/* Every source struct starts with this. */
struct source {
	const struct source_ops *ops;
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
/* Drain every pending record without blocking; returns records or -errno. */
int source_consume(struct source *s, source_cb cb, void *ctx);
/* Drop counters by kind (and events by kind when the source counts them). */
int source_stats(struct source *s, struct tcpw_stats *st);
const char *source_name(const struct source *s);
void source_close(struct source *s);
int source_parse_kind(const char *s, enum source_kind *out);

#endif
