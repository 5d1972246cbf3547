// SPDX-License-Identifier: GPL-2.0
/* Source selection: BPF, the kernel module, or whichever works. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "source/source.h"

int source_parse_kind(const char *s, enum source_kind *out)
{
	if (!strcmp(s, "auto"))
		*out = SOURCE_AUTO;
	else if (!strcmp(s, "bpf"))
		*out = SOURCE_BPF;
	else if (!strcmp(s, "kmod"))
		*out = SOURCE_KMOD;
	else
		return -EINVAL;
	return 0;
}

int source_open(struct source **out, enum source_kind kind,
		const struct source_opts *opts, char *err, size_t errlen)
{
	char bpf_err[256], kmod_err[256];
	int ret;

	switch (kind) {
	case SOURCE_BPF:
		return source_bpf_ops.open(out, opts, err, errlen);
	case SOURCE_KMOD:
		return source_kmod_ops.open(out, opts, err, errlen);
	case SOURCE_AUTO:
		break;
	}
	ret = source_bpf_ops.open(out, opts, bpf_err, sizeof(bpf_err));
	if (!ret)
		return 0;
	ret = source_kmod_ops.open(out, opts, kmod_err, sizeof(kmod_err));
	if (!ret)
		return 0;
	snprintf(err, errlen,
		 "no event source: BPF failed (%s); kernel module failed (%s)",
		 bpf_err, kmod_err);
	return ret;
}

int source_fd(struct source *s)
{
	return s->ops->fd(s);
}

int source_consume(struct source *s, source_cb cb, void *ctx)
{
	return s->ops->consume(s, cb, ctx);
}

int source_stats(struct source *s, struct tcpw_stats *st)
{
	memset(st, 0, sizeof(*st));
	return s->ops->stats(s, st);
}

bool source_samples(const struct source *s)
{
	return s->ops->sample != NULL;
}

int source_sample(void *s, __u64 *out)
{
	struct source *src = s;

	return src->ops->sample(src, out);
}

const char *source_name(const struct source *s)
{
	return s->ops->name;
}

__u64 source_drop_folded(struct source *s)
{
	return s && s->ops->drop_folded ? s->ops->drop_folded(s) : 0;
}

int source_lost_netns(struct source *s, struct tcpw_lost_netns *out)
{
	return s && s->ops->lost_netns ? s->ops->lost_netns(s, out) : -ENOTTY;
}

void source_close(struct source *s)
{
	if (s)
		s->ops->close(s);	/* frees the reason names too */
}
