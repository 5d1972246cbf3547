// SPDX-License-Identifier: GPL-2.0
/* Record type names and `--records LIST`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/records.h"
#include "lib/format.h"

static const char *const own[REC_MAX - REC_LOST] = {
	[REC_LOST - REC_LOST] = "lost",
	[REC_RECONCILE - REC_LOST] = "reconcile",
	[REC_START - REC_LOST] = "start",
	[REC_STOP - REC_LOST] = "stop",
	[REC_FINDING - REC_LOST] = "finding",
	[REC_CONN - REC_LOST] = "conn",
};

const char *rec_name(unsigned int t)
{
	if (t && t < TCPW_EV_MAX)	/* a kind not named yet: "unknown" */
		return strcmp(kind_name(t), "unknown") ? kind_name(t) : NULL;
	return t >= REC_LOST && t < REC_MAX ? own[t - REC_LOST] : NULL;
}

static int lookup(const char *s, size_t len, __u32 *bits)
{
	if (len == 7 && !strncmp(s, "default", len)) {
		*bits = REC_DEFAULT;
		return 0;
	}
	if (len == 3 && !strncmp(s, "all", len)) {
		*bits = REC_ALL;
		return 0;
	}
	for (unsigned int t = 1; t < REC_MAX; t++) {
		const char *n = rec_name(t);

		if (n && strlen(n) == len && !strncmp(s, n, len)) {
			*bits = REC_BIT(t);
			return 0;
		}
	}
	return -EINVAL;
}

int records_parse(const char *list, __u32 *mask, char *msg, size_t n)
{
	const char *s = list;
	__u32 m = 0, bits;
	size_t len, at;

	do {
		len = strcspn(s, ",");
		if (lookup(s, len, &bits)) {
			at = (size_t)snprintf(msg, n,
				"--records: unknown record type \"%.*s\": accepted, comma-separated:",
				(int)(len > 32 ? 32 : len), s);
			for (unsigned int t = 1; t < REC_MAX && at < n; t++)
				if (rec_name(t))
					at += (size_t)snprintf(msg + at, n - at,
							       "%s %s", t > 1 ? "," : "",
							       rec_name(t));
			if (at < n)
				snprintf(msg + at, n - at,
					 "; default (all but conn); all");
			return -EINVAL;
		}
		m |= bits;
		s += len;
	} while (*s++ == ',');
	*mask = m;
	return 0;
}
