// SPDX-License-Identifier: GPL-2.0
/* The rules' thresholds: defaults and `--threshold KEY=VALUE`. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/rule.h"

/* The sweep's and the findings' own; each rule defines the rest. */
static const struct diag_threshold general[] = {
	DIAG_U32(sweep_ms, 1000, 50, 60000, "how often the rules run"),
	DIAG_U32(window_s, 10, 1, 3600,
		 "rate window; rates cover one to two windows"),
	DIAG_U32(quiet_s, 10, 0, 3600,
		 "a finding resolves after this long without its condition"),
	DIAG_U32(update_s, 10, 0, 3600,
		 "an open finding is re-sent at most this often"),
	DIAG_U32(max_findings, 100, 1, 4096, "open findings per rule"),
	{ 0 }
};

const struct diag_threshold *diag_threshold_at(size_t i)
{
	size_t n = sizeof(general) / sizeof(general[0]) - 1;

	if (i < n)
		return &general[i];
	i -= n;
	for (size_t r = 0; r < diag_nrules; r++) {
		const struct diag_threshold *t = diag_rules[r]->thresholds;

		for (; t && t->key; t++)
			if (!i--)
				return t;
	}
	return NULL;
}

const char *diag_opts_help(void)
{
	static char help[4096];
	size_t len;
	const struct diag_threshold *t;

	if (help[0])
		return help;
	len = snprintf(help, sizeof(help),
		       "  thresholds (--threshold KEY=VALUE, repeatable; Documentation/diagnostics.md):\n");
	for (size_t i = 0; (t = diag_threshold_at(i)) && len < sizeof(help);
	     i++) {
		char kv[64];

		snprintf(kv, sizeof(kv), "%s=%g", t->key, t->def);
		len += snprintf(help + len, sizeof(help) - len,
				"    %-20s %s\n", kv, t->help);
	}
	return help;
}

void diag_opts_default(struct diag_opts *o)
{
	const struct diag_threshold *t;

	for (size_t i = 0; (t = diag_threshold_at(i)); i++) {
		void *p = (char *)o + t->off;

		if (t->kind == DT_U32)
			*(__u32 *)p = (__u32)t->def;
		else
			*(double *)p = t->def;
	}
}

int diag_opts_set(struct diag_opts *o, const char *kv, char *err,
		  size_t errlen)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;

	const struct diag_threshold *t;

	for (size_t i = 0; eq && (t = diag_threshold_at(i)); i++) {
		void *p = (char *)o + t->off;
		char *end;
		double v;

		if (strlen(t->key) != klen ||
		    strncmp(t->key, kv, klen))
			continue;
		errno = 0;
		v = strtod(eq + 1, &end);
		/* !(in range), not (out of range): NaN is neither */
		if (errno || end == eq + 1 || *end ||
		    !(v >= t->min && v <= t->max) ||
		    (t->kind == DT_U32 && v != (double)(__u32)v)) {
			snprintf(err, errlen,
				 "bad value for threshold %s: \"%s\" (%s %g..%g)",
				 t->key, eq + 1,
				 t->kind == DT_U32 ? "an integer" : "a number",
				 t->min, t->max);
			return -EINVAL;
		}
		if (t->kind == DT_U32)
			*(__u32 *)p = (__u32)v;
		else
			*(double *)p = v;
		return 0;
	}
	snprintf(err, errlen,
		 "unknown threshold \"%s\" (KEY=VALUE; `tcpwatch run --help` lists the keys)",
		 kv);
	return -EINVAL;
}

int diag_opts_check(const struct diag_opts *o, char *err, size_t errlen)
{
	if (o->tw_critical < o->tw_fraction) {
		snprintf(err, errlen,
			 "threshold tw_critical (%g) is below tw_fraction (%g): critical must be at least the warning level",
			 o->tw_critical, o->tw_fraction);
		return -EINVAL;
	}
	return 0;
}
