// SPDX-License-Identifier: GPL-2.0
/* Text forms written without libc on the hot path, checked against libc. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "lib/format.h"
#include "lib/json.h"
#include "unit.h"

static int check_v6(const __u8 *a)
{
	char want[INET6_ADDRSTRLEN], got[ADDR_STRLEN];
	size_t n;

	inet_ntop(AF_INET6, a, want, sizeof(want));
	n = addr_str(got, AF_INET6, a);
	return strcmp(got, want) || n != strlen(want);
}

static void test_ipv6_like_inet_ntop(void)
{
	static const char *const fixed[] = {
		"::", "::1", "1::", "::ffff:127.0.0.1", "::127.0.0.1",
		"fe80::1:2", "1:0:0:2:0:0:0:3", "1:0:0:2:0:0:3:4",
		"2001:db8::1", "1:2:3:4:5:6:7:8", "0:1:0:1:0:1:0:1",
	};
	__u8 a[16];
	int bad = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		inet_pton(AF_INET6, fixed[i], a);
		if (!ASSERT_FALSE(check_v6(a), fixed[i]))
			bad++;
	}
	/* random words, many of them zero, to exercise the "::" choice */
	srand(7);
	for (int n = 0; n < 500000; n++) {
		for (int i = 0; i < 8; i++) {
			int w = rand() % 3 ? 0 : rand() & 0xffff;

			a[2 * i] = w >> 8;
			a[2 * i + 1] = w;
		}
		bad += check_v6(a);
	}
	ASSERT_EQ(bad, 0, "addresses differing from inet_ntop");
}

static void test_ipv4(void)
{
	__u8 a[16] = { 10, 0, 255, 7 };
	char got[ADDR_STRLEN];

	ASSERT_EQ(addr_str(got, AF_INET, a), 10, "length");
	ASSERT_STREQ(got, "10.0.255.7", "dotted quad");
}

static void test_u64_like_printf(void)
{
	struct jbuf b;
	char want[32];
	int bad = 0;
	__u64 v = 0;

	json_init(&b, -1, 8);
	for (int i = 0; i < 2000000; i++) {
		/* every power of ten and its neighbours, then random */
		if (i < 64 * 3)
			v = (i % 3 == 0 ? 1ULL << (i / 3) :
			     i % 3 == 1 ? (1ULL << (i / 3)) - 1 : 0);
		else
			v = (__u64)rand() << 33 ^ (__u64)rand() << 11 ^ rand();
		if (i % 7 == 0)
			v %= 100000;
		b.len = 0;
		json_u64(&b, v);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		bad += b.len != strlen(want) || memcmp(b.p, want, b.len);
	}
	for (__u64 p = 1; p < 10000000000000000000ULL; p *= 10) {
		for (__u64 q = p - 1; q <= p; q++) {
			b.len = 0;
			json_u64(&b, q);
			snprintf(want, sizeof(want), "%llu",
				 (unsigned long long)q);
			bad += b.len != strlen(want) || memcmp(b.p, want, b.len);
		}
	}
	b.len = 0;
	json_u64(&b, 18446744073709551615ULL);
	bad += b.len != 20 || memcmp(b.p, "18446744073709551615", 20);
	ASSERT_EQ(bad, 0, "numbers differing from %llu");
	json_free(&b);
}

UNIT_MAIN(test_ipv6_like_inet_ntop, test_ipv4, test_u64_like_printf)
