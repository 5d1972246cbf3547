// SPDX-License-Identifier: GPL-2.0
/* The key set of core/keyset.c: growth keeps every key, clear empties. */
#include "core/keyset.h"
#include "unit.h"

/* 100k keys that collide in the low bits, each added twice. */
static void test_grow_and_clear(void)
{
	struct keyset s = { 0 };
	__u32 missing = 0, found = 0;

	ASSERT_FALSE(keyset_has(&s, 1), "an empty set has nothing");
	for (__u64 k = 1; k <= 100000; k++) {
		if (keyset_add(&s, k << 32) || keyset_add(&s, k << 32))
			break;
	}
	ASSERT_EQ(s.n, 100000, "each key once");
	ASSERT_LE(s.n * 2, s.cap, "at most half full");
	for (__u64 k = 1; k <= 100000; k++)
		missing += !keyset_has(&s, k << 32);
	ASSERT_EQ(missing, 0, "every key found after growing");
	ASSERT_FALSE(keyset_has(&s, 100001ULL << 32), "a key not added");
	for (__u32 i = 0; i < s.cap; i++)
		found += s.v[i] != 0;
	ASSERT_EQ(found, 100000, "the slots hold the keys");
	keyset_clear(&s);
	ASSERT_EQ(s.n, 0, "cleared");
	ASSERT_FALSE(keyset_has(&s, 5ULL << 32), "nothing after clear");
	ASSERT_OK(keyset_add(&s, 7), "add after clear");
	ASSERT_TRUE(keyset_has(&s, 7), "found after clear");
	keyset_free(&s);
	ASSERT_EQ(s.cap, 0, "freed");
}

UNIT_MAIN(test_grow_and_clear)
