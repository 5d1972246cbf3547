/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small multimap from a 64-bit key to table indices (the table's
 * listener and TIME_WAIT tuple indexes): chained buckets of nodes from
 * a free list, no allocation per entry once grown. Empty links are
 * TABLE_NIL. Only core/table.c uses it.
 */
#ifndef TCPW_IDX_MAP_H
#define TCPW_IDX_MAP_H

#include <linux/types.h>

/* A small multimap from a 64-bit key to table indices. */
struct idx_node {
	__u64 key;
	__u32 idx;
	__u32 next;
};

struct idx_map {
	struct idx_node *v;
	__u32 cap, free, count;
	__u32 *heads;
	__u32 mask;
};

static inline __u32 hash64(__u64 k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (__u32)k;
}

/* buckets: a power of two */
int idx_init(struct idx_map *m, __u32 buckets);
void idx_destroy(struct idx_map *m);
/* 0, or -ENOMEM */
int idx_add(struct idx_map *m, __u64 key, __u32 idx);
void idx_del(struct idx_map *m, __u64 key, __u32 idx);

#endif
