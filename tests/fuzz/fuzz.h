/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the libFuzzer targets: every NDJSON line must parse. */
#ifndef TCPW_FUZZ_H
#define TCPW_FUZZ_H

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

/* Every line of b[from..len) is one JSON object; abort otherwise. */
static inline void fuzz_lines_parse(const struct jbuf *b, size_t from)
{
	size_t off = from;

	while (off < b->len) {
		const char *nl = memchr(b->p + off, '\n', b->len - off);
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o;
		size_t n;

		if (!nl)
			abort();	/* a cut line */
		n = nl - (b->p + off);
		o = json_tokener_parse_ex(tok, b->p + off, (int)n);
		if (!o || json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != n ||
		    !json_object_is_type(o, json_type_object))
			abort();
		json_object_put(o);
		json_tokener_free(tok);
		off += n + 1;
	}
}

#endif
