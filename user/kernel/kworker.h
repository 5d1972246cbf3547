/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel worker: one thread that does every slow question to the
 * kernel (sock_diag dumps, namespace discovery, /proc scans, the sample
 * iterator in each netns) so that the
 * loop draining the ring never waits on one. A dump walks the kernel's
 * whole established hash once per netns (~9 ms on a busy host), so a
 * loop that dumped 100 namespaces lost most of its events meanwhile.
 *
 * The loop submits jobs and gets them back, filled with plain results,
 * through an eventfd it polls. The worker never sees the table: it owns
 * its netns set (the sock_diag sockets live in their namespaces) and
 * returns copies. Jobs run in submission order.
 */
#ifndef TCPW_KWORKER_H
#define TCPW_KWORKER_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>

#include "kernel/sockdiag.h"

enum kw_kind {
	KW_NETNS = 1,	/* discover namespaces, read their facts */
	KW_DUMP,	/* sock_diag dump of one netns */
	KW_OWNERS,	/* /proc scan: inode -> pid, fd, comm */
	KW_EACH_NETNS,	/* call fn inside each netns (or only netns) */
};

/* A KW_EACH_NETNS function: adds what it did to out[KW_OUT]. */
#define KW_OUT	4
typedef int (*kw_netns_fn)(void *arg, __u64 *out);

/* What the loop keeps about a netns: plain values, no fds. */
struct kw_ns {
	__u32 inum;
	__u32 lo, hi;		/* ephemeral range; hi 0: unknown */
	__u32 tw_reuse;
	__u64 overflows;	/* TcpExtListenOverflows since first seen */
	char name[64];
};

struct kw_owner {
	__u32 inode;
	pid_t pid;
	int fd;
	char comm[16];
};

struct kw_job {
	struct kw_job *next;
	enum kw_kind kind;
	int tag;		/* the submitter's: what the job is for */
	void *owner;		/* the submitter's */
	/* in */
	__u32 netns;		/* KW_DUMP: which; KW_NETNS: only this (0: all) */
	__u32 states;		/* KW_DUMP: state bits */
	__u32 *inodes;		/* KW_OWNERS: wanted, sorted (owned) */
	__u32 ninodes;
	pid_t *pids;		/* KW_OWNERS: scan these first (owned) */
	__u32 npids;
	bool all_procs;		/* KW_OWNERS: then every process for the rest */
	kw_netns_fn fn;		/* KW_EACH_NETNS, with its arg */
	void *arg;
	__u32 *nets;		/* KW_EACH_NETNS: only these, sorted (owned);
				 * NULL: every netns */
	__u32 nnets;
	/* out */
	int err;		/* KW_DUMP -ENOENT: the netns cannot be opened */
	__u64 start_ns, end_ns;	/* CLOCK_MONOTONIC around the work */
	struct sd_sock *socks;	/* KW_DUMP */
	__u32 nsocks, socks_cap;
	struct kw_ns facts;	/* KW_DUMP: the netns's, read with the dump */
	bool has_facts;
	struct kw_ns *ns;	/* KW_NETNS */
	__u32 nns;
	struct kw_owner *owners;	/* KW_OWNERS */
	__u32 nowners, owners_cap;
	__u64 out[KW_OUT];	/* KW_EACH_NETNS: fn's sums */
	__u32 calls;		/* KW_EACH_NETNS: namespaces fn ran in */
};

struct kworker;

/* Start the thread; *w is NULL on error (-errno). */
int kw_start(struct kworker **w);
/* Stop and join; pending and finished jobs are freed. */
void kw_stop(struct kworker *w);
/* Readable when a job is done (read it with kw_done). */
int kw_fd(const struct kworker *w);
struct kw_job *kw_job_new(enum kw_kind kind, int tag, void *owner);
void kw_job_free(struct kw_job *j);
/* Hand j to the worker; it comes back through kw_done. */
void kw_submit(struct kworker *w, struct kw_job *j);
/* A finished job, oldest first, or NULL. The caller frees it. */
struct kw_job *kw_done(struct kworker *w);
/* Jobs submitted and not yet taken back with kw_done. */
unsigned int kw_pending(const struct kworker *w);

/* Run one job on the caller's thread (the unit tests, and the worker). */
struct netns_set;
void kw_run(struct kw_job *j, struct netns_set *set);

#endif
