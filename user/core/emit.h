/* SPDX-License-Identifier: GPL-2.0 */
/* NDJSON records: the daemon's output. */
#ifndef TCPW_EMIT_H
#define TCPW_EMIT_H

#include "core/daemon.h"

/* emit.c: NDJSON records */
void emit_head(struct daemon *d, const char *type, __u64 ts_ns);
void emit_tail(struct daemon *d);
struct apply_result;
void emit_event(struct daemon *d, const struct tcpw_event *ev,
		const struct apply_result *res);
/* Returns whether the record carried e's snap (see emit.c: snap_due). */
bool emit_synthetic(struct daemon *d, const struct sock_entry *e, __u8 old,
		    __u8 new, __u64 ts_ns, const char *reason);
void emit_lost(struct daemon *d, const __u64 *delta, __u64 count);
void emit_reconcile(struct daemon *d, const struct reconcile_result *r,
		    const char *reason, __u64 took_ns);
void emit_start(struct daemon *d);
/* Pieces of a socket record, shared with query.c (ls --json):
 * ,"netns":..,"dport":N  /  ,"pid":..,"comm":..,"owner":".."  /
 * ,"retrans":..,"rst_recv":N  /  ,"snap":{...}  /  KEY{"state":N,...} */
void json_owner(struct jbuf *b, const struct sock_entry *e,
		const struct tcpw_event *ev);
void json_counters(struct jbuf *b, const struct sock_entry *e);
void json_snap(struct jbuf *b, const struct sock_snap *s);
void json_kinds(struct jbuf *b, const char *key, size_t klen,
		const __u64 *v);
void emit_stop(struct daemon *d);

#endif
