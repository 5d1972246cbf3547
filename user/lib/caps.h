/* SPDX-License-Identifier: GPL-2.0 */
/* Dropping capabilities once they are no longer needed (libcap-ng). */
#ifndef TCPW_CAPS_H
#define TCPW_CAPS_H

/*
 * Keep only caps[0..n) of this thread's effective and permitted sets,
 * and none inheritable; the ones it does not have stay out. Threads
 * created later inherit the result. 0, or -errno (printed).
 */
int caps_keep(const int *caps, int n);

#endif
