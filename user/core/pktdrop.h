/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packets the kernel dropped (TCPW_EV_DROP records, from skb:kfree_skb):
 * counted by the kernel's drop reason, written as `drop` records.
 */
#ifndef TCPW_PKTDROP_H
#define TCPW_PKTDROP_H

#include <linux/types.h>

#define PKTDROP_REASONS	256	/* counted one by one; above: "other" */

struct pktdrop {
	__u64 by_reason[PKTDROP_REASONS + 1];	/* drops; last: other */
	__u64 drops;		/* packets: the records' counts summed */
	__u64 records;
	__u64 carried;		/* of drops, folded by the rate limit */
};

struct daemon;
struct tcpw_event;
struct printer;

/* A DROP record that passed the filters: count it, write it. */
void pktdrop_event(struct daemon *d, const struct tcpw_event *ev);
/* The kernel's name of reason, or "reason_N" in buf when it has none. */
const char *pktdrop_name(const struct daemon *d, __u32 reason,
			 char buf[24]);
/* `stats`: totals and drops by reason. */
void pktdrop_stats(struct daemon *d, struct printer *p);

#endif
