// SPDX-License-Identifier: GPL-2.0
/*
 * The rules, in the order a sweep runs them (and --help and
 * Documentation/diagnostics.md list their thresholds). A new rule is a
 * file under user/diag/ defining a struct diag_rule, and a line here.
 */
#include <string.h>

#include "diag/rule.h"

extern const struct diag_rule rule_time_wait_exhaustion, rule_close_wait_leak,
	rule_syn_unanswered, rule_connect_refused, rule_synack_unacked,
	rule_accept_queue_overflow, rule_zero_window, rule_rcv_queue_full,
	rule_reset_storm, rule_retransmit_hotspot, rule_connection_churn,
	rule_packet_drops;

const struct diag_rule *const diag_rules[] = {
	&rule_time_wait_exhaustion,	/* rule_time_wait.c */
	&rule_close_wait_leak,		/* rule_close_wait.c */
	&rule_syn_unanswered,		/* rule_connect.c */
	&rule_connect_refused,
	&rule_synack_unacked,		/* rule_listen.c */
	&rule_accept_queue_overflow,
	&rule_zero_window,		/* rule_window.c */
	&rule_rcv_queue_full,
	&rule_reset_storm,		/* rule_host.c */
	&rule_retransmit_hotspot,
	&rule_connection_churn,		/* rule_connect.c */
	&rule_packet_drops,		/* rule_drop.c */
};

const size_t diag_nrules = sizeof(diag_rules) / sizeof(diag_rules[0]);

const struct diag_rule *diag_rule_find(const char *id)
{
	for (size_t i = 0; i < diag_nrules; i++)
		if (!strcmp(diag_rules[i]->id, id))
			return diag_rules[i];
	return NULL;
}
