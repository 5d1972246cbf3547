// SPDX-License-Identifier: GPL-2.0
/*
 * The option parsers: numbers with K/M/G suffixes against their
 * ranges, and -T KEY=VALUE thresholds (then the cross-checks). The
 * first byte picks the parser; a parsed value must be in range.
 * 0x40 (without 0x80): --records LIST, whose message must fit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/records.h"
#include "diag/thresholds.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const struct { __u64 min, max; bool sfx; } ranges[] = {
		{ 4096, 1u << 30, true },	/* --ring-size */
		{ 1, 65535, false },		/* --port */
		{ 0, 3600000, false },		/* --sample-ms */
		{ 1, 10000, false },		/* --tick-ms */
	};
	char s[256], msg[256];
	struct diag_opts o;
	__u64 v;

	if (!size || size > sizeof(s))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	if (data[0] & 0x80) {
		diag_opts_default(&o);
		for (char *kv = strtok(s, ";"); kv; kv = strtok(NULL, ";"))
			diag_opts_set(&o, kv, msg, sizeof(msg));
		if (isnan(o.tw_fraction) || isnan(o.tw_critical) ||
		    o.tw_fraction < 0 || o.tw_fraction > 1)
			abort();
		diag_opts_check(&o, msg, sizeof(msg));
	} else if (data[0] & 0x40) {
		__u32 m = 0;

		if (records_parse(s, &m, msg, sizeof(msg)) &&
		    !strstr(msg, "; all"))
			abort();
		if (m & ~REC_ALL)
			abort();
	} else {
		unsigned i = data[0] % 4;

		if (!parse_uint(s, ranges[i].sfx, ranges[i].min, ranges[i].max,
				&v) &&
		    (v < ranges[i].min || v > ranges[i].max))
			abort();
	}
	return 0;
}
