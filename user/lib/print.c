// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>

#include "lib/print.h"

void print_init(struct printer *p, struct jbuf *b, bool json)
{
	p->b = b;
	p->json = json;
	p->depth = 0;
	p->first[0] = true;
}

void print_key(struct printer *p, const char *key)
{
	if (!p->first[p->depth])
		json_ch(p->b, ',');
	p->first[p->depth] = false;
	if (key) {
		json_ch(p->b, '"');
		json_raw(p->b, key, strlen(key));
		json_lit(p->b, "\":");
	}
}

void print_init_within(struct printer *p, struct jbuf *b)
{
	print_init(p, b, true);
	p->depth = 1;
	p->first[1] = false;
}

static void open_(struct printer *p, const char *key, char c)
{
	if (!p->json)
		return;
	if (p->depth)
		print_key(p, key);
	json_ch(p->b, c);
	if (p->depth < PRINT_DEPTH - 1)
		p->depth++;
	p->first[p->depth] = true;
}

static void close_(struct printer *p, char c)
{
	if (!p->json)
		return;
	json_ch(p->b, c);
	if (p->depth)
		p->depth--;
	if (!p->depth)
		p->first[0] = true;
}

void print_open_object(struct printer *p, const char *key)
{
	open_(p, key, '{');
}

void print_close_object(struct printer *p)
{
	close_(p, '}');
}

void print_open_array(struct printer *p, const char *key)
{
	open_(p, key, '[');
}

void print_close_array(struct printer *p)
{
	close_(p, ']');
}

void print_nl_json(struct printer *p)
{
	if (p->json)
		json_ch(p->b, '\n');
}

static void vtext(struct printer *p, const char *fmt, va_list ap)
{
	struct jbuf *b = p->b;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n <= 0 || !json_reserve(b, (size_t)n + 1))
		return;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += n;
}

void print_text(struct printer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	va_start(ap, fmt);
	vtext(p, fmt, ap);
	va_end(ap);
}

#define WANT(p, to) ((p)->json ? ((to) & PRINT_JSON) : ((to) & PRINT_TEXT))

void print_u64(struct printer *p, enum print_to to, const char *key,
	       const char *fmt, __u64 v)
{
	if (!WANT(p, to))
		return;
	if (p->json) {
		print_key(p, key);
		json_u64(p->b, v);
	} else {
		print_text(p, fmt, (unsigned long long)v);
	}
}

void print_real(struct printer *p, enum print_to to, const char *key,
		const char *fmt, double v)
{
	if (!WANT(p, to))
		return;
	if (p->json) {
		print_key(p, key);
		json_real(p->b, v);
	} else {
		print_text(p, fmt, v);
	}
}

void print_string(struct printer *p, enum print_to to, const char *key,
		  const char *fmt, const char *s)
{
	if (!WANT(p, to))
		return;
	if (p->json) {
		print_key(p, key);
		json_cstr_or_null(p->b, s, 4096);
	} else {
		print_text(p, fmt, s);
	}
}

void print_bool(struct printer *p, enum print_to to, const char *key,
		const char *fmt, bool v)
{
	if (!WANT(p, to))
		return;
	if (p->json) {
		print_key(p, key);
		if (v)
			json_lit(p->b, "true");
		else
			json_lit(p->b, "false");
	} else {
		print_text(p, fmt, v ? "true" : "false");
	}
}
