// SPDX-License-Identifier: GPL-2.0
/*
 * Packets this host's kernel dropped (skb:kfree_skb), per local
 * addr:port and drop reason (AGG_DROP). The reasons are the running
 * kernel's names; a few families of them get their own words here,
 * matched by name, so a kernel without a name simply never matches it.
 * The others are in `drop` records and `stats` only.
 */
#include <stdio.h>
#include <string.h>

#include "diag/rule.h"

struct drop_words {
	const char *names[11];	/* the kernel's names (NULL-terminated) */
	const char *what;	/* "dropped because ..." */
	enum severity sev;
};

static const struct drop_words words[] = {
	{ { "NETFILTER_DROP" },
	  "this host's firewall (netfilter) drops them", SEV_WARNING },
	{ { "TCP_LISTEN_OVERFLOW", "SOCKET_BACKLOG" },
	  "the accept queue (or the socket's backlog) is full: the application does not accept() or read fast enough",
	  SEV_WARNING },
	{ { "SOCKET_RCVBUFF", "PROTO_MEM", "TCP_ZEROWINDOW", "TCP_OFO_DROP",
	    "TCP_OFO_QUEUE_PRUNE" },
	  "the receive buffer is full (or TCP memory is short): the application does not read fast enough",
	  SEV_WARNING },
	{ { "TCP_INVALID_SEQUENCE", "TCP_OLD_SEQUENCE",
	    "TCP_INVALID_END_SEQUENCE", "TCP_INVALID_ACK_SEQUENCE",
	    "TCP_OLD_DATA", "TCP_OVERWINDOW", "TCP_RFC7323_PAWS",
	    "TCP_OLD_ACK", "TCP_TOO_OLD_ACK", "TCP_ACK_UNSENT_DATA" },
	  "their sequence or acknowledgment numbers are outside the window: stale duplicates, a middlebox rewriting them, or an attack",
	  SEV_INFO },
	{ { "TCP_CSUM", "IP_CSUM", "SKB_CSUM" },
	  "they arrive with bad checksums: corrupted on the way (a link, a NIC or its offload, a middlebox)",
	  SEV_WARNING },
};

const char *diag_drop_words(const char *name, enum severity *sev)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		for (const char *const *n = words[i].names; *n; n++)
			if (!strcmp(*n, name)) {
				if (sev)
					*sev = words[i].sev;
				return words[i].what;
			}
	return NULL;
}

static void packet_drops_eval(struct sweep *s, const struct diag_rule *r)
{
	for (__u32 i = 0; i < s->g->used; i++) {
		struct agg *a = &s->g->aggs[i];
		const char *name, *what;
		char sa[ADDR_STRLEN + 2];
		struct finding_in *f;
		enum severity sev;
		double span;

		if (a->type != AGG_DROP || WIN(a, dropped) < s->g->o.drop_min)
			continue;
		name = source_reason_name(s->d->src, a->reason);
		what = diag_drop_words(name, &sev);
		if (!what)
			continue;
		span = span_s(s->g, a, s->now);
		f = diag_begin(s);
		ep(sa, a->family, a->addr);
		diag_subject(f, a->netns, a->family);
		field_addr(&f->subj, "saddr", a->family, a->addr);
		field_u64(&f->subj, "sport", a->port);
		field_str(&f->subj, "reason", name);
		snprintf(f->key, sizeof(f->key), "%u/%s:%u/%s", a->netns, sa,
			 a->port, name);
		field_u64(&f->ev, "dropped", WIN(a, dropped));
		field_real(&f->ev, "window_s", span);
		snprintf(f->summary, sizeof(f->summary),
			 "this host dropped %llu TCP packets of %s:%u in %.0f s (%s): %s",
			 (unsigned long long)WIN(a, dropped), sa, a->port,
			 span, name, what);
		diag_report(s, r, sev);
	}
}

static const struct diag_threshold drop_thresholds[] = {
	DIAG_U32(drop_min, 3, 1, 1000000,
		 "packets dropped per window for one reason at one local `addr:port`"),
	{ 0 }
};

const struct diag_rule rule_packet_drops = {
	.id = "packet_drops",
	.explain = "The kernel dropped TCP packets to or from this local endpoint and said why (the skb:kfree_skb tracepoint's drop reason, named as the running kernel names it). Each packet the peer sent again costs it a retransmit timeout; a connect waits seconds.",
	.fix = "Depends on the reason: a firewall rule (nft list ruleset; count it with a counter), a full accept queue (accept faster, raise the listen backlog and net.core.somaxconn), a full receive buffer (read faster, or raise SO_RCVBUF / net.ipv4.tcp_rmem), sequence numbers outside the window (look for a middlebox rewriting them, or stale connections), bad checksums (a faulty link or NIC: ethtool -S, try disabling offloads).",
	.thresholds = drop_thresholds,
	.eval = packet_drops_eval,
};
