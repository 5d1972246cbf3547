/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket: a module of the daemon that nothing else depends
 * on (only main.c includes this). It registers its socket and its
 * timeouts with the daemon's loop and answers through ctl/query.h.
 */
#ifndef TCPW_CTL_H
#define TCPW_CTL_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;

/* Ends a complete answer when the request asked for it ("end=1"). */
#define CTL_END	"\036end\n"
/* A client that takes nothing of its answer this long is dropped. */
#define CTL_IDLE_NS	(30ULL * 1000000000ULL)

/*
 * Split a request line (in[0..len), in has room for a NUL at in[len])
 * into at most max words, in place; "end=1" sets *end and is not a
 * word. Returns the count, or 0 with *err saying why.
 */
int ctl_parse(char *in, size_t len, char **argv, int max, bool *end,
	      const char **err);

/*
 * Take PATH.lock (flock) so that one daemon only ever serves path;
 * creates path's directory (0700). Call before loading anything: a
 * second daemon refuses here, with a message, having attached nothing.
 * The lock is held until the process ends.
 */
int ctl_lock(const char *path);
/* Listen on path (root-only) and hang the socket off d's loop. */
int ctl_attach(struct daemon *d, const char *path);
/* --ctl-group NAME: the socket 0660, owned by that group. */
int ctl_grant_group(const char *name);

#endif
