/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels tcpwatch loads on, handled with CO-RE
 * at load time (never LINUX_VERSION_CODE). Each says what changed.
 */
#ifndef TCPW_CORE_FIXES_BPF_H
#define TCPW_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * sock flags: `unsigned long sk_flags` was a member of struct sock until
 * kernel commit 8e5eb54d303b ("net: align sk_refcnt on 128 bytes
 * boundary", Eric Dumazet, 2015-10-08, v4.4) moved it into struct
 * sock_common as skc_flags, next to the other hot fields; since then
 * sock.h only has `#define sk_flags __sk_common.skc_flags` and BTF has
 * no sk_flags at all. The fallback reads the pre-4.4 layout.
 */
struct sock___pre_skc_flags {
	unsigned long sk_flags;
} __attribute__((preserve_access_index));

struct sock_common___skc_flags {
	unsigned long skc_flags;
} __attribute__((preserve_access_index));

static __always_inline unsigned long sock_flags(const struct sock *sk)
{
	if (bpf_core_field_exists(struct sock_common___skc_flags, skc_flags))
		return ((const struct sock_common___skc_flags *)
			&sk->__sk_common)->skc_flags;
	return ((const struct sock___pre_skc_flags *)sk)->sk_flags;
}

#endif
