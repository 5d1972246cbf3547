/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations shared by the files of the tcpwatch module. */
#ifndef TCPW_TCPW_H
#define TCPW_TCPW_H

#include <linux/compiler.h>
#include <linux/types.h>

#include "uapi/tcpwatch.h"

#define TCPW_RING_MIN_BYTES	4096U
#define TCPW_RING_MAX_BYTES	(1U << 30)

/* dev.c: the ring, the device and the counters */
int tcpw_dev_init(u32 ring_bytes, u32 wakeup_bytes, u32 flush_ms);
void tcpw_dev_exit(void);

/* True while someone holds /dev/tcpwatch open: only then are events made. */
extern bool tcpw_active;
/* Counts the captures (first opens): a new one starts from no digests. */
extern unsigned int tcpw_captures;

static inline bool tcpw_capturing(void)
{
	return READ_ONCE(tcpw_active);
}

/*
 * Count and queue one record; never sleeps. Called by the probes with
 * preemption disabled (tracepoint probes always are), and by the sample
 * walk under a bucket lock, inside an RCU read section.
 */
bool tcpw_emit(const struct tcpw_event *ev);	/* false: lost, counted */

/* probes.c: the tracepoints, and the records they fill */
int tcpw_probes_init(const u16 *ports, int nr_ports, const char *cgroup);
void tcpw_probes_exit(void);
struct sock;
bool tcpw_fill_sample(struct tcpw_event *ev, const struct sock *sk);
/* Drops the DROP rate limit folded; the kernel's name of a reason. */
u64 tcpw_drop_folded(void);
void tcpw_drop_reset(void);
int tcpw_drop_reason_name(u32 reason, char *buf, size_t len);

/* sample.c: the periodic walk for SAMPLE records (0 ms: none) */
void tcpw_sample_init(u32 sample_ms);
void tcpw_sample_exit(void);

#endif /* TCPW_TCPW_H */
