/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small, fast NDJSON writer: one growing buffer, flushed in batches.
 * Values are appended without printf; keys are string literals the
 * caller guarantees need no escaping. Any bytes can be written as a
 * string value: see json_str().
 */
#ifndef TCPW_JSON_H
#define TCPW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>

struct jbuf {
	char *p;
	size_t len, cap;
	int fd;			/* where json_flush() writes; -1: memory only */
	int err;		/* first write error (-errno), sticky */
	__u64 written;		/* bytes flushed */
};

int json_init(struct jbuf *b, int fd, size_t cap);
void json_free(struct jbuf *b);
/* Write everything buffered; returns 0 or -errno (-EPIPE: reader gone). */
int json_flush(struct jbuf *b);
/* Make room for n more bytes; false on ENOMEM. */
bool json_reserve(struct jbuf *b, size_t n);

static inline void json_raw(struct jbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap && !json_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void json_ch(struct jbuf *b, char c)
{
	if (b->len + 1 > b->cap && !json_reserve(b, 1))
		return;
	b->p[b->len++] = c;
}

#define json_lit(b, s) json_raw((b), (s), sizeof(s) - 1)

/*
 * A quoted, escaped string of n bytes. Valid UTF-8 passes through;
 * control characters, quote and backslash are escaped; each byte that
 * is not part of valid UTF-8 becomes \u00XX (its Latin-1 code point),
 * so the output is always valid JSON and valid UTF-8.
 */
void json_str(struct jbuf *b, const char *s, size_t n);
/* json_str of a NUL-terminated string of at most max bytes */
void json_cstr(struct jbuf *b, const char *s, size_t max);
void json_u64_slow(struct jbuf *b, __u64 v);

/* One or two digits (zeros, small counters: most values) without a call. */
static inline void json_u64(struct jbuf *b, __u64 v)
{
	if (v < 100 && b->len + 2 <= b->cap) {
		char *o = b->p + b->len;

		if (v < 10) {
			o[0] = '0' + v;
			b->len += 1;
		} else {
			o[0] = '0' + v / 10;
			o[1] = '0' + v % 10;
			b->len += 2;
		}
		return;
	}
	json_u64_slow(b, v);
}
void json_i64(struct jbuf *b, long long v);
/* A fixed-point number: v / 10^decimals, e.g. 12345,3 -> 12.345 */
void json_fixed(struct jbuf *b, __u64 v, int decimals);

/* ,"key": — keys are literals that need no escaping */
#define json_key(b, k) json_lit((b), "," "\"" k "\":")

/*
 * Typed fields, the one way to write a `,"key":value` pair. The key is a
 * string literal: its length is known at compile time, so a field costs
 * one memcpy and the value's own writer (no strlen, no allocation) and
 * the event path can use these as well.
 */
#define json_u64_field(b, k, v)	(json_key(b, k), json_u64((b), (v)))
#define json_i64_field(b, k, v)	(json_key(b, k), json_i64((b), (v)))
/* v / 10^decimals (json_fixed) */
#define json_fixed_field(b, k, v, dec) \
	(json_key(b, k), json_fixed((b), (v), (dec)))
/* n bytes of s, escaped */
#define json_str_field(b, k, s, n) (json_key(b, k), json_str((b), (s), (n)))
/* a NUL-terminated string of at most max bytes; NULL: null */
#define json_cstr_field(b, k, s, max) \
	(json_key(b, k), json_cstr_or_null((b), (s), (max)))
/* a string constant that needs no escaping (a name from a table) */
#define json_name_field(b, k, s) \
	(json_key(b, k), json_ch((b), '"'), \
	 json_raw((b), (s), strlen(s)), json_ch((b), '"'))
/* a fraction, rate or duration: 3 decimals, negative values as 0 */
#define json_real_field(b, k, v) (json_key(b, k), json_real((b), (v)))
#define json_bool_field(b, k, v) \
	((v) ? json_lit((b), "," "\"" k "\":true") \
	     : json_lit((b), "," "\"" k "\":false"))
#define json_null_field(b, k)	json_lit((b), "," "\"" k "\":null")
/* an address as text ("10.0.0.1", "::1") */
#define json_addr_field(b, k, family, addr) \
	(json_key(b, k), json_addr((b), (family), (addr)))

void json_real(struct jbuf *b, double v);
void json_cstr_or_null(struct jbuf *b, const char *s, size_t max);
void json_addr(struct jbuf *b, __u16 family, const __u8 *addr);
struct wallclock;
/* "2026-12-02T13:00:22.669546Z": the wall clock time of a monotonic one */
void json_time(struct jbuf *b, struct wallclock *w, __u64 mono);
/* ,"netns":N,"family":"inet","saddr":..,"sport":N,"daddr":..,"dport":N */
void json_tuple(struct jbuf *b, __u32 netns, __u16 family,
		const __u8 *saddr, __u16 sport, const __u8 *daddr,
		__u16 dport);

#endif
