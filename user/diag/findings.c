// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle of a finding. A sweep reports every condition it sees;
 * a finding is written when it opens, again when its evidence has moved
 * (at most every update_s, or at once when its severity changes), and
 * once more when its condition has been gone for quiet_s. A finding is
 * never written once per event: a storm of a million resets is one
 * finding with a rate in it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "diag/findings.h"
#include "diag/rule.h"

#define MAX_FINDINGS	4096	/* all rules together */
#define SUMMARY_MAX	384

struct finding {
	const struct diag_rule *rule;
	char key[160];
	struct fields subject, evidence;
	char summary[SUMMARY_MAX];
	__u8 sev;
	bool seen;		/* reported by the current sweep */
	bool dirty;		/* evidence changed since last written */
	__u64 opened_ns, written_ns, absent_ns;
};

struct findings {
	struct finding **v;
	__u32 n;
	__u64 opened, resolved, suppressed;
	__u64 *opened_by;	/* per rule, in diag_rules[] order */
};

static const char *const sev_names[] = {
	[SEV_INFO] = "info", [SEV_WARNING] = "warning",
	[SEV_CRITICAL] = "critical",
};

struct findings *findings_new(void)
{
	struct findings *f = calloc(1, sizeof(*f));

	if (f) {
		f->v = calloc(MAX_FINDINGS, sizeof(*f->v));
		f->opened_by = calloc(diag_nrules, sizeof(*f->opened_by));
		if (!f->v || !f->opened_by) {
			free(f->v);
			free(f->opened_by);
			free(f);
			f = NULL;
		}
	}
	return f;
}

void findings_free(struct findings *f)
{
	if (!f)
		return;
	for (__u32 i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
	free(f->opened_by);
	free(f);
}

static size_t rule_index(const struct diag_rule *r)
{
	size_t i = 0;

	while (i + 1 < diag_nrules && diag_rules[i] != r)
		i++;
	return i;
}

const char *severity_name(enum severity sev)
{
	return sev >= SEV_INFO && sev <= SEV_CRITICAL ? sev_names[sev] : "?";
}

void findings_count(const struct findings *f, __u32 (*open)[SEV_MAX],
		    __u64 *opened)
{
	memset(open, 0, diag_nrules * sizeof(*open));
	memset(opened, 0, diag_nrules * sizeof(*opened));
	if (!f)
		return;
	for (__u32 i = 0; i < f->n; i++)
		open[rule_index(f->v[i]->rule)][f->v[i]->sev]++;
	memcpy(opened, f->opened_by, diag_nrules * sizeof(*opened));
}

__u32 findings_open(const struct findings *f, __u64 *opened,
		    __u64 *resolved, __u64 *suppressed)
{
	if (!f) {
		*opened = *resolved = *suppressed = 0;
		return 0;
	}
	*opened = f->opened;
	*resolved = f->resolved;
	*suppressed = f->suppressed;
	return f->n;
}

void findings_begin(struct findings *f)
{
	for (__u32 i = 0; i < f->n; i++)
		f->v[i]->seen = false;
}

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static const char *const sev_text[] = {
	[SEV_INFO] = "INFO", [SEV_WARNING] = "WARNING",
	[SEV_CRITICAL] = "CRITICAL",
};

/*
 * One finding: the rest of its JSON record (after the head), or its
 * block of `tcpwatch diag` text.
 */
static void finding_print(struct daemon *d, struct printer *p,
			  const struct finding *x, const char *event,
			  __u64 now)
{
	const char *rule = x->rule->id;
	char id[32 + sizeof(x->key) + 1], w[32];

	snprintf(id, sizeof(id), "%s/%s", rule, x->key);
	print_string(p, PRINT_JSON, "event", NULL, event);
	print_string(p, PRINT_JSON, "id", NULL, id);
	print_text(p, "\n%-8s ", sev_text[x->sev]);
	print_string(p, PRINT_ANY, "rule", "%s", rule);
	print_string(p, PRINT_JSON, "severity", NULL, sev_names[x->sev]);
	print_text(p, ", open %.1f s\n  ", (now - x->opened_ns) / 1e9);
	if (p->json)
		fields_print(p, "subject", &x->subject);
	print_string(p, PRINT_ANY, "summary", "%s", x->summary);
	print_text(p, "\n  evidence: ");
	fields_print(p, "evidence", &x->evidence);
	print_text(p, "\n  why: ");
	print_string(p, PRINT_ANY, "explain", "%s", x->rule->explain);
	print_text(p, "\n  fix: ");
	print_string(p, PRINT_ANY, "fix", "%s\n", x->rule->fix);
	if (!p->json)
		return;
	w[wallclock_fmt(&d->wc, x->opened_ns, w)] = 0;
	print_string(p, PRINT_JSON, "since", NULL, w);
	print_u64(p, PRINT_JSON, "since_ns", NULL, x->opened_ns);
	print_key(p, "open_s");
	json_fixed(p->b, (now - x->opened_ns) / 1000000, 3);
}

static void write_record(struct daemon *d, struct finding *x,
			 const char *event, __u64 now)
{
	x->written_ns = now;
	x->dirty = false;
	if (!d->has_out || !emit_wants(d, REC_FINDING))
		return;
	struct printer p;

	emit_head(d, "finding", now);
	print_init_within(&p, &d->out);
	finding_print(d, &p, x, event, now);
	emit_tail(d);
}

static struct finding *lookup(struct findings *f, const struct diag_rule *rule,
			      const char *key, __u32 *rule_count)
{
	struct finding *hit = NULL;

	*rule_count = 0;
	for (__u32 i = 0; i < f->n; i++) {
		struct finding *x = f->v[i];

		if (x->rule != rule)
			continue;
		(*rule_count)++;
		if (!hit && !strcmp(x->key, key))
			hit = x;
	}
	return hit;
}

void finding_report(struct daemon *d, const struct finding_in *in,
		    __u64 now)
{
	struct findings *f = d->diag.f;
	struct finding *x;
	__u32 same_rule;
	bool changed;

	x = lookup(f, in->rule, in->key, &same_rule);
	if (!x) {
		if (same_rule >= d->diag.o.max_findings ||
		    f->n >= MAX_FINDINGS) {
			f->suppressed++;
			return;
		}
		x = calloc(1, sizeof(*x));
		if (!x) {
			f->suppressed++;
			return;
		}
		x->rule = in->rule;
		copy_str(x->key, sizeof(x->key), in->key);
		x->subject = in->subj;
		x->evidence = in->ev;
		copy_str(x->summary, sizeof(x->summary), in->summary);
		x->sev = in->sev;
		x->opened_ns = now;
		x->seen = true;
		f->v[f->n++] = x;
		f->opened++;
		f->opened_by[rule_index(x->rule)]++;
		write_record(d, x, "opened", now);
		return;
	}
	x->seen = true;
	x->absent_ns = 0;
	changed = !fields_equal(&x->evidence, &in->ev);
	if (changed) {
		x->evidence = in->ev;
		copy_str(x->summary, sizeof(x->summary), in->summary);
		x->subject = in->subj;
		x->dirty = true;
	}
	if (in->sev != x->sev) {
		x->sev = in->sev;
		write_record(d, x, "updated", now);
	} else if (x->dirty &&
		   now - x->written_ns >= d->diag.o.update_s * 1000000000ULL) {
		write_record(d, x, "updated", now);
	}
}

void findings_end(struct daemon *d, __u64 now)
{
	struct findings *f = d->diag.f;
	__u64 quiet = d->diag.o.quiet_s * 1000000000ULL;

	for (__u32 i = 0; i < f->n;) {
		struct finding *x = f->v[i];

		if (x->seen) {
			i++;
			continue;
		}
		if (!x->absent_ns)
			x->absent_ns = now;
		if (now - x->absent_ns < quiet) {
			i++;
			continue;
		}
		write_record(d, x, "resolved", now);
		f->resolved++;
		free(x);
		f->v[i] = f->v[--f->n];
	}
}

/* `tcpwatch diag`: most severe first, then the oldest first. */
static int cmp_finding(const void *a, const void *b)
{
	const struct finding *x = *(struct finding *const *)a;
	const struct finding *y = *(struct finding *const *)b;

	if (x->sev != y->sev)
		return y->sev - x->sev;
	return x->opened_ns < y->opened_ns ? -1 : x->opened_ns > y->opened_ns;
}

int findings_render(struct daemon *d, struct jbuf *b, bool json,
		    __u64 now)
{
	struct findings *f = d->diag.f;
	struct finding **v;
	__u32 count[SEV_CRITICAL + 1] = { 0 };
	struct printer p;

	if (!f)
		return -ENOENT;
	v = malloc((f->n ? f->n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, f->v, f->n * sizeof(*v));
	qsort(v, f->n, sizeof(*v), cmp_finding);
	for (__u32 i = 0; i < f->n; i++)
		count[v[i]->sev]++;
	print_init(&p, b, json);
	if (!f->n)
		print_text(&p, "no findings\n");
	else
		print_text(&p, "%u finding%s: %u critical, %u warning, %u info\n",
			   f->n, f->n == 1 ? "" : "s", count[SEV_CRITICAL],
			   count[SEV_WARNING], count[SEV_INFO]);
	for (__u32 i = 0; i < f->n; i++) {
		print_open_object(&p, NULL);
		print_string(&p, PRINT_JSON, "type", NULL, "finding");
		finding_print(d, &p, v[i], "open", now);
		print_close_object(&p);
		print_nl_json(&p);
	}
	free(v);
	return 0;
}
