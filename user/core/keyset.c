// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/keyset.h"

static __u32 slot(__u64 key, __u32 cap)
{
	return (__u32)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static __u64 *probe(__u64 *v, __u32 cap, __u64 key)
{
	__u32 h = slot(key, cap);

	while (v[h] && v[h] != key)
		h = (h + 1) & (cap - 1);
	return &v[h];
}

static int grow(struct keyset *s)
{
	__u32 cap = s->cap ? s->cap * 2 : 64;
	__u64 *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < s->cap; i++)
		if (s->v[i])
			*probe(v, cap, s->v[i]) = s->v[i];
	free(s->v);
	s->v = v;
	s->cap = cap;
	return 0;
}

int keyset_add(struct keyset *s, __u64 key)
{
	__u64 *p;

	if ((s->n + 1) * 2 > s->cap && grow(s))
		return -ENOMEM;
	p = probe(s->v, s->cap, key);
	if (!*p) {
		*p = key;
		s->n++;
	}
	return 0;
}

bool keyset_has(const struct keyset *s, __u64 key)
{
	return s->n && *probe(s->v, s->cap, key) == key;
}

void keyset_clear(struct keyset *s)
{
	if (s->n)
		memset(s->v, 0, s->cap * sizeof(*s->v));
	s->n = 0;
}

void keyset_free(struct keyset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
