// SPDX-License-Identifier: GPL-2.0
/* Drawing `tcpwatch top`: every line cut to the width, nothing wraps. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "lib/format.h"
#include "top/screen.h"

const char *const screen_keys[] = {
	"q         quit",
	"h or ?    this help; any key returns",
	"R         sort by retransmits, most first",
	"A         sort by age in the current state, oldest first",
	"Q         sort by queued bytes (Recv-Q + Send-Q), most first",
	"O         sort by owner (command, then pid); unknown owners last",
	"N         sort by netns, state, ports (as tcpwatch ls)",
	"s         filter by state (e.g. close-wait); empty: any",
	"p         filter by port, local or remote; empty: any",
	"n         filter by network namespace (name or inode); empty: any",
	"c         clear the filters",
	"space     refresh now",
	NULL,
};

/* What the columns mean, under the keys on the help screen. */
static const char *const screen_columns[] = {
	"Recv-Q, Send-Q  bytes queued (Queued: both, on narrow screens);",
	"                from the daemon's samples (run --sample-ms)",
	"In-state        time in the current state",
	"Retr, Rst       retransmits; resets sent and received",
	"Owner           pid/command of the process holding the socket",
	NULL,
};

enum col_id {
	C_STATE, C_RQ, C_SQ, C_Q, C_LOCAL, C_PEER, C_INSTATE, C_RETR, C_RST,
	C_OWNER, C_NETNS, C_END = -1,
};

static const struct {
	const char *name;
	int w;			/* 0: the owner's or an address's */
	bool right;
} cols[] = {
	[C_STATE] = { "State", 11, false },
	[C_RQ] = { "Recv-Q", 6, true },
	[C_SQ] = { "Send-Q", 6, true },
	[C_Q] = { "Queued", 6, true },
	[C_LOCAL] = { "Local Address:Port", 0, false },
	[C_PEER] = { "Peer Address:Port", 0, false },
	[C_INSTATE] = { "In-state", 8, true },
	[C_RETR] = { "Retr", 4, true },
	[C_RST] = { "Rst", 3, true },
	[C_OWNER] = { "Owner", 0, false },
	[C_NETNS] = { "Netns", 10, true },
};

/* Column sets from the widest; the first whose addresses get ADDR_MIN. */
#define ADDR_MIN	21
static const struct colset {
	int owner_w;
	int c[12];
} sets[] = {
	{ 20, { C_STATE, C_RQ, C_SQ, C_LOCAL, C_PEER, C_INSTATE, C_RETR,
		C_RST, C_OWNER, C_NETNS, C_END } },
	{ 18, { C_STATE, C_RQ, C_SQ, C_LOCAL, C_PEER, C_INSTATE, C_RETR,
		C_RST, C_OWNER, C_END } },
	{ 14, { C_STATE, C_Q, C_LOCAL, C_PEER, C_INSTATE, C_RETR, C_OWNER,
		C_END } },
};
#define NSETS	(sizeof(sets) / sizeof(*sets))

/* The widest set that leaves each address ADDR_MIN (the last set: what is left). */
static const struct colset *colset_for(int width, int *addr_w)
{
	size_t i;

	for (i = 0; i < NSETS; i++) {
		int fixed = 0, n = 0;

		for (const int *c = sets[i].c; *c != C_END; c++, n++)
			fixed += *c == C_OWNER ? sets[i].owner_w : cols[*c].w;
		*addr_w = (width - fixed - (n - 1)) / 2;
		if (*addr_w >= ADDR_MIN)
			break;
	}
	if (i == NSETS)
		i--;
	if (*addr_w > 47)
		*addr_w = 47;
	if (*addr_w < 1)
		*addr_w = 1;
	return &sets[i];
}

static int col_width(const struct colset *set, int c, int addr_w)
{
	return c == C_OWNER ? set->owner_w : cols[c].w ? cols[c].w : addr_w;
}

/*
 * Append text to line[*at..], padded or cut to w columns, then a space.
 * An address too long keeps its end (the port) behind a '~'.
 */
static void cell(char *line, size_t size, size_t *at, const char *text,
		 int w, bool right, bool keep_end)
{
	int len = strlen(text);

	if (*at + w + 2 > size)
		return;
	if (len > w && keep_end)
		*at += sprintf(line + *at, "~%s", text + len - (w - 1));
	else if (right)
		*at += sprintf(line + *at, "%*.*s", w, w, text);
	else
		*at += sprintf(line + *at, "%-*.*s", w, w, text);
	line[(*at)++] = ' ';
	line[*at] = 0;
}

/* A line at y, cut to the width; the last column of the last line
 * is never written (it would scroll some terminals). */
static void put(int y, int attr, const char *text)
{
	int w = COLS - (y == LINES - 1);

	if (y < 0 || y >= LINES || w <= 0)
		return;
	attrset(attr);
	mvaddnstr(y, 0, text, w);
	attrset(A_NORMAL);
}

/* v in w columns: as is if it fits, else in K, M, G, T (x1024) */
static void fmt_num(char *out, size_t n, __u64 v, int w)
{
	static const char units[] = "KMGT";
	double x = v;

	if (snprintf(out, n, "%llu", (unsigned long long)v) <= w)
		return;
	for (const char *u = units; *u; u++) {
		x /= 1024;
		if (snprintf(out, n, "%.0f%c", x, *u) <= w)
			return;
	}
}

static void row_text(const struct snap_row *r, const struct colset *set,
		     int addr_w, char *line, size_t size)
{
	size_t at = 0;

	line[0] = 0;
	for (const int *c = set->c; *c != C_END; c++) {
		char v[64];
		int w = col_width(set, *c, addr_w);

		switch (*c) {
		case C_STATE:
			snprintf(v, sizeof(v), "%s", r->state);
			break;
		case C_RQ:
			fmt_num(v, sizeof(v), r->recvq, w);
			break;
		case C_SQ:
			fmt_num(v, sizeof(v), r->sendq, w);
			break;
		case C_Q:
			fmt_num(v, sizeof(v), r->recvq + r->sendq, w);
			break;
		case C_LOCAL:
		case C_PEER:
			cell(line, size, &at, *c == C_LOCAL ? r->local : r->peer,
			     w, false, true);
			continue;
		case C_INSTATE:
			duration_str(v, sizeof(v), r->in_state_ms * 1000000ULL);
			break;
		case C_RETR:
			fmt_num(v, sizeof(v), r->retrans, w);
			break;
		case C_RST:
			fmt_num(v, sizeof(v), r->rst, w);
			break;
		case C_OWNER:
			if (r->pid)
				snprintf(v, sizeof(v), "%u/%s", r->pid, r->comm);
			else
				snprintf(v, sizeof(v), "-");
			break;
		case C_NETNS:
			fmt_num(v, sizeof(v), r->netns, w);
			break;
		}
		cell(line, size, &at, v, w, cols[*c].right, false);
	}
}

static void header_text(const struct colset *set, int addr_w, char *line,
			size_t size)
{
	size_t at = 0;

	line[0] = 0;
	for (const int *c = set->c; *c != C_END; c++) {
		int w = col_width(set, *c, addr_w);
		const char *name = cols[*c].name;

		if ((int)strlen(name) > w)	/* "Local Address:Port" */
			name = *c == C_LOCAL ? "Local" : "Peer";
		cell(line, size, &at, name, w, cols[*c].right, false);
	}
}

/* "NAME N" per state, as many lines as they take (at most max). */
static int states_lines(const struct snap *s, int width, int max, int y)
{
	char line[512];
	size_t at = 0;
	int n = 0;

	line[0] = 0;
	for (int i = 0; i < s->nstates && n < max; i++) {
		char one[48];
		int len = snprintf(one, sizeof(one), "%s %llu", s->states[i].name,
				   (unsigned long long)s->states[i].n);

		if (at && (int)(at + 2 + len) > width) {
			if (y >= 0)
				put(y + n, A_NORMAL, line);
			n++;
			at = 0;
		}
		if (n == max)
			break;
		at += snprintf(line + at, sizeof(line) - at, "%s%s",
			       at ? "  " : "", one);
		if (at >= sizeof(line))
			at = sizeof(line) - 1;
	}
	if (n < max) {
		if (y >= 0)
			put(y + n, A_NORMAL, at ? line : "no sockets");
		n++;
	}
	return n;
}

/* The findings pane's rows: all of them, up to a third of what is left. */
static int findings_rows(int avail, const struct snap *s)
{
	int n = s->nfindings, cap = avail / 3;

	if (cap < 1)
		cap = 1;
	return n < cap ? n : cap;
}

/* The lines: title, states, filters, header, rows, findings, keys. */
struct layout {
	int states_y, nstates, filter_y, header_y, rows_y, nrows, find_y,
	    nfind;
};

static void layout(int lines, int cols_, const struct snap *s,
		   struct layout *l)
{
	int avail;

	l->states_y = 1;
	l->nstates = states_lines(s, cols_, 3, -1);
	l->filter_y = l->states_y + l->nstates;
	l->header_y = l->filter_y + 1;
	l->rows_y = l->header_y + 1;
	/* what is left between the header and the key line, minus the
	 * findings title */
	avail = lines - l->rows_y - 2;
	if (avail < 0)
		avail = 0;
	l->nfind = findings_rows(avail, s);
	l->nrows = avail - l->nfind;
	if (l->nrows < 0)
		l->nrows = 0;
	l->find_y = l->rows_y + l->nrows;
}

int screen_table_rows(int lines, int cols_, const struct snap *s)
{
	struct layout l;

	layout(lines, cols_, s, &l);
	return l.nrows;
}

static const char *sort_label(const char *sort)
{
	static const char *const labels[][2] = {
		{ "retrans", "retransmits" }, { "age", "age in state" },
		{ "queues", "queued bytes" }, { "owner", "owner" },
		{ "netns", "netns, state, ports" },
	};

	for (size_t i = 0; i < sizeof(labels) / sizeof(*labels); i++)
		if (!strcmp(sort, labels[i][0]))
			return labels[i][1];
	return sort;
}

static void title(const struct view *v)
{
	const struct snap *s = v->s;
	char line[256], up[24];

	duration_str(up, sizeof(up), s->uptime_ms * 1000000ULL);
	snprintf(line, sizeof(line),
		 "tcpwatch top - %s, up %s, %llu sockets, %llu events, %llu lost, every %.1fs",
		 s->source[0] ? s->source : "?", up,
		 (unsigned long long)s->sockets,
		 (unsigned long long)s->events, (unsigned long long)s->lost,
		 v->delay_ms / 1000.0);
	put(0, A_REVERSE, line);
	/* the reverse bar across the whole width */
	attrset(A_REVERSE);
	for (int x = strlen(line); x < COLS; x++)
		mvaddch(0, x, ' ');
	attrset(A_NORMAL);
}

static void filters(const struct view *v, int y)
{
	const struct snap_query *q = v->q;
	char line[320], f[200] = "";
	size_t n = 0;

	if (q->state >= 0)
		n += snprintf(f + n, sizeof(f) - n, " state %s",
			      state_name(q->state));
	if (q->port >= 0)
		n += snprintf(f + n, sizeof(f) - n, " port %d", q->port);
	if (q->netns && n < sizeof(f))
		snprintf(f + n, sizeof(f) - n, " netns %s", v->netns_label);
	snprintf(line, sizeof(line), "sort: %s   filter:%s   %u of %llu sockets",
		 sort_label(q->sort), f[0] ? f : " none", v->s->nrows,
		 (unsigned long long)v->s->matched);
	put(y, A_BOLD, line);
}

static void findings(const struct view *v, const struct layout *l)
{
	const struct snap *s = v->s;
	char line[512];

	if (s->findings_open)
		snprintf(line, sizeof(line), "Findings: %llu open%s",
			 (unsigned long long)s->findings_open,
			 s->findings_open > (__u64)l->nfind ?
			 " (tcpwatch diag: all, with evidence and fixes)" : "");
	else
		snprintf(line, sizeof(line), "Findings: none");
	put(l->find_y, A_BOLD, line);
	for (int i = 0; i < l->nfind; i++) {
		const struct snap_finding *f = &s->findings[i];
		char sev[12];
		size_t k;

		for (k = 0; f->severity[k] && k < sizeof(sev) - 1; k++)
			sev[k] = f->severity[k] >= 'a' && f->severity[k] <= 'z' ?
				 f->severity[k] - 32 : f->severity[k];
		sev[k] = 0;
		snprintf(line, sizeof(line), "%-8s %s: %s", sev, f->rule,
			 f->summary);
		put(l->find_y + 1 + i, strcmp(f->severity, "critical") ?
		    A_NORMAL : A_BOLD, line);
	}
}

void screen_draw(const struct view *v)
{
	const struct snap *s = v->s;
	const struct colset *set;
	struct layout l;
	char line[1024];
	int addr_w;

	erase();
	layout(LINES, COLS, s, &l);
	title(v);
	states_lines(s, COLS, l.nstates, l.states_y);
	filters(v, l.filter_y);
	set = colset_for(COLS, &addr_w);
	header_text(set, addr_w, line, sizeof(line));
	put(l.header_y, A_REVERSE, line);
	for (int i = 0; i < l.nrows && i < (int)s->nrows; i++) {
		row_text(&s->rows[i], set, addr_w, line, sizeof(line));
		put(l.rows_y + i, A_NORMAL, line);
	}
	findings(v, &l);
	if (v->status)
		put(LINES - 1, A_BOLD, v->status);
	else
		put(LINES - 1, A_NORMAL,
		    "q quit  h help  R A Q O N sort  s p n filter  c clear");
	refresh();
}

void screen_help(void)
{
	int y = 0;

	erase();
	put(y++, A_REVERSE, "tcpwatch top: keys");
	y++;
	for (const char *const *k = screen_keys; *k; k++)
		put(y++, A_NORMAL, *k);
	y++;
	for (const char *const *c = screen_columns; *c; c++)
		put(y++, A_NORMAL, *c);
	refresh();
}

void screen_prompt(const char *text)
{
	move(LINES - 1, 0);
	clrtoeol();
	attrset(A_BOLD);
	addnstr(text, COLS - 1);
	attrset(A_NORMAL);
	refresh();
}
