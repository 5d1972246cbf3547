/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a rule is, and what a rule may use: the sweep's per-sweep state
 * and its helpers. One file per rule or per close family of rules
 * (user/diag/rule_*.c), one entry in diag_rules[] (rules.c).
 *
 * A sweep (sweep.c) runs every rule's begin(), then walks the table
 * once calling every rule's socket() for each entry, then every rule's
 * eval() in table order. A rule reports a condition with diag_report();
 * findings.c gives it its lifecycle.
 */
#ifndef TCPW_DIAG_RULE_H
#define TCPW_DIAG_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "core/daemon.h"
#include "core/dumps.h"
#include "diag/findings.h"
#include "diag/peers.h"
#include "diag/thresholds.h"

#define NS		1000000000ULL
#define WATCH_MAX	4096	/* sockets tracked for zero window */

struct diag_rule {
	const char *id;			/* stable, e.g. "close_wait_leak" */
	const char *explain, *fix;	/* why it happens, what to do */
	/* Its own thresholds (ends with an empty entry; NULL: none). */
	const struct diag_threshold *thresholds;
	/* Optional: before the walk, once a sweep. */
	void (*begin)(struct sweep *s);
	/* Optional: for every socket in the table, once a sweep. */
	void (*socket)(struct sweep *s, struct sock_entry *e);
	/* After the walk: report what is wrong. */
	void (*eval)(struct sweep *s, const struct diag_rule *r);
};

/* The table, in the order the rules run (rules.c). */
extern const struct diag_rule *const diag_rules[];
extern const size_t diag_nrules;
const struct diag_rule *diag_rule_find(const char *id);

/* ---- per-sweep state ---------------------------------------------------- */

struct ns_info {
	__u32 inum;
	__u32 lo, hi;		/* ephemeral range; hi 0 = unknown */
	__u32 tw_reuse;		/* net.ipv4.tcp_tw_reuse; 0 if unknown */
	bool listeners;		/* the table holds a LISTEN socket here */
	bool watch;		/* flow-control candidates here */
	bool synack;		/* a listener here retransmits SYN-ACKs */
	bool cw;		/* CLOSE_WAIT candidates here */
	__u64 cw_since;		/* the newest candidate's state_ns */
};

/* TIME_WAIT grouped by (netns, local address, remote address:port) */
struct tw_group {
	__u32 netns;
	__u16 family, dport;
	__u8 saddr[16], daddr[16];
	__u32 tw, in_use, recent;
	__u32 next;
};

struct watch {			/* a socket in a zero-window condition */
	__u64 cookie;
	__u64 snd_since, rcv_since;	/* 0: not in that condition */
	bool checked;		/* sock_diag confirmed it this sweep */
};

struct cw_sock {
	__u32 idx;		/* table index */
	__u32 inode, unread, fd;
	bool live;		/* sock_diag still shows it in CLOSE_WAIT */
};

struct sweep {
	struct daemon *d;
	struct diag *g;
	__u64 now;
	struct ns_info *ns;
	__u32 nns, ns_cap;
	__u32 ns_last;		/* ns_info()'s last hit */
	struct finding_in f;	/* the finding being built */
	/* rule_time_wait.c */
	struct tw_group *tw;
	__u32 ntw, tw_cap, *tw_heads, tw_mask;
	/* rule_close_wait.c */
	struct cw_sock *cw;
	__u32 ncw, cw_cap;
	/* rule_window.c: the list sorted by cookie, the next one */
	struct watch *watch, *watch_next;
	__u32 nwatch, nwatch_next;
	bool watch_ready;
	/* rule_host.c */
	bool any_host_mark;
};

/* This sweep's facts about a netns (created on first use). */
struct ns_info *ns_info(struct sweep *s, __u32 inum);
/* Grow *v (of *cap elements of size) to hold n + 1. */
bool grow(void **v, __u32 *cap, __u32 n, size_t size);

/* ---- building a finding ------------------------------------------------- */

/* Start a finding: empty subject, evidence, key and summary. */
struct finding_in *diag_begin(struct sweep *s);
/* Subject netns, family; the caller adds more (lib/fields.h). */
void diag_subject(struct finding_in *f, __u32 netns, __u16 family);
/* Start a finding about a peer (AGG_DEST: addr:port, AGG_HOST: addr):
 * its subject and key; da gets the address for the summary. */
struct finding_in *diag_begin_peer(struct sweep *s, const struct agg *a,
				   char da[ADDR_STRLEN + 2]);
void diag_report(struct sweep *s, const struct diag_rule *r,
		 enum severity sev);

/* rule_drop.c: the words for a kernel drop reason name; NULL if none. */
const char *diag_drop_words(const char *name, enum severity *sev);

/* "10.0.0.1" or "[::1]", for summaries */
const char *ep(char *out, __u16 family, const __u8 *addr);
/* The span an aggregate's rates cover: one to two windows, >= 1 s. */
double span_s(const struct diag *g, const struct agg *a, __u64 now);

#define WIN(a, f)	((__u64)(a)->cur.f + (a)->prev.f)

#endif
