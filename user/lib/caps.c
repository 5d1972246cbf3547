// SPDX-License-Identifier: GPL-2.0
/* caps_keep (caps.h). */
#include <cap-ng.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "lib/caps.h"

int caps_keep(const int *caps, int n)
{
	bool have[64] = { false };
	int err;

	capng_get_caps_process();
	for (int i = 0; i < n; i++)
		have[i] = capng_have_capability(CAPNG_PERMITTED, caps[i]);
	capng_clear(CAPNG_SELECT_CAPS);
	for (int i = 0; i < n; i++)
		if (have[i] && capng_update(CAPNG_ADD,
					    CAPNG_EFFECTIVE | CAPNG_PERMITTED,
					    caps[i]))
			return -EINVAL;
	/* The bounding set is the unit's (CapabilityBoundingSet=). */
	err = capng_apply(CAPNG_SELECT_CAPS);
	if (err) {
		fprintf(stderr, "tcpwatch: cannot drop capabilities (capng_apply: %d)\n",
			err);
		return -EPERM;
	}
	return 0;
}
