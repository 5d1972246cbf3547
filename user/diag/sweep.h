/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The periodic sweep (sweep_ms): walks the table once, reads the peer
 * aggregates, runs every rule of diag_rules[] and reports findings.
 * It hangs off the daemon's tick as a registered module: the daemon
 * does not know it exists.
 */
#ifndef TCPW_DIAG_SWEEP_H
#define TCPW_DIAG_SWEEP_H

#include <linux/types.h>

struct daemon;

/* Create the findings and register the sweep with d's tick. */
int diag_sweep_attach(struct daemon *d);
/* Sweep if due (now >= next_sweep_ns); diag_sweep_now: regardless. */
void diag_sweep(struct daemon *d, __u64 now);
void diag_sweep_now(struct daemon *d, __u64 now);

#endif
