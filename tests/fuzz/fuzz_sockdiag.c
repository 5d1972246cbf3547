// SPDX-License-Identifier: GPL-2.0
/*
 * The sock_diag reply parser: one message of any bytes, its length
 * field set to what was received (the receive loop's NLMSG_OK check).
 */
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/sockdiag.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct nlmsghdr *nlh;
	struct sd_sock s;

	if (size < sizeof(*nlh) || size > 65536)
		return 0;
	/* its own allocation, so ASan sees any read past the message */
	nlh = malloc(size);
	if (!nlh)
		return 0;
	memcpy(nlh, data, size);
	nlh->nlmsg_len = size;
	sd_parse(nlh, &s);
	free(nlh);
	return 0;
}
