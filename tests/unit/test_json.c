// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON writer, checked by a real parser (json-c): every string of
 * bytes must come out as valid JSON that parses back to the same text
 * where the input was valid UTF-8.
 */
#include <json-c/json.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/json.h"
#include "unit.h"

static json_object *parse(struct jbuf *b)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	o = json_tokener_parse_ex(tok, b->p, (int)b->len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* {"s": <string of bytes>} must parse; returns the decoded string */
static json_object *roundtrip(const char *bytes, size_t n, struct jbuf *b)
{
	b->len = 0;
	json_lit(b, "{\"s\":");
	json_str(b, bytes, n);
	json_ch(b, '}');
	return parse(b);
}

static void test_plain_and_escapes(void)
{
	static const char in[] = "a\"b\\c\n\t\r\x01\x1f/ end";
	struct jbuf b;
	json_object *o, *s;

	json_init(&b, -1, 16);
	o = roundtrip(in, sizeof(in) - 1, &b);
	if (!ASSERT_TRUE(o, "parse escaped string"))
		goto out;
	ASSERT_TRUE(json_object_object_get_ex(o, "s", &s), "key s");
	ASSERT_STREQ(json_object_get_string(s), in, "value survives");
	json_object_put(o);
out:
	json_free(&b);
}

static void test_valid_utf8_passes(void)
{
	static const char in[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	struct jbuf b;
	json_object *o, *s;

	json_init(&b, -1, 16);
	o = roundtrip(in, sizeof(in) - 1, &b);
	if (!ASSERT_TRUE(o, "parse utf-8"))
		goto out;
	json_object_object_get_ex(o, "s", &s);
	ASSERT_STREQ(json_object_get_string(s), in, "utf-8 unchanged");
	/* passed through as bytes, not escaped */
	ASSERT_TRUE(memmem(b.p, b.len, "\xe2\x82\xac", 3), "raw euro sign");
	json_object_put(o);
out:
	json_free(&b);
}

static void test_invalid_utf8_escaped(void)
{
	/* lone continuation, overlong, surrogate, truncated, 0xff, NUL */
	static const char in[] = "\x80 \xc0\xaf \xed\xa0\x80 \xe2\x82 \xff \0x";
	struct jbuf b;
	json_object *o, *s;

	json_init(&b, -1, 16);
	o = roundtrip(in, sizeof(in) - 1, &b);
	if (!ASSERT_TRUE(o, "parse invalid utf-8 input"))
		goto out;
	json_object_object_get_ex(o, "s", &s);
	/* 0x80 -> U+0080 (c2 80), 0xff -> U+00FF (c3 bf) */
	ASSERT_TRUE(!memcmp(json_object_get_string(s), "\xc2\x80 ", 3),
		    "0x80 as U+0080");
	ASSERT_TRUE(memmem(b.p, b.len, "\\u00ff", 6), "0xff escaped");
	ASSERT_TRUE(memmem(b.p, b.len, "\\u0000x", 7), "NUL escaped");
	ASSERT_EQ(json_object_get_string_len(s) > 0, 1, "non-empty");
	json_object_put(o);
out:
	json_free(&b);
}

/* Every possible 2-byte comm, and random 16-byte ones, parse. */
static void test_all_bytes_fuzz(void)
{
	struct jbuf b;
	char in[16];
	int bad = 0;

	json_init(&b, -1, 16);
	for (int i = 0; i < 256; i++) {
		for (int j = 0; j < 256; j++) {
			json_object *o;

			in[0] = (char)i;
			in[1] = (char)j;
			o = roundtrip(in, 2, &b);
			bad += !o;
			json_object_put(o);
		}
	}
	srand(42);
	for (int n = 0; n < 20000; n++) {
		json_object *o;

		for (int i = 0; i < 16; i++)
			in[i] = (char)(rand() & 0xff);
		o = roundtrip(in, 16, &b);
		bad += !o;
		json_object_put(o);
	}
	ASSERT_EQ(bad, 0, "unparseable outputs");
	json_free(&b);
}

static void test_numbers(void)
{
	struct jbuf b;
	json_object *o, *v;

	json_init(&b, -1, 8);
	json_lit(&b, "{\"a\":");
	json_u64(&b, 0);
	json_key(&b, "b");
	json_u64(&b, 18446744073709551615ULL);
	json_key(&b, "c");
	json_i64(&b, -42);
	json_key(&b, "d");
	json_fixed(&b, 1234567, 3);
	json_key(&b, "e");
	json_fixed(&b, 5, 3);
	json_ch(&b, '}');
	o = parse(&b);
	if (!ASSERT_TRUE(o, "parse numbers"))
		goto out;
	json_object_object_get_ex(o, "a", &v);
	ASSERT_EQ(json_object_get_int64(v), 0, "zero");
	json_object_object_get_ex(o, "b", &v);
	ASSERT_TRUE(json_object_get_uint64(v) == 18446744073709551615ULL,
		    "u64 max");
	json_object_object_get_ex(o, "c", &v);
	ASSERT_EQ(json_object_get_int64(v), -42, "negative");
	ASSERT_TRUE(memmem(b.p, b.len, "\"d\":1234.567", 12), "fixed 3");
	ASSERT_TRUE(memmem(b.p, b.len, "\"e\":0.005", 9), "fixed small");
	json_object_put(o);
out:
	json_free(&b);
}

static void test_flush_to_pipe(void)
{
	struct jbuf b;
	int p[2];
	char got[64] = "";

	if (!ASSERT_OK(pipe(p), "pipe"))
		return;
	json_init(&b, p[1], 4);
	json_lit(&b, "{\"x\":1}\n");
	ASSERT_OK(json_flush(&b), "flush");
	ASSERT_EQ(read(p[0], got, sizeof(got)), 8, "bytes through pipe");
	ASSERT_EQ(b.written, 8, "written counter");
	close(p[0]);
	/* reader gone: EPIPE, sticky, never a crash (SIGPIPE ignored) */
	signal(SIGPIPE, SIG_IGN);
	json_lit(&b, "{}\n");
	ASSERT_EQ(json_flush(&b), -EPIPE, "flush to closed pipe");
	ASSERT_EQ(json_flush(&b), -EPIPE, "error is sticky");
	close(p[1]);
	json_free(&b);
}

UNIT_MAIN(test_plain_and_escapes, test_valid_utf8_passes,
	  test_invalid_utf8_escaped, test_all_bytes_fuzz, test_numbers,
	  test_flush_to_pipe)
