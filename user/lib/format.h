/* SPDX-License-Identifier: GPL-2.0 */
/* Names and text forms: states, kinds, addresses, timestamps. */
#ifndef TCPW_FORMAT_H
#define TCPW_FORMAT_H

#include <stddef.h>
#include <linux/types.h>

#define ADDR_STRLEN	48

const char *state_name(unsigned int state);	/* "TIME_WAIT" */
/* "TIME_WAIT", "time-wait", "timewait" ...; -EINVAL if unknown */
int state_parse(const char *s);
const char *kind_name(unsigned int kind);	/* "retransmit" */
const char *family_name(unsigned int family);	/* "inet", "inet6" */
/* Text form of a 16-byte address of the given family; returns length. */
size_t addr_str(char *out, __u16 family, const __u8 *addr);

__u64 mono_ns(void);
/* A duration, short: "1.250s" under 10 s, "2m05s", "3h07m" */
void duration_str(char *out, size_t n, __u64 ns);

/* CLOCK_MONOTONIC (event time) to wall-clock text, cheaply. */
struct wallclock {
	long long offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	long long cached_sec;
	char prefix[24];	/* "2026-11-21T14:50:00" for cached_sec */
};

void wallclock_sync(struct wallclock *w);
/* "2026-11-21T14:50:00.123456Z"; returns length (27) */
size_t wallclock_fmt(struct wallclock *w, __u64 mono, char out[32]);

#endif
