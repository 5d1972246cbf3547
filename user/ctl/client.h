/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket's client side: one request, one answer. What the
 * CLI commands (ls, stats, diag) and `tcpwatch top` use; it knows the
 * protocol (ctl.h's CTL_END), not the daemon.
 */
#ifndef TCPW_CLIENT_H
#define TCPW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr_un;

/* path as a unix socket address; -ENAMETOOLONG if it does not fit */
int ctl_addr(const char *path, struct sockaddr_un *sa);

/* Takes the answer piece by piece, CTL_END stripped; false: stop. */
typedef bool (*ctl_sink)(void *ctx, const char *p, size_t n);

/*
 * Send req to the daemon at path and hand its answer to sink. Returns
 * 0 when the answer came whole, else a negative errno with what went
 * wrong in err (one or more lines, no "tcpwatch: " prefix, no final
 * newline). timeout_ms > 0 bounds each wait on the daemon (connect,
 * each read): -ETIMEDOUT past it.
 */
int ctl_fetch(const char *path, const char *req, ctl_sink sink, void *ctx,
	      int timeout_ms, char *err, size_t errlen);

/* ctl_fetch to stdout, errors to stderr: the CLI's queries */
int ctl_request(const char *path, const char *req);

#endif
