// SPDX-License-Identifier: GPL-2.0
#include <limits.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/format.h"
#include "uapi/tcpwatch.h"

static const char *const states[TCPW_STATE_MAX] = {
	[TCPW_ESTABLISHED] = "ESTABLISHED",
	[TCPW_SYN_SENT] = "SYN_SENT",
	[TCPW_SYN_RECV] = "SYN_RECV",
	[TCPW_FIN_WAIT1] = "FIN_WAIT1",
	[TCPW_FIN_WAIT2] = "FIN_WAIT2",
	[TCPW_TIME_WAIT] = "TIME_WAIT",
	[TCPW_CLOSE] = "CLOSE",
	[TCPW_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCPW_LAST_ACK] = "LAST_ACK",
	[TCPW_LISTEN] = "LISTEN",
	[TCPW_CLOSING] = "CLOSING",
	[TCPW_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

const char *state_name(unsigned int state)
{
	return state < TCPW_STATE_MAX && states[state] ? states[state]
						       : "UNKNOWN";
}

int state_parse(const char *s)
{
	char norm[32];
	size_t j = 0;

	/* accept TIME_WAIT, time-wait, timewait, TIME-WAIT */
	for (size_t i = 0; s[i] && j < sizeof(norm) - 1; i++)
		if (s[i] != '_' && s[i] != '-')
			norm[j++] = s[i];
	norm[j] = 0;
	for (int i = 1; i < TCPW_STATE_MAX; i++) {
		char n[32];
		size_t k = 0;

		for (const char *p = states[i]; *p; p++)
			if (*p != '_')
				n[k++] = *p;
		n[k] = 0;
		if (!strcasecmp(n, norm))
			return i;
	}
	return -EINVAL;
}

static const char *const kinds[TCPW_EV_MAX] = {
	[TCPW_EV_STATE] = "state",
	[TCPW_EV_RETRANS] = "retransmit",
	[TCPW_EV_SYNACK_RETRANS] = "synack_retransmit",
	[TCPW_EV_RST_SENT] = "reset_sent",
	[TCPW_EV_RST_RECV] = "reset_recv",
	[TCPW_EV_SAMPLE] = "sample",
	[TCPW_EV_DROP] = "drop",
};

const char *kind_name(unsigned int kind)
{
	return kind < TCPW_EV_MAX && kinds[kind] ? kinds[kind] : "unknown";
}

const char *family_name(unsigned int family)
{
	return family == AF_INET ? "inet" : family == AF_INET6 ? "inet6"
							       : "unknown";
}

static char *put_v4(char *o, const __u8 *a)
{
	for (int i = 0; i < 4; i++) {
		unsigned int v = a[i];

		if (v >= 100)
			*o++ = '0' + v / 100;
		if (v >= 10)
			*o++ = '0' + v / 10 % 10;
		*o++ = '0' + v % 10;
		if (i < 3)
			*o++ = '.';
	}
	return o;
}

/*
 * RFC 5952 text, exactly as glibc's inet_ntop() writes it (the longest
 * run of two or more zero groups becomes "::", the first on a tie;
 * ::a.b.c.d and ::ffff:a.b.c.d keep their IPv4 tail), without sprintf.
 */
static char *put_v6(char *o, const __u8 *a)
{
	static const char hex[] = "0123456789abcdef";
	int best = -1, best_len = 0, cur = -1, cur_len = 0;
	unsigned int w[8];

	for (int i = 0; i < 8; i++) {
		w[i] = a[2 * i] << 8 | a[2 * i + 1];
		if (!w[i]) {
			if (cur < 0)
				cur = i, cur_len = 0;
			cur_len++;
		} else if (cur >= 0) {
			if (best < 0 || cur_len > best_len)
				best = cur, best_len = cur_len;
			cur = -1;
		}
	}
	if (cur >= 0 && (best < 0 || cur_len > best_len))
		best = cur, best_len = cur_len;
	if (best >= 0 && best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*o++ = ':';
			continue;
		}
		if (i)
			*o++ = ':';
		if (i == 6 && best == 0 &&
		    (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_v4(o, a + 12);
		for (int sh = 12; sh >= 0; sh -= 4)
			if (w[i] >> sh || !sh)
				*o++ = hex[w[i] >> sh & 15];
	}
	if (best >= 0 && best + best_len == 8)
		*o++ = ':';
	return o;
}

size_t addr_str(char *out, __u16 family, const __u8 *a)
{
	char *o;

	if (family == AF_INET)
		o = put_v4(out, a);
	else if (family == AF_INET6)
		o = put_v6(out, a);
	else
		o = stpcpy(out, "?");
	*o = 0;
	return o - out;
}

__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void wallclock_sync(struct wallclock *w)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	w->offset_ns = (long long)(r.tv_sec - m.tv_sec) * 1000000000LL +
		       (r.tv_nsec - m.tv_nsec);
	w->cached_sec = -1;
}

size_t wallclock_fmt(struct wallclock *w, __u64 mono, char out[32])
{
	long long ns, sec;
	unsigned int us;

	/* A record's timestamp is the kernel's, but never trusted to be
	 * sane (fuzz_records): saturate instead of overflowing. */
	if (__builtin_add_overflow((long long)(mono & LLONG_MAX), w->offset_ns,
				   &ns))
		ns = LLONG_MAX;
	if (ns < 0)
		ns = 0;
	sec = ns / 1000000000LL;
	us = (unsigned int)(ns % 1000000000LL / 1000);
	if (sec != w->cached_sec) {
		time_t t = sec;
		struct tm tm;

		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof(tm));
		strftime(w->prefix, sizeof(w->prefix), "%Y-%m-%dT%H:%M:%S",
			 &tm);
		w->cached_sec = sec;
	}
	memcpy(out, w->prefix, 19);
	out[19] = '.';
	for (int i = 25; i >= 20; i--) {
		out[i] = '0' + us % 10;
		us /= 10;
	}
	out[26] = 'Z';
	out[27] = 0;
	return 27;
}

void duration_str(char *out, size_t n, __u64 ns)
{
	__u64 ms = ns / 1000000;

	if (ms < 10000)
		snprintf(out, n, "%llu.%03llus", ms / 1000ULL, ms % 1000ULL);
	else if (ms < 3600000)
		snprintf(out, n, "%llum%02llus", ms / 60000ULL,
			 ms / 1000 % 60ULL);
	else
		snprintf(out, n, "%lluh%02llum", ms / 3600000ULL,
			 ms / 60000 % 60ULL);
}
