// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON writer: strings of any bytes, numbers from any bits,
 * addresses, as one record; it must parse, and valid UTF-8 must come
 * back unchanged.
 */
#include <math.h>
#include <sys/socket.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct jbuf b;
	__u64 u = 0;
	double r = 0;
	__u8 addr[16] = { 0 };

	if (json_init(&b, -1, 64))
		return 0;
	memcpy(&u, data, size < 8 ? size : 8);
	memcpy(&r, data, size < 8 ? size : 8);
	memcpy(addr, data, size < 16 ? size : 16);
	json_lit(&b, "{\"s\":");
	json_str(&b, (const char *)data, size);
	json_u64_field(&b, "u", u);
	json_i64_field(&b, "i", (long long)u);
	json_key(&b, "f");
	json_fixed(&b, u, (int)(u % 7));
	json_real_field(&b, "r", r);
	json_cstr_field(&b, "c", (const char *)data, size);
	json_addr_field(&b, "a4", AF_INET, addr);
	json_addr_field(&b, "a6", AF_INET6, addr);
	json_lit(&b, "}\n");
	fuzz_lines_parse(&b, 0);
	json_free(&b);
	return 0;
}
