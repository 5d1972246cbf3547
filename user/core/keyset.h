/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A set of non-zero 64-bit keys: open addressing, linear probing, grown
 * at half full, emptied without freeing. The reconcile round's removed
 * cookies and the sample scan's namespaces (core/dumps.c).
 */
#ifndef TCPW_KEYSET_H
#define TCPW_KEYSET_H

#include <stdbool.h>
#include <linux/types.h>

/* The keys: every non-zero v[i], i < cap. */
struct keyset {
	__u64 *v;
	__u32 n, cap;		/* cap: 0 or a power of two */
};

/* 0 (added or already there), or -ENOMEM; key must not be 0 */
int keyset_add(struct keyset *s, __u64 key);
bool keyset_has(const struct keyset *s, __u64 key);
void keyset_clear(struct keyset *s);
void keyset_free(struct keyset *s);

#endif
