// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the kernel module source lands (issue 3). */
#include <errno.h>
#include <stdio.h>

#include "source.h"

static int kmod_open(struct source **out, const struct source_opts *opts,
		     char *err, size_t errlen)
{
	snprintf(err, errlen, "kernel module source not built");
	return -ENOTSUP;
}

const struct source_ops source_kmod_ops = {
	.name = "kmod",
	.open = kmod_open,
};
