/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loop's side of the metrics (collect.c): the event counters, and
 * snapshots built over a few ticks, a bounded chunk of the table each.
 */
#ifndef TCPW_METRICS_COLLECT_H
#define TCPW_METRICS_COLLECT_H

#include "metrics/snap.h"

struct daemon;
struct collector;

struct collector *collect_new(struct daemon *d, const struct metrics_opts *o);
void collect_free(struct collector *c);
/* The counters the event hook feeds (metrics_count). */
struct mcount *collect_counts(struct collector *c);
/* Begin a pass over the table; collect_busy until it ends. */
void collect_start(struct collector *c);
bool collect_busy(const struct collector *c);
/* One tick's chunk: the snapshot when the pass ends, else NULL (also
 * on ENOMEM, which ends the pass). */
struct msnap *collect_step(struct collector *c);

#endif
