/* SPDX-License-Identifier: GPL-2.0 */
/*
 * systemd's readiness protocol (sd_notify(3)): READY=1 once the daemon
 * is seeded and serving, RELOADING=1 around a SIGHUP, STOPPING=1. Each
 * call does nothing when the daemon was not started by systemd
 * (no $NOTIFY_SOCKET).
 */
#ifndef TCPW_NOTIFY_H
#define TCPW_NOTIFY_H

/* READY=1, with STATUS=status unless NULL */
void notify_ready(const char *status);
void notify_reloading(void);
void notify_stopping(void);

#endif
