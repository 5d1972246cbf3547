// SPDX-License-Identifier: GPL-2.0
/* The table's multimap of 64-bit keys to indices (core/idx_map.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/table.h"


int idx_init(struct idx_map *m, __u32 buckets)
{
	memset(m, 0, sizeof(*m));
	m->heads = malloc(buckets * sizeof(*m->heads));
	if (!m->heads)
		return -ENOMEM;
	memset(m->heads, 0xff, buckets * sizeof(*m->heads));
	m->mask = buckets - 1;
	m->free = TABLE_NIL;
	return 0;
}

void idx_destroy(struct idx_map *m)
{
	free(m->v);
	free(m->heads);
	memset(m, 0, sizeof(*m));
}

static int idx_grow_heads(struct idx_map *m)
{
	__u32 n = (m->mask + 1) * 2, *h;

	h = malloc(n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h, 0xff, n * sizeof(*h));
	for (__u32 i = 0; i < m->cap; i++) {
		struct idx_node *nd = &m->v[i];

		if (nd->idx == TABLE_NIL)
			continue;
		nd->next = h[hash64(nd->key) & (n - 1)];
		h[hash64(nd->key) & (n - 1)] = i;
	}
	free(m->heads);
	m->heads = h;
	m->mask = n - 1;
	return 0;
}

int idx_add(struct idx_map *m, __u64 key, __u32 idx)
{
	__u32 i, b;

	if (m->free == TABLE_NIL) {
		__u32 ncap = m->cap ? m->cap * 2 : 64;
		struct idx_node *v = realloc(m->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (i = m->cap; i < ncap; i++) {
			v[i].idx = TABLE_NIL;
			v[i].next = i + 1 < ncap ? i + 1 : TABLE_NIL;
		}
		m->v = v;
		m->free = m->cap;
		m->cap = ncap;
	}
	if (m->count >= m->mask + 1 && idx_grow_heads(m))
		return -ENOMEM;
	i = m->free;
	m->free = m->v[i].next;
	b = hash64(key) & m->mask;
	m->v[i] = (struct idx_node){ .key = key, .idx = idx,
				     .next = m->heads[b] };
	m->heads[b] = i;
	m->count++;
	return 0;
}

void idx_del(struct idx_map *m, __u64 key, __u32 idx)
{
	__u32 *pp = &m->heads[hash64(key) & m->mask];

	while (*pp != TABLE_NIL) {
		struct idx_node *nd = &m->v[*pp];

		if (nd->key == key && nd->idx == idx) {
			__u32 i = *pp;

			*pp = nd->next;
			nd->idx = TABLE_NIL;
			nd->next = m->free;
			m->free = i;
			m->count--;
			return;
		}
		pp = &nd->next;
	}
}
