/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line numbers: range-checked, with K/M/G suffixes. */
#ifndef TCPW_PARSE_H
#define TCPW_PARSE_H

#include <stdbool.h>
#include <linux/types.h>

/*
 * A decimal integer in [min, max]; with suffixes, K, M or G (either
 * case) multiply by 1024, 1024^2, 1024^3. No sign, no spaces, nothing
 * after the suffix; an overflow is out of range, never wrapped.
 * Returns 0 or -EINVAL (bad syntax) / -ERANGE (outside [min, max]).
 */
int parse_uint(const char *s, bool suffixes, __u64 min, __u64 max,
	       __u64 *out);

#endif
