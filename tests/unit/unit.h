/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny unit-test runner in the style of the kernel's BPF selftests:
 *
 *	static void test_foo(void)
 *	{
 *		if (!ASSERT_EQ(f(1), 2, "f(1)"))
 *			return;
 *	}
 *	UNIT_MAIN(test_foo, test_bar)
 *
 * Each test prints "ok NAME" or "FAIL NAME" with what was expected and
 * what was seen; the binary exits non-zero when any test failed and its
 * last line is "N passed, N failed".
 */
#ifndef TCPW_UNIT_H
#define TCPW_UNIT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int unit_failed_checks;

static inline bool unit_check(bool ok, const char *file, int line,
			      const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#include <stdarg.h>
static inline bool unit_check(bool ok, const char *file, int line,
			      const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	unit_failed_checks++;
	fprintf(stderr, "  %s:%d: %s: ", file, line, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

#define ASSERT_TRUE(c, name) \
	unit_check(!!(c), __FILE__, __LINE__, name, "expected true: %s", #c)
#define ASSERT_FALSE(c, name) \
	unit_check(!(c), __FILE__, __LINE__, name, "expected false: %s", #c)
#define ASSERT_OP(a, op, b, name) ({					\
	long long __a = (long long)(a), __b = (long long)(b);		\
	unit_check(__a op __b, __FILE__, __LINE__, name,		\
		   "expected %s %s %s, got %lld vs %lld",		\
		   #a, #op, #b, __a, __b);				\
})
#define ASSERT_EQ(a, b, name) ASSERT_OP(a, ==, b, name)
#define ASSERT_NEQ(a, b, name) ASSERT_OP(a, !=, b, name)
#define ASSERT_GE(a, b, name) ASSERT_OP(a, >=, b, name)
#define ASSERT_GT(a, b, name) ASSERT_OP(a, >, b, name)
#define ASSERT_LE(a, b, name) ASSERT_OP(a, <=, b, name)
#define ASSERT_LT(a, b, name) ASSERT_OP(a, <, b, name)
#define ASSERT_OK(r, name) ASSERT_OP(r, ==, 0, name)
#define ASSERT_STREQ(a, b, name) ({					\
	const char *__a = (a), *__b = (b);				\
	unit_check(__a && __b && !strcmp(__a, __b), __FILE__, __LINE__,\
		   name, "expected \"%s\", got \"%s\"",			\
		   __b ? __b : "(null)", __a ? __a : "(null)");		\
})

typedef void (*unit_fn)(void);

static inline int unit_run(const char *const *names, const unit_fn *fns,
			   int n)
{
	int pass = 0, fail = 0;

	for (int i = 0; i < n; i++) {
		int before = unit_failed_checks;

		fns[i]();
		if (unit_failed_checks == before) {
			printf("ok %s\n", names[i]);
			pass++;
		} else {
			printf("FAIL %s\n", names[i]);
			fail++;
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}

#define UNIT_STR_(...) #__VA_ARGS__
#define UNIT_MAIN(...)							\
int main(void)								\
{									\
	static const unit_fn fns[] = { __VA_ARGS__ };			\
	static const char names[] = UNIT_STR_(__VA_ARGS__);		\
	const char *v[sizeof(fns) / sizeof(fns[0])];			\
	static char buf[sizeof(names)];					\
	char *p = buf, *save = NULL;					\
	int i = 0;							\
									\
	memcpy(buf, names, sizeof(names));				\
	for (char *t = strtok_r(p, ", ", &save); t && i < (int)(sizeof(fns) / sizeof(fns[0])); \
	     t = strtok_r(NULL, ", ", &save))				\
		v[i++] = t;						\
	return unit_run(v, fns, i);					\
}

#endif
