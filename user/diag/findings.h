/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lifecycle of a finding (opened, updated at a bounded rate,
 * resolved) and its rendering, as an NDJSON record or as text for
 * `tcpwatch diag`. Findings know the rule that reported them, not the
 * sweep: the sweep calls findings, never the reverse.
 */
#ifndef TCPW_DIAG_FINDINGS_H
#define TCPW_DIAG_FINDINGS_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/fields.h"
#include "lib/json.h"

struct daemon;
struct diag_rule;

enum severity { SEV_INFO = 1, SEV_WARNING, SEV_CRITICAL, SEV_MAX };

const char *severity_name(enum severity sev);	/* "warning" */

/* A condition seen by a sweep: built by the rule (diag/rule.h). */
struct finding_in {
	const struct diag_rule *rule;
	enum severity sev;
	struct fields subj;	/* who */
	struct fields ev;	/* the numbers */
	char key[160];		/* identifies the subject within the rule */
	char summary[384];	/* one line, plain words */
};

struct findings *findings_new(void);
void findings_free(struct findings *f);
void findings_begin(struct findings *f);
/* Report a condition seen in this sweep. */
void finding_report(struct daemon *d, const struct finding_in *in,
		    __u64 now);
/* After a sweep: resolve what was not reported for quiet_s. */
void findings_end(struct daemon *d, __u64 now);
/* Counters for `stats`; f may be NULL (no sweep attached). */
__u32 findings_open(const struct findings *f, __u64 *opened,
		    __u64 *resolved, __u64 *suppressed);
/* For metrics: open findings by rule (diag_rules[] order) and severity,
 * and findings opened since the start by rule; f may be NULL. */
void findings_count(const struct findings *f, __u32 (*open)[SEV_MAX],
		    __u64 *opened);
/* The open findings, most severe first: text, or NDJSON if json. */
int findings_render(struct daemon *d, struct jbuf *b, bool json,
		    __u64 now);

#endif
