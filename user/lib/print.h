/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One pass, two outputs, in the style of iproute2's print_*(PRINT_ANY,
 * key, fmt, value): a field is written as `"key":value` in JSON mode
 * and as fmt (printf, one value) in text mode. PRINT_JSON and
 * PRINT_TEXT limit a field to one of them, for the places where the
 * two outputs say a thing differently (milliseconds in JSON, "1.5s" in
 * text). Used by the control socket's answers, never on the event
 * path (that is json.h's typed field writers).
 */
#ifndef TCPW_PRINT_H
#define TCPW_PRINT_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/json.h"

enum print_to { PRINT_JSON = 1, PRINT_TEXT = 2, PRINT_ANY = 3 };

#define PRINT_DEPTH	8

struct printer {
	struct jbuf *b;
	bool json;
	int depth;
	bool first[PRINT_DEPTH];	/* no field yet at that depth */
};

void print_init(struct printer *p, struct jbuf *b, bool json);
/* JSON, continuing an object that already has fields (a record whose
 * head emit_head() wrote). */
void print_init_within(struct printer *p, struct jbuf *b);

/* JSON: {, or "key":{ inside an object; text: nothing. */
void print_open_object(struct printer *p, const char *key);
void print_close_object(struct printer *p);
void print_open_array(struct printer *p, const char *key);
void print_close_array(struct printer *p);
/* JSON: the newline ending a record at the top; text: nothing. */
void print_nl_json(struct printer *p);

/* A key (NULL inside an array) and the separator before it, JSON only:
 * for values written with json.h's writers. */
void print_key(struct printer *p, const char *key);

void print_u64(struct printer *p, enum print_to to, const char *key,
	       const char *fmt, __u64 v);
/* JSON: 3 decimals (json_real); text: fmt */
void print_real(struct printer *p, enum print_to to, const char *key,
		const char *fmt, double v);
void print_string(struct printer *p, enum print_to to, const char *key,
		  const char *fmt, const char *s);
void print_bool(struct printer *p, enum print_to to, const char *key,
		const char *fmt, bool v);
/* Text only, printf-like. */
void print_text(struct printer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
