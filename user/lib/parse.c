// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "lib/parse.h"

int parse_uint(const char *s, bool suffixes, __u64 min, __u64 max,
	       __u64 *out)
{
	unsigned long long v, mult = 1;
	char *end;

	/* strtoull takes a sign and leading spaces: refuse both */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	if (suffixes && *end) {
		switch (*end) {
		case 'K': case 'k': mult = 1ULL << 10; break;
		case 'M': case 'm': mult = 1ULL << 20; break;
		case 'G': case 'g': mult = 1ULL << 30; break;
		default: return -EINVAL;
		}
		end++;
	}
	if (*end)
		return -EINVAL;
	/* v * mult would wrap: that is out of range, not a small number */
	if (v > max / mult)
		return -ERANGE;
	v *= mult;
	if (v < min)
		return -ERANGE;
	*out = v;
	return 0;
}
