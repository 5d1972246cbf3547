// SPDX-License-Identifier: GPL-2.0
/*
 * `tcpwatch top`: refresh a snapshot every delay, draw it, act on keys.
 * The terminal is given back as it was on q, on SIGINT/SIGTERM/SIGHUP,
 * and before any message.
 */
#include <curses.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/netns.h"
#include "lib/format.h"
#include "top/screen.h"
#include "top/snap.h"
#include "top/top.h"

struct top {
	const struct top_opts *o;
	struct snap_query q;
	struct snap s;
	char netns_label[64];
	char status[512];	/* shown on the key line until the next key */
	bool failed;		/* the last refresh failed: status says why */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

/* A new snapshot; on failure the last one stays, under the error. */
static void fetch(struct top *t)
{
	char err[sizeof(t->status)];
	int rows = screen_table_rows(LINES, COLS, &t->s);
	struct snap fresh = { 0 };

	t->q.limit = rows > 0 ? rows : 0;
	if (snap_fetch(t->o->ctl_path, &t->q, &fresh, err, sizeof(err))) {
		snap_free(&fresh);
		/* one line: the first of the message */
		err[strcspn(err, "\n")] = 0;
		snprintf(t->status, sizeof(t->status), "%s", err);
		t->failed = true;
		return;
	}
	snap_free(&t->s);
	t->s = fresh;
	if (t->failed) {
		t->status[0] = 0;
		t->failed = false;
	}
}

static void draw(struct top *t)
{
	struct view v = {
		.s = &t->s, .q = &t->q, .netns_label = t->netns_label,
		.delay_ms = t->o->delay_ms,
		.status = t->status[0] ? t->status : NULL,
	};

	screen_draw(&v);
}

/*
 * Read a line on the key line after label; false on Esc or when the
 * screen is asked to stop. Blocking: the view waits while one types.
 */
static bool prompt(const char *label, char *out, size_t n)
{
	size_t len = 0;
	char line[256];

	out[0] = 0;
	curs_set(1);
	timeout(-1);
	for (;;) {
		int ch;

		snprintf(line, sizeof(line), "%s%s", label, out);
		screen_prompt(line);
		ch = getch();
		if (stop || ch == 27) {
			curs_set(0);
			return false;
		}
		if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
			break;
		if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len)
			out[--len] = 0;
		else if (ch >= 32 && ch < 127 && len + 1 < n) {
			out[len++] = ch;
			out[len] = 0;
		}
	}
	curs_set(0);
	return true;
}

/* s, p, n: ask for the filter's value; empty clears it. */
static void ask_filter(struct top *t, int key)
{
	char in[64];
	__u32 ns;

	t->status[0] = 0;
	switch (key) {
	case 's':
		if (!prompt("state (e.g. close-wait; empty: any): ", in, sizeof(in)))
			return;
		if (!in[0]) {
			t->q.state = -1;
		} else if (state_parse(in) < 0) {
			snprintf(t->status, sizeof(t->status),
				 "unknown state \"%s\" (e.g. ESTABLISHED, TIME_WAIT, CLOSE_WAIT)",
				 in);
		} else {
			t->q.state = state_parse(in);
		}
		break;
	case 'p': {
		char *end;
		long v;

		if (!prompt("port (empty: any): ", in, sizeof(in)))
			return;
		v = strtol(in, &end, 10);
		if (!in[0])
			t->q.port = -1;
		else if (*end || v < 1 || v > 65535)
			snprintf(t->status, sizeof(t->status),
				 "bad port \"%s\": a port from 1 to 65535", in);
		else
			t->q.port = v;
		break;
	}
	case 'n':
		if (!prompt("netns (name, path or inode; empty: any): ", in,
			    sizeof(in)))
			return;
		if (!in[0])
			t->q.netns = 0;
		else if (netns_resolve(in, &ns))
			snprintf(t->status, sizeof(t->status),
				 "unknown network namespace \"%s\" (give a name from `ip netns`, a path or an inode)",
				 in);
		else {
			t->q.netns = ns;
			snprintf(t->netns_label, sizeof(t->netns_label), "%s",
				 in);
		}
		break;
	}
}

/* A key; true when the view must be fetched again. */
static bool on_key(struct top *t, int ch, bool *quit)
{
	static const struct {
		int key;
		const char *sort;	/* ls's sort= */
	} sorts[] = {
		{ 'R', "retrans" }, { 'A', "age" }, { 'Q', "queues" },
		{ 'O', "owner" }, { 'N', "netns" },
	};

	for (size_t i = 0; i < sizeof(sorts) / sizeof(*sorts); i++)
		if (ch == sorts[i].key) {
			t->q.sort = sorts[i].sort;
			return true;
		}
	switch (ch) {
	case 'q':
		*quit = true;
		return false;
	case 'h':
	case '?':
		screen_help();
		timeout(-1);
		getch();
		return true;
	case 's':
	case 'p':
	case 'n':
		ask_filter(t, ch);
		return true;
	case 'c':
		t->q.state = t->q.port = -1;
		t->q.netns = 0;
		return true;
	case ' ':
	case KEY_RESIZE:
		return true;
	}
	return false;
}

static void loop(struct top *t)
{
	__u64 next = 0;
	bool quit = false;

	while (!quit && !stop) {
		__u64 now = mono_ns();
		int ch;

		if (now >= next) {
			fetch(t);
			draw(t);
			next = now + t->o->delay_ms * 1000000ULL;
		}
		timeout((int)((next - now) / 1000000) + 1);
		ch = getch();
		if (ch == ERR)
			continue;
		if (!t->failed)
			t->status[0] = 0;
		if (on_key(t, ch, &quit))
			next = 0;
		else if (!quit)
			draw(t);
	}
}

int top_run(const struct top_opts *o)
{
	struct top t = {
		.o = o,
		.q = { .state = -1, .port = -1, .sort = "retrans", .limit = 1 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	SCREEN *scr;

	/* No daemon: say so as the other commands do, before the screen. */
	if (snap_fetch(o->ctl_path, &t.q, &t.s, err, sizeof(err))) {
		fprintf(stderr, "tcpwatch: %s\n", err);
		snap_free(&t.s);
		return 1;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "tcpwatch: top needs a terminal; use tcpwatch ls, stats or diag in scripts\n");
		snap_free(&t.s);
		return 1;
	}
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		fprintf(stderr, "tcpwatch: cannot use the terminal \"%s\" (set TERM)\n",
			getenv("TERM") ? getenv("TERM") : "");
		snap_free(&t.s);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	loop(&t);
	endwin();
	delscreen(scr);
	snap_free(&t.s);
	return 0;
}
