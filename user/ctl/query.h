/* SPDX-License-Identifier: GPL-2.0 */
/* Answers to the control socket's requests, read from the daemon's state. */
#ifndef TCPW_QUERY_H
#define TCPW_QUERY_H

#include "lib/json.h"

struct daemon;

struct query_cursor;

struct query_cmd {
	const char *name;
	void (*fn)(struct daemon *d, struct jbuf *b, char **argv, int argc);
	/*
	 * For answers that can be big (ls): start the answer in b and
	 * return a cursor that query_next() resumes; NULL when the answer
	 * is already whole in b (an error). The control socket uses this
	 * to stream in bounded chunks; fn is the whole answer at once.
	 */
	struct query_cursor *(*open)(struct daemon *d, struct jbuf *b,
				     char **argv, int argc);
};

/* The requests, ends with an empty entry: adding one is adding a row. */
extern const struct query_cmd query_cmds[];

/*
 * Append the next rows to b until b->len reaches want, or the end.
 * Returns true when the answer is complete. The table may change
 * between calls: the rows are the sockets that matched when the answer
 * was opened, in its order; a socket gone by its turn is skipped, one
 * born since is not listed, so each socket present for the whole answer
 * is listed exactly once, as it is at its turn.
 */
bool query_next(struct daemon *d, struct query_cursor *c, struct jbuf *b,
		size_t want);
void query_cursor_free(struct query_cursor *c);

void query_ls(struct daemon *d, struct jbuf *b, char **argv, int argc);
void query_stats(struct daemon *d, struct jbuf *b, char **argv, int argc);
void query_diag(struct daemon *d, struct jbuf *b, char **argv, int argc);

#endif
