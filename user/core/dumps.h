/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loop's side of the kernel worker (kernel/kworker.h): what to ask
 * the kernel and when, and what to do with the answers. Nothing here
 * waits: jobs go to the worker, results come back through an eventfd
 * and are applied between drains of the ring.
 *
 *   reconcile rounds  one dump per netns that can have drifted, applied
 *                     per netns with that dump's start time; a round at
 *                     a time, loss-triggered rounds rate-limited
 *   port learning     SYN_SENT dumps of the namespaces that need them
 *   owners            /proc scans after a round
 *   the sweep's view  per-netns caches of LISTEN and of the other states
 *                     the rules ask for, refreshed only when a rule needs
 *                     newer data, a bounded number of dumps a tick; the
 *                     rules read the cache (one sweep late at most)
 *   netns facts       port range, tw_reuse, ListenOverflows, names
 */
#ifndef TCPW_CORE_DUMPS_H
#define TCPW_CORE_DUMPS_H

#include <stdbool.h>
#include <linux/types.h>

#include "kernel/kworker.h"
#include "kernel/sockdiag.h"

struct daemon;

/* How many sweep dumps may be started per tick. */
#define KQ_DUMPS_PER_TICK	8
/* A loss-triggered round starts no sooner than this after the last. */
#define KQ_LOSS_ROUND_GAP_NS	(10ULL * 1000000000ULL)
/* Namespaces a periodic round dumps beyond those that can have drifted. */
#define KQ_ROUND_ROBIN		4
/* Sockets of a round's dump the loop applies per pass. */
#define DUMP_SLICE		4096
/* Namespace discovery and facts, when nothing else asks for it. */
#define KQ_NETNS_PERIOD_NS	(1ULL * 1000000000ULL)

int dumps_init(struct daemon *d);
void dumps_free(struct daemon *d);
/* Start what is due: rounds, port learning, sweep refreshes. */
void dumps_tick(struct daemon *d, __u64 now);
/* Take back finished jobs and apply them. */
void dumps_poll(struct daemon *d);
/* Apply one slice of a round's dumps (after draining the ring); true
 * while more wait: the loop then does not sleep. */
bool dumps_apply(struct daemon *d);
bool dumps_applying(const struct daemon *d);
/* Ask for a reconcile round (reason "start" seeds). all: every netns. */
void dumps_request_round(struct daemon *d, const char *reason, bool all);
/* The ring lost events: every netns can have drifted. */
void dumps_lost(struct daemon *d);
/* A round is queued or running. */
bool dumps_round_busy(const struct daemon *d);
/* The /proc scan for owners a round ended with has not come back. */
bool dumps_owners_busy(const struct daemon *d);
/* The seed round failed (e.g. the -N netns is gone): -errno. */
int dumps_seed_error(const struct daemon *d);
/* Readable when the worker has finished a job. */
int dumps_fd(const struct daemon *d);
/* Something was removed from the table (by an event or expiry). */
void dumps_removed(struct daemon *d, __u64 cookie);

/*
 * The sweep's view of a netns, served from the cache. since: the rule
 * needs data from a dump begun at or after it (0: any); older data is
 * still served, and a refresh is scheduled. LISTEN dumps are refreshed
 * when the netns's ListenOverflows moved or a queue was seen full.
 * Returns the sockets served, or -EAGAIN when nothing is cached yet.
 */
int kq_dump(struct daemon *d, __u32 netns, __u32 states, __u64 since,
	    sd_cb cb, void *ctx);
/* The netns's facts; NULL while unknown. */
const struct kw_ns *kq_facts(struct daemon *d, __u32 netns);
/* Facts known without asking the worker (tests, replay): -errno. */
int kq_set_facts(struct daemon *d, const struct kw_ns *f);
/* Owner of a socket inode in a CLOSE_WAIT dump of netns, if found. */
const struct kw_owner *kq_owner(struct daemon *d, __u32 netns,
				__u32 inode);
/* Scan this process first when looking for CLOSE_WAIT owners here. */
void kq_want_pid(struct daemon *d, __u32 netns, __u32 pid);

#endif
