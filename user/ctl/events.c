// SPDX-License-Identifier: GPL-2.0
/*
 * Subscribers and the backlog (events.h).
 *
 * Every record the daemon makes passes through tap(): it is copied into
 * the backlog and into the buffer of each subscriber whose filter it
 * matches. The buffers are sent when they pass EVENTS_SUB_FLUSH and on
 * every tick, never waiting: EPOLLOUT resumes a full socket. Subscribers
 * are freed only in their own I/O callback or on the tick (a record
 * arrives while the loop is between callbacks of one epoll batch).
 *
 * An answer without follow=1 is a cursor into the backlog: a chunk of
 * at most EVENTS_SUB_KEEP bytes is copied each time the socket has
 * taken the previous one, so a 1 GiB backlog costs neither a 1 GiB
 * buffer nor a long callback. The writer may reuse a half the cursor
 * has not finished: before it overwrites bytes the cursor still needs,
 * it moves the cursor past them, counting the records it loses
 * (bl_overrun); the cursor says so with a "lost" record in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/daemon.h"
#include "ctl/ctl.h"
#include "ctl/events.h"

/* Send once this much is waiting, not only on the tick. */
#define EVENTS_SUB_FLUSH	(64u * 1024)
/* What a subscriber's buffer keeps once it has been sent. */
#define EVENTS_SUB_KEEP		(64u * 1024)
/* Room kept for the final lost record. */
#define EVENTS_SUB_SLACK	512
/* Backlog bytes a cursor looks at in one callback (a narrow filter
 * skips many records for each one it copies). */
#define EVENTS_SCAN_MAX		(1u << 20)
/* A subscriber that takes nothing for this long once cut off, or once
 * its answer is complete, is dropped. */
#define EVENTS_IDLE_NS		(30ULL * 1000000000ULL)
#define TYPE_MAX		16
#define TYPE_LEN		24

struct sub_filter {
	bool has_netns;
	__u32 netns;
	int nports, ntypes;
	__u32 states;		/* a bit per state; 0: any */
	__u16 ports[SOURCE_MAX_PORTS];
	struct {
		__u8 len;
		char s[TYPE_LEN];
	} types[TYPE_MAX];
};

/*
 * What an answer without follow=1 still has to send of one half of the
 * backlog: [off, stop) of ev.half[idx], while that half holds generation
 * gen (or the bytes past where its reuse has written so far).
 */
struct bl_seg {
	int idx;
	__u64 gen;
	size_t off, stop;
	__u64 lost;		/* overwritten before sent; not yet told */
};

struct sub {
	struct daemon_io io;	/* first: the loop's tag */
	struct sub *next;
	int fd;
	bool follow, end;
	bool cut;		/* its buffer filled: counting, then gone */
	bool done;		/* nothing more to add: close once sent */
	bool stalled;		/* EPOLLOUT armed */
	bool dead;		/* free on the tick */
	bool walking;		/* answering from the backlog (seg[k..1]) */
	bool overrun;		/* lost records to the backlog's writer */
	int k;
	struct bl_seg seg[2];	/* the older half's records, the newer's */
	__u64 from_ns;		/* records older than this are not asked */
	__u64 untold;		/* seg[..k]'s lost, for the next lost record */
	__u64 missed, since_ns;
	size_t off;		/* [off, out.len) still to send */
	size_t tried;		/* what was waiting at the last send */
	struct jbuf out;
	struct sub_filter f;
};

struct bl_hdr {
	__u32 len;
	__u32 pad;
	struct rec_meta m;
};

static struct {
	struct sub *subs;
	int n;
	struct events_stats st;
	/* The backlog: two halves, filled in turn; the older is dropped
	 * whole when the newer is full. Records of one half are in order,
	 * the older half's before the newer's. */
	struct {
		char *p;
		size_t len, records;
		__u64 gen;	/* +1 at each reuse of a half */
	} half[2];
	int cur;
	size_t half_cap;
	bool discard;		/* -n: records only while someone wants them */
} ev;

/* -n: make records only while a subscriber or the backlog takes them. */
static void want_records(struct daemon *d)
{
	if (ev.discard)
		d->has_out = ev.half_cap || ev.n;
}

/* ---- the backlog ---- */

static size_t bl_size(size_t len)
{
	return sizeof(struct bl_hdr) + ((len + 7) & ~(size_t)7);
}

static bool match(const struct sub_filter *f, const struct rec_meta *m,
		  const char *rec, size_t len);

/* The record at g->off: its header, and whether s asked for it. */
static bool bl_wanted(const struct sub *s, const struct bl_seg *g,
		      struct bl_hdr *h)
{
	const char *p = ev.half[g->idx].p + g->off;

	memcpy(h, p, sizeof(*h));
	return h->m.ts_ns >= s->from_ns &&
	       match(&s->f, &h->m, p + sizeof(*h), h->len);
}

/*
 * The writer is about to write ev.half[idx] up to until: move every
 * cursor still needing an older generation's bytes there past them,
 * counting the records it wanted. Each record is looked at once, by the
 * cursor or here: the work is that of the record being added.
 */
static void bl_overrun(int idx, size_t until)
{
	for (struct sub *s = ev.subs; s; s = s->next) {
		for (int i = s->k; s->walking && i < 2; i++) {
			struct bl_seg *g = &s->seg[i];
			struct bl_hdr h;

			if (g->idx != idx || g->gen == ev.half[idx].gen)
				continue;
			while (g->off < g->stop && g->off < until) {
				if (bl_wanted(s, g, &h)) {
					g->lost++;
					ev.st.overwritten++;
					if (!s->overrun)
						ev.st.overrun++;
					s->overrun = true;
				}
				g->off += bl_size(h.len);
			}
		}
	}
}

static void backlog_add(const char *rec, size_t len,
			const struct rec_meta *m)
{
	size_t need = bl_size(len);
	struct bl_hdr h = { .len = len, .m = *m };

	if (need > ev.half_cap)
		return;
	if (ev.half[ev.cur].len + need > ev.half_cap) {
		__u64 gen = ev.half[ev.cur].gen + 1;

		ev.cur ^= 1;
		ev.half[ev.cur].len = 0;
		ev.half[ev.cur].records = 0;
		ev.half[ev.cur].gen = gen;
	}
	if (ev.n)
		bl_overrun(ev.cur, ev.half[ev.cur].len + need);
	memcpy(ev.half[ev.cur].p + ev.half[ev.cur].len, &h, sizeof(h));
	memcpy(ev.half[ev.cur].p + ev.half[ev.cur].len + sizeof(h), rec, len);
	ev.half[ev.cur].len += need;
	ev.half[ev.cur].records++;
}

/* ---- filters ---- */

static bool match(const struct sub_filter *f, const struct rec_meta *m,
		  const char *rec, size_t len)
{
	if (m->sock) {
		if (f->has_netns && m->netns != f->netns)
			return false;
		if (f->states && !(f->states & (1u << m->state)))
			return false;
		if (f->nports) {
			int i;

			for (i = 0; i < f->nports; i++)
				if (m->sport == f->ports[i] ||
				    m->dport == f->ports[i])
					break;
			if (i == f->nports)
				return false;
		}
	}
	if (f->ntypes) {
		/* every record starts {"type":"TYPE" (emit_head) */
		const char *t = rec + 9, *q;

		if (len < 10 || !(q = memchr(t, '"', len - 9)))
			return false;
		for (int i = 0; i < f->ntypes; i++)
			if (f->types[i].len == q - t &&
			    !memcmp(f->types[i].s, t, q - t))
				return true;
		return false;
	}
	return true;
}

/* "a,b,c" one by one into fn; false when fn refuses one. */
static bool each_word(char *v, bool (*fn)(struct sub_filter *f, char *w),
		      struct sub_filter *f)
{
	char *save = NULL;

	for (char *w = strtok_r(v, ",", &save); w; w = strtok_r(NULL, ",", &save))
		if (!fn(f, w))
			return false;
	return true;
}

static bool add_type(struct sub_filter *f, char *w)
{
	size_t n = strlen(w);

	if (f->ntypes == TYPE_MAX || !n || n >= TYPE_LEN ||
	    strspn(w, "abcdefghijklmnopqrstuvwxyz_") != n)
		return false;
	f->types[f->ntypes].len = n;
	memcpy(f->types[f->ntypes++].s, w, n);
	return true;
}

static bool add_state(struct sub_filter *f, char *w)
{
	int s = state_parse(w);

	if (s <= 0 || s >= TCPW_STATE_MAX)
		return false;
	f->states |= 1u << s;
	return true;
}

static bool num(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(v, &end, 10);
	return !errno && end != v && !*end && *v != '-' && *out <= max;
}

static int parse(char **argv, int argc, struct sub *s, struct jbuf *err)
{
	struct sub_filter *f = &s->f;

	for (int i = 0; i < argc; i++) {
		char *k = argv[i], *v = strchr(k, '=');
		unsigned long n;
		bool ok = false;

		if (v) {
			*v++ = 0;
			if (!strcmp(k, "follow")) {
				ok = !strcmp(v, "1") || !strcmp(v, "0");
				s->follow = !strcmp(v, "1");
			} else if (!strcmp(k, "netns")) {
				ok = num(v, 0xffffffffUL, &n);
				f->has_netns = true;
				f->netns = n;
			} else if (!strcmp(k, "port")) {
				ok = num(v, 65535, &n) && n &&
				     f->nports < SOURCE_MAX_PORTS;
				if (ok)
					f->ports[f->nports++] = n;
			} else if (!strcmp(k, "type")) {
				ok = each_word(v, add_type, f);
			} else if (!strcmp(k, "state")) {
				ok = each_word(v, add_state, f);
			}
			v[-1] = '=';	/* whole again, for the message */
		}
		if (!ok) {
			json_lit(err, "error: bad events filter \"");
			json_raw(err, argv[i], strlen(argv[i]));
			json_lit(err, "\"\n");
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- subscribers ---- */

static void sub_watch(struct daemon *d, struct sub *s, bool out)
{
	/* 0: EPOLLHUP and EPOLLERR still say when the client is gone */
	if (s->stalled != out && !daemon_io_mod(d, s->fd, out ? EPOLLOUT : 0,
						&s->io))
		s->stalled = out;
}

/*
 * What s missed: the final record of a follower cut off, or, in place,
 * the records an answer from the backlog lost to its writer. The caller
 * adds the size of what overflowed and closes the record.
 */
static void sub_lost(struct daemon *d, struct sub *s, const char *where,
		     __u64 count)
{
	__u64 now = mono_ns();

	json_lit(&s->out, "{\"type\":\"lost\",\"time\":");
	json_time(&s->out, &d->wc, now);
	json_u64_field(&s->out, "ts_ns", now);
	json_name_field(&s->out, "where", where);
	json_u64_field(&s->out, "count", count);
}

/* The backlog's records for s from the time of its request on. */
static void bl_open(struct sub *s, __u64 now)
{
	s->from_ns = now > EVENTS_BACKLOG_NS ? now - EVENTS_BACKLOG_NS : 0;
	/* the end as of now: records made later are not this answer's */
	for (int i = 0; i < 2; i++) {
		int idx = ev.cur ^ (i == 0);

		s->seg[i] = (struct bl_seg){
			.idx = idx,
			.gen = ev.half[idx].gen,
			.stop = ev.half[idx].len,
		};
	}
	s->k = 0;
	s->walking = true;
}

/* The records an answer from the backlog lost, where they were. */
static void bl_tell(struct daemon *d, struct sub *s)
{
	if (!s->untold)
		return;
	sub_lost(d, s, "backlog", s->untold);
	json_u64_field(&s->out, "backlog_bytes", 2 * ev.half_cap);
	json_lit(&s->out, "}\n");
	s->untold = 0;
}

/*
 * The cursor's next chunk into s->out (empty): at most EVENTS_SUB_KEEP
 * bytes (one bigger record alone), after at most EVENTS_SCAN_MAX bytes
 * looked at. True when the answer is complete.
 */
static bool bl_next(struct daemon *d, struct sub *s)
{
	size_t seen = 0;

	for (; s->k < 2; s->k++) {
		struct bl_seg *g = &s->seg[s->k];

		/* one lost record for a gap across both halves */
		s->untold += g->lost;
		g->lost = 0;
		while (g->off < g->stop) {
			const char *rec = ev.half[g->idx].p + g->off;
			struct bl_hdr h;

			if (seen >= EVENTS_SCAN_MAX)
				return false;
			if (bl_wanted(s, g, &h)) {
				if (s->out.len && s->out.len + h.len >
				    EVENTS_SUB_KEEP - EVENTS_SUB_SLACK)
					return false;
				bl_tell(d, s);
				json_raw(&s->out, rec + sizeof(h), h.len);
				ev.st.sent++;
			}
			g->off += bl_size(h.len);
			seen += bl_size(h.len);
		}
	}
	bl_tell(d, s);
	s->walking = false;
	return true;
}

/* Send what the socket takes now, without waiting. */
static void sub_send(struct daemon *d, struct sub *s)
{
	bool filled = false;

	while (!s->dead) {
		ssize_t n;

		if (s->off == s->out.len) {
			s->off = s->out.len = 0;
			if (s->out.cap > EVENTS_SUB_KEEP) {
				/* a burst is over: give its memory back */
				json_free(&s->out);
				if (json_init(&s->out, -1, EVENTS_SUB_KEEP)) {
					s->dead = true;
					return;
				}
			}
			if (s->cut && !s->done) {
				/* caught up with its buffer: say what it
				 * missed, then it is disconnected */
				sub_lost(d, s, "subscriber", s->missed);
				json_u64_field(&s->out, "buffer_bytes",
					       EVENTS_SUB_BUF);
				json_lit(&s->out, "}\n");
				s->done = true;
				continue;
			}
			if (s->walking) {
				/* one chunk a callback: EPOLLOUT (the socket
				 * has room) calls again once the loop has
				 * seen to the rest */
				if (filled) {
					sub_watch(d, s, true);
					return;
				}
				filled = true;
				if (bl_next(d, s)) {
					if (s->end)
						json_lit(&s->out, CTL_END);
					s->done = true;
				}
				continue;
			}
			sub_watch(d, s, false);
			if (s->done) {
				/* complete: end our side; the client's
				 * close (EPOLLHUP) or the tick frees it */
				shutdown(s->fd, SHUT_WR);
				s->dead = !s->follow || s->cut;
			}
			return;
		}
		s->tried = 0;
		n = send(s->fd, s->out.p + s->off, s->out.len - s->off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			sub_watch(d, s, true);
			return;
		}
		if (n <= 0) {
			s->dead = true;	/* the client is gone */
			return;
		}
		s->off += n;
		s->since_ns = mono_ns();
	}
}

/* Keep the record for s, or cut s off when its buffer is full. */
static void sub_add(struct daemon *d, struct sub *s, const char *rec,
		    size_t len)
{
	if (s->cut) {
		s->missed++;
		return;
	}
	if (s->out.len - s->off + len + EVENTS_SUB_SLACK > EVENTS_SUB_BUF) {
		s->cut = true;
		s->missed = 1;
		ev.st.cut++;
		return;
	}
	if (s->off && s->out.len + len > s->out.cap) {
		memmove(s->out.p, s->out.p + s->off, s->out.len - s->off);
		s->out.len -= s->off;
		s->off = 0;
	}
	json_raw(&s->out, rec, len);
	ev.st.sent++;
	/*
	 * A drain of the ring is one long callback: the reader may have
	 * made room meanwhile, and EPOLLOUT is seen only after it. Try
	 * again at each EVENTS_SUB_FLUSH, stalled or not.
	 */
	if (s->out.len - s->off >= s->tried + EVENTS_SUB_FLUSH) {
		sub_send(d, s);
		s->tried = s->out.len - s->off;
	}
}

static void tap(struct daemon *d, const char *rec, size_t len)
{
	const struct rec_meta *m = &d->rec;

	if (ev.half_cap)
		backlog_add(rec, len, m);
	for (struct sub *s = ev.subs; s; s = s->next)
		if (s->follow && !s->done && !s->dead &&
		    match(&s->f, m, rec, len))
			sub_add(d, s, rec, len);
}

static void sub_free(struct daemon *d, struct sub *s)
{
	struct sub **pp = &ev.subs;
	char sink[256];

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	if (s->cut)
		ev.st.missed += s->missed;
	daemon_io_del(d, s->fd);
	/* unread input would turn our close into a reset for the client */
	while (read(s->fd, sink, sizeof(sink)) > 0)
		;
	close(s->fd);
	json_free(&s->out);
	free(s);
	ev.n--;
	want_records(d);
}

static void sub_io(struct daemon *d, struct daemon_io *io, __u32 events)
{
	struct sub *s = (struct sub *)io;

	if (events & (EPOLLHUP | EPOLLERR))
		s->dead = true;
	else
		sub_send(d, s);
	if (s->dead)
		sub_free(d, s);
}

int events_take(struct daemon *d, int fd, char **argv, int argc, bool end,
		struct jbuf *err)
{
	struct sub *s;

	if (ev.n >= EVENTS_SUB_MAX) {
		char msg[80];

		snprintf(msg, sizeof(msg), "error: too many subscribers (%d); try again\n",
			 EVENTS_SUB_MAX);
		json_raw(err, msg, strlen(msg));
		return -EBUSY;
	}
	s = calloc(1, sizeof(*s));
	if (!s || json_init(&s->out, -1, EVENTS_SUB_KEEP)) {
		free(s);
		json_lit(err, "error: out of memory\n");
		return -ENOMEM;
	}
	if (parse(argv, argc, s, err)) {
		json_free(&s->out);
		free(s);
		return -EINVAL;
	}
	s->fd = fd;
	s->end = end;
	s->io.fn = sub_io;
	s->since_ns = mono_ns();
	if (daemon_io_mod(d, fd, 0, &s->io)) {
		json_free(&s->out);
		free(s);
		json_lit(err, "error: cannot watch the connection\n");
		return -EIO;
	}
	s->next = ev.subs;
	ev.subs = s;
	ev.n++;
	ev.st.subscribed++;
	want_records(d);
	if (!s->follow) {
		/* the records already made: drain the ring first */
		daemon_sync(d);
		bl_open(s, mono_ns());
	}
	sub_send(d, s);
	return 0;
}

static void events_tick(struct daemon *d, __u64 now)
{
	struct sub *s, *next;

	for (s = ev.subs; s; s = next) {
		next = s->next;
		if (!s->stalled)
			sub_send(d, s);
		/* cut off or answering, and taking nothing: drop it */
		if ((s->cut || s->done || s->walking) && s->off < s->out.len &&
		    now - s->since_ns > EVENTS_IDLE_NS)
			s->dead = true;
		if (s->dead)
			sub_free(d, s);
	}
}

/* The daemon stops: what is buffered (the stop record too), then the
 * end marker, waiting at most about a second for slow readers, as the
 * output does (output_close). */
static void events_free(struct daemon *d)
{
	__u64 until = mono_ns() + 1000000000ULL;
	bool waiting = true;

	for (struct sub *s = ev.subs; s; s = s->next) {
		/* an answer from the backlog not yet whole gets no end:
		 * the client says it was cut short */
		if (s->done || s->cut)
			continue;
		if (!s->walking && s->end)
			json_lit(&s->out, CTL_END);
		s->walking = false;
		s->done = true;
	}
	while (waiting && mono_ns() < until) {
		waiting = false;
		for (struct sub *s = ev.subs; s; s = s->next) {
			sub_send(d, s);
			waiting |= !s->dead && s->off < s->out.len;
		}
		if (waiting)
			usleep(10000);
	}
	while (ev.subs)
		sub_free(d, ev.subs);
	free(ev.half[0].p);
	free(ev.half[1].p);
	memset(&ev, 0, sizeof(ev));
	d->tap = NULL;
}

static const struct daemon_module events_module = {
	.name = "events",
	.tick = events_tick,
	.free = events_free,
};

int events_attach(struct daemon *d)
{
	int err;

	ev.half_cap = d->o.backlog_bytes / 2;
	if (ev.half_cap) {
		ev.half[0].p = malloc(ev.half_cap);
		ev.half[1].p = malloc(ev.half_cap);
		if (!ev.half[0].p || !ev.half[1].p) {
			free(ev.half[0].p);
			free(ev.half[1].p);
			ev.half[0].p = ev.half[1].p = NULL;
			return -ENOMEM;
		}
	}
	err = daemon_add_module(d, &events_module);
	if (err)
		return err;
	ev.discard = d->outq.discard;
	want_records(d);
	d->tap = tap;
	return 0;
}

void events_get_stats(struct events_stats *st)
{
	*st = ev.st;
	st->subscribers = ev.n;
	for (struct sub *s = ev.subs; s; s = s->next)
		if (s->cut)
			st->missed += s->missed;
	st->backlog_bytes = ev.half[0].len + ev.half[1].len;
	st->backlog_records = ev.half[0].records + ev.half[1].records;
}
