// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/format.h"
#include "lib/json.h"

int json_init(struct jbuf *b, int fd, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = malloc(cap);
	if (!b->p)
		return -ENOMEM;
	b->cap = cap;
	b->fd = fd;
	return 0;
}

void json_free(struct jbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

bool json_reserve(struct jbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + n <= b->cap)
		return true;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = b->err ? b->err : -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

int json_flush(struct jbuf *b)
{
	size_t off = 0;

	if (b->fd < 0 || b->err)
		return b->err;
	while (off < b->len) {
		ssize_t n = write(b->fd, b->p + off, b->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			b->err = -errno;
			return b->err;
		}
		off += n;
	}
	b->written += off;
	b->len = 0;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	__u32 cp;

	if (c < 0xc2)
		return 0;	/* continuation byte or overlong lead */
	if (c < 0xe0) {
		len = 2;
		cp = c & 0x1f;
	} else if (c < 0xf0) {
		len = 3;
		cp = c & 0x0f;
	} else if (c < 0xf5) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong, surrogate or out of range */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static const char hex[] = "0123456789abcdef";

void json_str(struct jbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	char *o;

	/* worst case: every byte becomes \u00XX */
	if (!json_reserve(b, n * 6 + 2))
		return;
	o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		size_t ul;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = c;
			continue;
		}
		if (c >= 0x80 && (ul = utf8_len(s + i, n - i))) {
			memcpy(o, s + i, ul);
			o += ul;
			i += ul - 1;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':  *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\t': *o++ = 't'; break;
		case '\r': *o++ = 'r'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	b->len = o - b->p;
}

void json_cstr(struct jbuf *b, const char *s, size_t max)
{
	json_str(b, s, strnlen(s, max));
}

static const char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Digits in place, two at a time: no temporary, no memcpy call. */
void json_u64_slow(struct jbuf *b, __u64 v)
{
	static const __u64 pow10[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
		10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
		100000000000ULL, 1000000000000ULL, 10000000000000ULL,
		100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
		100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL,
	};
	/* digits: log10 from the bit length (1233/4096 ~ log10(2)) */
	unsigned int n = (64 - __builtin_clzll(v | 1)) * 1233 >> 12;
	char *o;

	n += n < 20 && v >= pow10[n];
	n += !n;
	if (b->len + n > b->cap && !json_reserve(b, n))
		return;
	o = b->p + b->len + n;
	b->len += n;
	while (v >= 100) {
		unsigned int i = (unsigned int)(v % 100) * 2;

		v /= 100;
		*--o = digits2[i + 1];
		*--o = digits2[i];
	}
	if (v >= 10) {
		*--o = digits2[v * 2 + 1];
		*--o = digits2[v * 2];
	} else {
		*--o = '0' + v;
	}
}

void json_i64(struct jbuf *b, long long v)
{
	if (v < 0) {
		json_ch(b, '-');
		json_u64(b, -(unsigned long long)v);
	} else {
		json_u64(b, v);
	}
}

void json_fixed(struct jbuf *b, __u64 v, int decimals)
{
	__u64 div = 1;
	char *o;

	for (int i = 0; i < decimals; i++)
		div *= 10;
	json_u64(b, v / div);
	if (!decimals || !json_reserve(b, decimals + 1))
		return;
	o = b->p + b->len;
	*o = '.';
	v %= div;
	for (int i = decimals; i >= 1; i--) {
		o[i] = '0' + v % 10;
		v /= 10;
	}
	b->len += decimals + 1;
}

void json_real(struct jbuf *b, double v)
{
	/* NaN and negatives as 0; saturate where v * 1000 leaves __u64
	 * (found by fuzz_json: the conversion is undefined there) */
	if (!(v >= 0))
		v = 0;
	if (v > 18e15)
		v = 18e15;
	json_fixed(b, (__u64)(v * 1000 + 0.5), 3);
}

void json_cstr_or_null(struct jbuf *b, const char *s, size_t max)
{
	if (s)
		json_cstr(b, s, max);
	else
		json_lit(b, "null");
}

/* Formatted in place, as json_time: no copy through the stack. */
void json_addr(struct jbuf *b, __u16 family, const __u8 *addr)
{
	char *o;

	if (!json_reserve(b, ADDR_STRLEN + 2))
		return;
	o = b->p + b->len;
	*o++ = '"';
	o += addr_str(o, family, addr);
	*o++ = '"';
	b->len = o - b->p;
}

void json_time(struct jbuf *b, struct wallclock *w, __u64 mono)
{
	char *o;

	if (!json_reserve(b, 32 + 2))
		return;
	o = b->p + b->len;
	*o++ = '"';
	o += wallclock_fmt(w, mono, o);
	*o++ = '"';
	b->len = o - b->p;
}

void json_tuple(struct jbuf *b, __u32 netns, __u16 family,
		const __u8 *saddr, __u16 sport, const __u8 *daddr,
		__u16 dport)
{
	json_u64_field(b, "netns", netns);
	json_name_field(b, "family", family_name(family));
	json_addr_field(b, "saddr", family, saddr);
	json_u64_field(b, "sport", sport);
	json_addr_field(b, "daddr", family, daddr);
	json_u64_field(b, "dport", dport);
}
