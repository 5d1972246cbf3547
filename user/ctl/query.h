/* SPDX-License-Identifier: GPL-2.0 */
/* Answers to the control socket's requests, read from the daemon's state. */
#ifndef TCPW_QUERY_H
#define TCPW_QUERY_H

#include "lib/json.h"

struct daemon;

struct query_cmd {
	const char *name;
	void (*fn)(struct daemon *d, struct jbuf *b, char **argv, int argc);
};

/* The requests, ends with an empty entry: adding one is adding a row. */
extern const struct query_cmd query_cmds[];

void query_ls(struct daemon *d, struct jbuf *b, char **argv, int argc);
void query_stats(struct daemon *d, struct jbuf *b, char **argv, int argc);
void query_diag(struct daemon *d, struct jbuf *b, char **argv, int argc);

#endif
