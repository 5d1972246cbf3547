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

/*
 * A socket's cgroup: since kernel commit 8520e224f547 ("bpf, cgroups:
 * Fix cgroup v2 fallback on v1/v2 mixed mode", Daniel Borkmann,
 * 2021-09-13, v5.15) sock_cgroup_data holds a plain `struct cgroup
 * *cgroup`. Before it, a `u64 val` was that pointer, unless bit 0 said it
 * held net_cls/net_prio data instead (the kernel then fell back to the
 * root cgroup: unknown here). Without CONFIG_SOCK_CGROUP_DATA there is
 * no sk_cgrp_data at all.
 */
struct sock_cgroup_data___pre515 {
	__u64 val;
} __attribute__((preserve_access_index));

struct sock___pre515 {
	struct sock_cgroup_data___pre515 sk_cgrp_data;
} __attribute__((preserve_access_index));

/*
 * The address of a socket's cgroup (0: none), by probe reads: for any
 * struct sock pointer, typed or not (a request sock's listener).
 */
static __always_inline __u64 sock_cgroup_addr(const struct sock *sk)
{
	__u64 v = 0;

	if (!bpf_core_field_exists(struct sock, sk_cgrp_data))
		return 0;
	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		bpf_core_read(&v, sizeof(v), &sk->sk_cgrp_data.cgroup);
		return v;
	}
	bpf_core_read(&v, sizeof(v),
		      &((const struct sock___pre515 *)sk)->sk_cgrp_data.val);
	return v & 1 ? 0 : v;
}

/* The id of the cgroup at addr (0: none), by probe reads. */
static __always_inline __u64 cgroup_addr_id(__u64 addr)
{
	const struct cgroup *cg = (const struct cgroup *)addr;

	return addr ? BPF_CORE_READ(cg, kn, id) : 0;
}

/*
 * The cgroup id of a full socket the program has as a BTF pointer:
 * direct loads, no helper call, on every kernel since 5.15.
 */
static __always_inline __u64 sock_cgroup_id(const struct sock *sk)
{
	const struct cgroup *cg;

	if (!bpf_core_field_exists(struct sock, sk_cgrp_data))
		return 0;
	if (!bpf_core_field_exists(struct sock_cgroup_data, cgroup))
		return cgroup_addr_id(sock_cgroup_addr(sk));
	cg = sk->sk_cgrp_data.cgroup;
	return cg ? cg->kn->id : 0;
}

/*
 * Ancestry: kernel commit 7f203bc89eb6 ("cgroup: Replace
 * cgroup->ancestor_ids[] with ->ancestors[]", Tejun Heo, 2022-07-29,
 * v6.1) replaced the array of ancestor ids with one of ancestor
 * pointers; both hold every ancestor from the root (level 0) to the
 * cgroup itself.
 */
struct cgroup___pre61 {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

/* Whether the cgroup at addr is the one with this id at this level, or
 * below it (cgroup_is_descendant()). */
static __always_inline bool cgroup_addr_under(__u64 addr, __u64 id,
					      __u32 level)
{
	const struct cgroup *cg = (const struct cgroup *)addr;
	__u64 anc = 0, off;

	if (!addr || (__u32)BPF_CORE_READ(cg, level) < level)
		return false;
	if (bpf_core_field_exists(struct cgroup, ancestors)) {
		off = bpf_core_field_offset(struct cgroup, ancestors);
		bpf_probe_read_kernel(&anc, sizeof(anc),
				      (void *)(addr + off + level * 8ULL));
		return cgroup_addr_id(anc) == id;
	}
	off = bpf_core_field_offset(struct cgroup___pre61, ancestor_ids);
	bpf_probe_read_kernel(&anc, sizeof(anc),
			      (void *)(addr + off + level * 8ULL));
	return anc == id;
}

#endif
