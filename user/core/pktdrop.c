// SPDX-License-Identifier: GPL-2.0
/*
 * Drop records: one per (tuple, reason) and second at most, its count
 * the packets it stands for (the kernel folds the rest into the next
 * one). Counted by reason for `stats`, passed to the diagnostics, and
 * written as NDJSON (Documentation/json-schema.md: drop).
 */
#include <stdio.h>
#include <string.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "core/pktdrop.h"
#include "lib/print.h"

const char *pktdrop_name(const struct daemon *d, __u32 reason, char buf[24])
{
	const char *n = source_reason_name(d->src, reason);

	if (n)
		return n;
	snprintf(buf, 24, "reason_%u", reason);
	return buf;
}

static void emit_drop(struct daemon *d, const struct tcpw_event *ev)
{
	struct jbuf *b = &d->out;
	const char *n = source_reason_name(d->src, ev->reason);

	emit_head(d, "drop", ev->ts_ns);
	rec_sock(d, ev->netns, ev->sport, ev->dport, ev->newstate);
	if (n)
		json_name_field(b, "reason", n);
	else
		json_null_field(b, "reason");
	json_u64_field(b, "reason_code", ev->reason);
	json_u64_field(b, "count", ev->count);
	json_u64_field(b, "cookie", ev->cookie);
	json_tuple(b, ev->netns, ev->family, ev->saddr, ev->sport, ev->daddr,
		   ev->dport);
	if (ev->flags & TCPW_F_NOSOCK)
		json_lit(b, ",\"nosock\":true");
	else
		json_name_field(b, "state", state_name(ev->newstate));
	json_bool_field(b, "syn", ev->flags & TCPW_F_SYN);
	emit_tail(d);
}

void pktdrop_event(struct daemon *d, const struct tcpw_event *ev)
{
	struct pktdrop *p = &d->pkt;
	__u32 n = ev->count ? ev->count : 1;

	p->records++;
	p->drops += n;
	p->carried += n - 1;
	p->by_reason[ev->reason < PKTDROP_REASONS ? ev->reason
						  : PKTDROP_REASONS] += n;
	if (d->has_out && emit_wants(d, TCPW_EV_DROP))
		emit_drop(d, ev);
}

void pktdrop_stats(struct daemon *d, struct printer *p)
{
	const struct pktdrop *k = &d->pkt;
	__u64 folded = source_drop_folded(d->src);
	char buf[24];

	print_open_object(p, "packet_drops");
	print_u64(p, PRINT_ANY, "drops", "packet drops    %llu", k->drops);
	print_u64(p, PRINT_ANY, "records", " in %llu records", k->records);
	/* folded by the kernel; those not in a record yet are pending */
	print_u64(p, PRINT_ANY, "folded", " (%llu folded, ", folded);
	print_u64(p, PRINT_ANY, "pending", "%llu pending)\n",
		  folded > k->carried ? folded - k->carried : 0);
	print_open_object(p, "by_reason");
	for (__u32 r = 0; r <= PKTDROP_REASONS; r++) {
		const char *n;

		if (!k->by_reason[r])
			continue;
		n = r < PKTDROP_REASONS ? pktdrop_name(d, r, buf) : "other";
		print_text(p, "  %-22s ", n);
		print_u64(p, PRINT_ANY, n, "%llu\n", k->by_reason[r]);
	}
	print_close_object(p);
	print_close_object(p);
}
