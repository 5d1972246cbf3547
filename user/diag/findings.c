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
#define SUBJECT_MAX	384
#define EVIDENCE_MAX	3072
#define SUMMARY_MAX	384

struct finding {
	const struct diag_rule *rule;
	char key[160];
	char subject[SUBJECT_MAX];
	char evidence[EVIDENCE_MAX];
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
		if (!f->v) {
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
	free(f);
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

/* One finding as a JSON object body (after the record's head). */
static void finding_body(struct daemon *d, struct jbuf *b,
			 const struct finding *x, const char *event,
			 __u64 now)
{
	const char *rule = x->rule->id;
	char w[32];

	json_lit(b, ",\"event\":\"");
	json_raw(b, event, strlen(event));
	json_lit(b, "\",\"id\":");
	{
		char id[32 + sizeof(x->key) + 1];

		snprintf(id, sizeof(id), "%s/%s", rule, x->key);
		json_cstr(b, id, sizeof(id));
	}
	json_lit(b, ",\"rule\":\"");
	json_raw(b, rule, strlen(rule));
	json_lit(b, "\",\"severity\":\"");
	json_raw(b, sev_names[x->sev], strlen(sev_names[x->sev]));
	json_lit(b, "\",\"subject\":");
	json_raw(b, x->subject, strlen(x->subject));
	json_key(b, "summary");
	json_cstr(b, x->summary, sizeof(x->summary));
	json_key(b, "evidence");
	json_raw(b, x->evidence, strlen(x->evidence));
	json_key(b, "explain");
	json_cstr(b, x->rule->explain, 1024);
	json_key(b, "fix");
	json_cstr(b, x->rule->fix, 1024);
	json_lit(b, ",\"since\":\"");
	json_raw(b, w, wallclock_fmt(&d->wc, x->opened_ns, w));
	json_ch(b, '"');
	json_key(b, "since_ns");
	json_u64(b, x->opened_ns);
	json_key(b, "open_s");
	json_fixed(b, (now - x->opened_ns) / 1000000, 3);
}

static void write_record(struct daemon *d, struct finding *x,
			 const char *event, __u64 now)
{
	x->written_ns = now;
	x->dirty = false;
	if (!d->has_out)
		return;
	emit_head(d, "finding", now);
	finding_body(d, &d->out, x, event, now);
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
		copy_str(x->subject, sizeof(x->subject), in->subj.p);
		copy_str(x->evidence, sizeof(x->evidence), in->ev.p);
		copy_str(x->summary, sizeof(x->summary), in->summary);
		x->sev = in->sev;
		x->opened_ns = now;
		x->seen = true;
		f->v[f->n++] = x;
		f->opened++;
		write_record(d, x, "opened", now);
		return;
	}
	x->seen = true;
	x->absent_ns = 0;
	changed = strcmp(x->evidence, in->ev.p) != 0;
	if (changed) {
		copy_str(x->evidence, sizeof(x->evidence), in->ev.p);
		copy_str(x->summary, sizeof(x->summary), in->summary);
		copy_str(x->subject, sizeof(x->subject), in->subj.p);
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

/* Evidence as "k=v k=v", leaving out nested lists (the summary names
 * what matters in them). */
static void evidence_text(struct jbuf *b, const char *j)
{
	int depth = 0;
	bool in_str = false, first = true, skip = false;

	for (const char *p = j; *p; p++) {
		char c = *p;

		if (in_str) {
			if (c == '\\' && p[1]) {
				if (!skip)
					json_ch(b, p[1]);
				p++;
			} else if (c == '"') {
				in_str = false;
			} else if (!skip) {
				json_ch(b, c);
			}
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '{':
		case '[':
			if (depth++ == 1) {
				skip = true;
				json_lit(b, "[...]");
			}
			break;
		case '}':
		case ']':
			if (--depth == 1)
				skip = false;
			break;
		case ',':
			if (depth == 1) {
				json_ch(b, ' ');
				first = false;
			}
			break;
		case ':':
			if (!skip)
				json_ch(b, '=');
			break;
		default:
			if (!skip)
				json_ch(b, c);
		}
	}
	(void)first;
}

int findings_render(struct daemon *d, struct jbuf *b, bool json,
		    __u64 now)
{
	struct findings *f = d->diag.f;
	struct finding **v;
	__u32 count[SEV_CRITICAL + 1] = { 0 };

	if (!f)
		return -ENOENT;
	v = malloc((f->n ? f->n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, f->v, f->n * sizeof(*v));
	qsort(v, f->n, sizeof(*v), cmp_finding);
	for (__u32 i = 0; i < f->n; i++)
		count[v[i]->sev]++;
	if (!json && !f->n)
		json_lit(b, "no findings\n");
	else if (!json) {
		char line[160];

		snprintf(line, sizeof(line),
			 "%u finding%s: %u critical, %u warning, %u info\n",
			 f->n, f->n == 1 ? "" : "s", count[SEV_CRITICAL],
			 count[SEV_WARNING], count[SEV_INFO]);
		json_raw(b, line, strlen(line));
	}
	for (__u32 i = 0; i < f->n; i++) {
		struct finding *x = v[i];
		char line[128];

		if (json) {
			json_lit(b, "{\"type\":\"finding\"");
			finding_body(d, b, x, "open", now);
			json_lit(b, "}\n");
			continue;
		}
		snprintf(line, sizeof(line), "\n%-8s %s, open %.1f s\n  ",
			 x->sev == SEV_CRITICAL ? "CRITICAL"
			 : x->sev == SEV_WARNING ? "WARNING" : "INFO",
			 x->rule->id, (now - x->opened_ns) / 1e9);
		json_raw(b, line, strlen(line));
		json_raw(b, x->summary, strlen(x->summary));
		json_lit(b, "\n  evidence: ");
		evidence_text(b, x->evidence);
		json_lit(b, "\n  why: ");
		json_raw(b, x->rule->explain, strlen(x->rule->explain));
		json_lit(b, "\n  fix: ");
		json_raw(b, x->rule->fix, strlen(x->rule->fix));
		json_ch(b, '\n');
	}
	free(v);
	return 0;
}
