// SPDX-License-Identifier: GPL-2.0
/* sd_notify(3) messages for Type=notify (notify.h). */
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "lib/notify.h"

void notify_ready(const char *status)
{
	if (status)
		sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	else
		sd_notify(0, "READY=1");
}

void notify_reloading(void)
{
	struct timespec ts;

	/* MONOTONIC_USEC: what systemd >= 253 wants with RELOADING=1 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL +
		   ts.tv_nsec / 1000);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}
