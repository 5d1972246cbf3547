/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Feeding a rule: a daemon with no source whose NDJSON goes to a
 * temporary file, records through its event path (daemon_handle_event),
 * a sweep, and the finding records it wrote. For tests/unit/test_rule_*.c,
 * one per user/diag/rule_*.c.
 */
#ifndef TCPW_RULE_FEED_H
#define TCPW_RULE_FEED_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "core/daemon.h"
#include "core/dumps.h"
#include "diag/sweep.h"
#include "kernel/netns.h"

#define MS	1000000ULL
#define SEC	1000000000ULL

struct feed {
	struct daemon d;
	int fd;			/* the NDJSON output, read back by feed_out() */
	__u32 netns;
	__u32 lo, hi;		/* feed_own_netns(): its ephemeral range */
	__u64 t0;		/* the daemon's start */
	char buf[65536];
};

/* The daemon, started 30 s ago, with thresholds "k=v" (NULL-ended). */
static inline bool feed_init(struct feed *f, const char *const *opts)
{
	char path[] = "/tmp/tcpwatch-unit-XXXXXX", err[256];

	memset(f, 0, sizeof(*f));
	f->fd = mkstemp(path);
	if (!ASSERT_GE(f->fd, 0, "mkstemp"))
		return false;
	unlink(path);
	if (!ASSERT_EQ(daemon_init_offline(&f->d, dup(f->fd)), 0, "init") ||
	    !ASSERT_EQ(diag_sweep_attach(&f->d), 0, "attach"))
		return false;
	for (; opts && *opts; opts++)
		if (!ASSERT_EQ(diag_opts_set(&f->d.diag.o, *opts, err,
					     sizeof(err)), 0, *opts))
			return false;
	f->netns = 1;
	f->t0 = mono_ns() - 30 * SEC;
	f->d.start_ns = f->t0;
	return true;
}

/* Events in this process's netns, whose facts the daemon knows (the
 * TIME_WAIT rule reads its ephemeral port range), read here as the
 * kernel worker would. */
static inline bool feed_own_netns(struct feed *f)
{
	struct netns_set set = { 0 };
	struct kw_ns k = { 0 };
	bool ok;

	ok = ASSERT_EQ(netns_self(&f->netns), 0, "netns_self") &&
	     ASSERT_GT(netns_refresh(&set, f->netns), 0, "netns") &&
	     ASSERT_EQ(netns_port_range(&set.v[0], &k.lo, &k.hi), 0, "range") &&
	     ASSERT_EQ(netns_tw_reuse(&set.v[0], &k.tw_reuse), 0, "tw_reuse") &&
	     ASSERT_EQ(dumps_init(&f->d), 0, "dumps_init");
	if (ok) {
		k.inum = f->netns;
		f->lo = k.lo;
		f->hi = k.hi;
		ok = ASSERT_EQ(kq_set_facts(&f->d, &k), 0, "facts");
	}
	netns_free(&set);
	return ok;
}

static inline void feed_free(struct feed *f)
{
	daemon_free(&f->d);
	if (f->fd >= 0)
		close(f->fd);
}

/* One record from 10.0.0.1:sport to daddr:dport. */
static inline void feed(struct feed *f, __u8 kind, __u64 cookie, __u64 ts,
			const char *daddr, __u16 sport, __u16 dport,
			__u8 old, __u8 new)
{
	struct tcpw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.version = TCPW_ABI_VERSION;
	ev.kind = kind;
	ev.cookie = cookie;
	ev.ts_ns = ts;
	ev.netns = f->netns;
	ev.family = AF_INET;
	ev.sport = sport;
	ev.dport = dport;
	ev.oldstate = old;
	ev.newstate = new;
	inet_pton(AF_INET, "10.0.0.1", ev.saddr);
	inet_pton(AF_INET, daddr, ev.daddr);
	daemon_handle_event(&f->d, &ev);
}

static inline void feed_state(struct feed *f, __u64 cookie, __u64 ts,
			      const char *daddr, __u16 sport, __u16 dport,
			      __u8 old, __u8 new)
{
	feed(f, TCPW_EV_STATE, cookie, ts, daddr, sport, dport, old, new);
}

/* A sweep now; returns the NDJSON written so far. */
static inline const char *feed_sweep(struct feed *f)
{
	ssize_t n;

	diag_sweep_now(&f->d, mono_ns());
	json_flush(&f->d.out);
	n = pread(f->fd, f->buf, sizeof(f->buf) - 1, 0);
	f->buf[n > 0 ? n : 0] = 0;
	return f->buf;
}

#define ASSERT_HAS(out, s, name) ASSERT_TRUE(strstr((out), (s)) != NULL, name)
#define ASSERT_HAS_NOT(out, s, name) \
	ASSERT_TRUE(strstr((out), (s)) == NULL, name)

#endif
