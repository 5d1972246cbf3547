// SPDX-License-Identifier: GPL-2.0
/*
 * Drop reason names, always the running kernel's own: enum
 * skb_drop_reason from its BTF (the BPF source), or the module's copy of
 * the kernel's drop_reasons[] (the kmod source). Never a table of ours:
 * values differ between kernels (6.3 inserted SKB_CONSUMED before all
 * of them) and every release adds some.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "source/source.h"

#define REASONS_MAX	4096	/* core reasons; subsystems' are above */
#define PREFIX		"SKB_DROP_REASON_"

const char *source_reason_name(const struct source *s, __u32 reason)
{
	if (!s || reason >= s->nr_reasons || !s->reasons[reason] ||
	    !s->reasons[reason][0])
		return NULL;
	return s->reasons[reason];
}

int source_set_reason(struct source *s, __u32 reason, const char *name)
{
	char **v;

	if (reason >= REASONS_MAX)
		return -ERANGE;
	if (reason >= s->nr_reasons) {
		v = realloc(s->reasons, (reason + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + s->nr_reasons, 0,
		       (reason + 1 - s->nr_reasons) * sizeof(*v));
		s->reasons = v;
		s->nr_reasons = reason + 1;
	}
	free(s->reasons[reason]);
	s->reasons[reason] = name ? strdup(name) : NULL;
	return name && !s->reasons[reason] ? -ENOMEM : 0;
}

void source_free_reasons(struct source *s)
{
	for (__u32 i = 0; i < s->nr_reasons; i++)
		free(s->reasons[i]);
	free(s->reasons);
	s->reasons = NULL;
	s->nr_reasons = 0;
}

/* SKB_DROP_REASON_X as X; the markers (_MAX, _SUBSYS_MASK) left out. */
int source_reasons_from_btf(struct source *s, const void *btf_)
{
	const struct btf *btf = btf_;
	const struct btf_type *t;
	const struct btf_enum *e;
	int id, ret;

	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0)
		return id;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, e++) {
		const char *n = btf__name_by_offset(btf, e->name_off);

		if (!n || strncmp(n, PREFIX, strlen(PREFIX)))
			continue;
		n += strlen(PREFIX);
		if (!strcmp(n, "MAX") || !strncmp(n, "SUBSYS_", 7) ||
		    (__u32)e->val >= REASONS_MAX)
			continue;
		ret = source_set_reason(s, (__u32)e->val, n);
		if (ret)
			return ret;
	}
	return 0;
}
