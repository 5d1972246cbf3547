/* SPDX-License-Identifier: GPL-2.0 */
/* NDJSON records: the daemon's output. */
#ifndef TCPW_EMIT_H
#define TCPW_EMIT_H

#include "core/daemon.h"

/* Whether --records chose type t (enum rec_type). */
static inline bool emit_wants(const struct daemon *d, unsigned int t)
{
	return d->o.records & REC_BIT(t);
}

/* emit.c: NDJSON records */
void emit_head(struct daemon *d, const char *type, __u64 ts_ns);
/* After emit_head: the record is about this socket (subscribers' -N, -p,
 * -S filters). */
void rec_sock(struct daemon *d, __u32 netns, __u16 sport, __u16 dport,
	      __u8 state);
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
/* ,"cgroup_id":N,"cgroup":"/a/b.service","unit":..,"container":.. (or
 * null each when unknown) */
void json_cgroup(struct jbuf *b, struct cgcache *c, __u64 id);
void json_snap(struct jbuf *b, const struct sock_snap *s);
void json_kinds(struct jbuf *b, const char *key, size_t klen,
		const __u64 *v);
void emit_stop(struct daemon *d);
/* How a connection ended (core/conn.h), for its conn record. */
struct conn_end {
	__u8 old, end;		/* the state it left, the one it ended in */
	const char *outcome;
	__u64 ts_ns;
	__u64 tx, rx;		/* data bytes each way */
};
void emit_conn(struct daemon *d, const struct sock_entry *e,
	       const struct conn_end *c);

#endif
