/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `tcpwatch top`'s screen (ncurses): the totals, the sockets, the
 * findings and a key line, laid out for the terminal's size; columns
 * are dropped or narrowed to fit, down to 80x24. Draws, reads no keys.
 */
#ifndef TCPW_TOP_SCREEN_H
#define TCPW_TOP_SCREEN_H

#include <stdbool.h>

#include "top/snap.h"

/* What the screen shows besides the snapshot. */
struct view {
	const struct snap *s;
	const struct snap_query *q;
	const char *netns_label;	/* the netns filter as typed */
	unsigned int delay_ms;
	const char *status;		/* an error or a message, or NULL */
};

/* The keys, one line each: the help screen and the docs say the same. */
extern const char *const screen_keys[];

/* How many socket rows fit on a lines x cols screen beside s's findings. */
int screen_table_rows(int lines, int cols, const struct snap *s);
void screen_draw(const struct view *v);
void screen_help(void);
/* The bottom line, for a prompt: clear it, write text, leave the cursor. */
void screen_prompt(const char *text);

#endif
