/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `tcpwatch top`: a live view of the running daemon, refreshed over the
 * control socket (ctl/client.h) through top/snap.h. A client only: the
 * daemon does not know it exists.
 */
#ifndef TCPW_TOP_H
#define TCPW_TOP_H

struct top_opts {
	const char *ctl_path;
	unsigned int delay_ms;		/* between refreshes */
};

/* Run until q (or SIGINT/SIGTERM/SIGHUP); 0, or 1 with a message on stderr. */
int top_run(const struct top_opts *o);

#endif
