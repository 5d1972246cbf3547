// SPDX-License-Identifier: GPL-2.0
/*
 * The rules: one sweep every sweep_ms walks the table once, reads the
 * peer aggregates (peers.c), asks sock_diag and /proc for what events
 * cannot carry, and reports each condition to findings.c. The catalogue,
 * with the TCP mechanics behind each rule, is Documentation/diagnostics.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/daemon.h"
#include "kernel/owner.h"
#include "kernel/sockdiag.h"

#define NS	1000000000ULL
#define CW_LIST_MAX	10	/* sockets listed in a CLOSE_WAIT finding */
#define WATCH_MAX	4096	/* sockets tracked for zero window */
#define TIME_WAIT_S	60	/* TCP_TIMEWAIT_LEN */

static const struct {
	const char *id, *explain, *fix;
} rules[] = {
	{ "time_wait_exhaustion",
	  "This host closes these connections first (the active closer keeps TIME_WAIT), and TIME_WAIT lasts 60 s on Linux, fixed: tcp_fin_timeout does not change it. Each connection to the same peer address and port needs its own local port, so at this close rate the ephemeral port range runs out and connect() fails with EADDRNOTAVAIL.",
	  "Reuse connections (keep-alive, pooling); make the high-volume side the passive closer (let the peer close first); widen net.ipv4.ip_local_port_range or set net.ipv4.tcp_tw_reuse=1 for outgoing connections. If the problem is a restarting server that cannot bind, use SO_REUSEADDR." },
	{ "close_wait_leak",
	  "The peer closed these connections (its FIN arrived) but the owning process never called close(): the sockets stay in CLOSE_WAIT, holding a file descriptor and memory, for as long as the process lives. This is almost always an application bug.",
	  "Find the code path that drops a connection without closing it (an error branch, a timeout, a pool that loses sockets) and close on EOF (read() returning 0). Restarting the process frees the sockets but does not fix the leak." },
	{ "syn_unanswered",
	  "SYNs to this peer get no answer at all, neither a SYN-ACK nor a reset: something on the path drops them silently (a firewall or security group, a blackholed route) or the peer's SYN queue is full. The client retransmits the SYN with exponential backoff and connect() finally times out.",
	  "Check firewalls, security groups and routes between the hosts (a REJECT rule would show as connect_refused instead); on the peer, check the listen backlog and nstat TcpExtListenDrops." },
	{ "connect_refused",
	  "The peer answers SYNs with a reset: nothing listens on that port (or a firewall rejects with RST). The application sees ECONNREFUSED.",
	  "Start the service, or fix the address and port the client uses (configuration, service discovery, health checks)." },
	{ "synack_unacked",
	  "This listener answers SYNs, but the final ACK of the handshake does not arrive: it retransmits SYN-ACKs and the connections stay half-open in SYN_RECV. Usual causes: the return path loses packets (asymmetric routing, NAT or a firewall dropping the ACK, path MTU), or a SYN flood from spoofed sources filling the half-open queue.",
	  "Check the path back from the clients (firewall state, NAT, MTU); under a flood keep net.ipv4.tcp_syncookies=1 and raise net.ipv4.tcp_max_syn_backlog." },
	{ "accept_queue_overflow",
	  "The listener's accept queue is full: the kernel has finished handshakes the application has not accept()ed yet. Further handshakes are dropped (TcpExtListenOverflows), and clients see SYN retransmits and connects that take seconds.",
	  "Accept faster (more accepting threads, an event loop that drains accept() until EAGAIN) and raise the listen() backlog together with net.core.somaxconn." },
	{ "zero_window",
	  "The peer advertises a zero receive window, or this socket's send buffer is full: the peer's application is not reading fast enough, and TCP flow control pushes back on the sender. Writes block or return EAGAIN.",
	  "Look at the receiving application: is it stuck, slow, or not reading at all? The network is not the bottleneck here." },
	{ "rcv_queue_full",
	  "Data waits unread in this socket's receive queue, near its receive buffer: this host's application is not reading. TCP advertises a shrinking window and the sender stalls.",
	  "Find why the owning process does not read (a blocked thread, a slow consumer); bigger buffers only postpone it." },
	{ "reset_storm",
	  "Connections with this peer end in resets at a high rate. A reset aborts a connection: the application sees ECONNRESET or EPIPE, and data in flight is lost.",
	  "Find who resets: a process closing with unread data or with SO_LINGER 0, a crashing or restarting peer, a load balancer or firewall dropping idle flows, or a port scan." },
	{ "retransmit_hotspot",
	  "Segments to this peer are retransmitted at a high rate: packets are lost or badly delayed on the path. Every loss cuts the congestion window and costs at least one round trip, often a 200 ms+ retransmission timeout.",
	  "Check the path to this peer (interface errors and drops, a congested or faulty link, a policer, MTU); compare with other peers to locate the fault." },
	{ "connection_churn",
	  "Many short-lived connections to the same peer: each pays a full handshake (one round trip, see the connect latency), socket setup, and on the closing side 60 s of TIME_WAIT.",
	  "Reuse connections: HTTP keep-alive, a connection pool, or multiplexing over fewer connections." },
};

void rule_text(const char *rule, const char **explain, const char **fix)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (!strcmp(rules[i].id, rule)) {
			*explain = rules[i].explain;
			*fix = rules[i].fix;
			return;
		}
	}
	*explain = *fix = "";
}

/* ---- small helpers ---------------------------------------------------- */

/* Strings built for one finding. */
struct fbuf {
	struct jbuf subj, ev;
	char key[160], summary[384];
};

static const char *jstr(struct jbuf *b)
{
	json_ch(b, '\0');
	b->len--;	/* keep the NUL out of the length */
	return b->p;
}

static void report(struct daemon *d, struct fbuf *f, const char *rule,
		   enum severity sev, __u64 now)
{
	struct finding_in in = {
		.rule = rule,
		.sev = sev,
		.key = f->key,
		.subject = jstr(&f->subj),
		.evidence = jstr(&f->ev),
		.summary = f->summary,
	};

	finding_report(d, &in, now);
}

static void fbuf_reset(struct fbuf *f)
{
	f->subj.len = f->ev.len = 0;
	f->key[0] = f->summary[0] = 0;
}

/* ,"k":v with v a fraction or rate, 3 decimals */
static void json_real(struct jbuf *b, double v)
{
	if (v < 0)
		v = 0;
	json_fixed(b, (__u64)(v * 1000 + 0.5), 3);
}

#define KEY_NUM(b, k, v)	do { json_key(b, k); json_u64(b, v); } while (0)
#define KEY_REAL(b, k, v)	do { json_key(b, k); json_real(b, v); } while (0)

/* {"netns":N,"family":"inet" — the caller closes the object */
static void subj_open(struct jbuf *b, __u32 netns, __u16 family)
{
	json_lit(b, "{\"netns\":");
	json_u64(b, netns);
	json_lit(b, ",\"family\":\"");
	json_raw(b, family_name(family), strlen(family_name(family)));
	json_ch(b, '"');
}

static void json_addr(struct jbuf *b, const char *key, size_t klen,
		      __u16 family, const __u8 *addr)
{
	char a[ADDR_STRLEN];

	json_raw(b, key, klen);
	json_ch(b, '"');
	json_raw(b, a, addr_str(a, family, addr));
	json_ch(b, '"');
}

#define KEY_ADDR(b, k, fam, a)	json_addr(b, ",\"" k "\":", sizeof(k) + 3, fam, a)

static void json_owner_of(struct jbuf *b, __u32 pid, const char *comm)
{
	if (pid) {
		KEY_NUM(b, "pid", pid);
		json_key(b, "comm");
		json_cstr(b, comm, 16);
	} else {
		json_lit(b, ",\"pid\":null,\"comm\":null");
	}
}

/* "10.0.0.1" or "[::1]" for summaries */
static const char *ep(char *out, __u16 family, const __u8 *addr)
{
	char a[ADDR_STRLEN];

	a[addr_str(a, family, addr)] = 0;
	snprintf(out, ADDR_STRLEN + 2, family == AF_INET6 ? "[%s]" : "%s", a);
	return out;
}

static double span_s(const struct diag *g, const struct agg *a, __u64 now)
{
	__u64 w = g->o.window_s * NS, from = a->cur_ns - w;
	double s;

	if (a->cur_ns < w || from < a->born_ns)
		from = a->born_ns;
	s = (double)(now - from) / NS;
	return s < 1.0 ? 1.0 : s;
}

#define WIN(a, f)	((__u64)(a)->cur.f + (a)->prev.f)

/* ---- per-sweep state ---------------------------------------------------- */

struct ns_info {
	__u32 inum;
	__u32 lo, hi;		/* ephemeral range; hi 0 = unknown */
	__u32 tw_reuse;		/* net.ipv4.tcp_tw_reuse; 0 if unknown */
	bool listeners;		/* the table holds a LISTEN socket here */
	bool watch;		/* flow-control candidates here */
	bool synack;		/* a listener here retransmits SYN-ACKs */
	bool cw;		/* CLOSE_WAIT candidates here */
};

/* TIME_WAIT grouped by (netns, local address, remote address:port) */
struct tw_group {
	__u32 netns;
	__u16 family, dport;
	__u8 saddr[16], daddr[16];
	__u32 tw, in_use, recent;
	__u32 next;
};

struct watch {			/* a socket in a zero-window condition */
	__u64 cookie;
	__u64 snd_since, rcv_since;	/* 0: not in that condition */
	bool checked;		/* sock_diag confirmed it this sweep */
};

struct cw_sock {
	__u32 idx;		/* table index */
	__u32 inode, unread, fd;
	bool live;		/* sock_diag still shows it in CLOSE_WAIT */
};

struct sweep {
	struct ns_info *ns;
	__u32 nns, ns_cap;
	struct tw_group *tw;
	__u32 ntw, tw_cap, *tw_heads, tw_mask;
	struct cw_sock *cw;
	__u32 ncw, cw_cap;
	struct watch *watch, *watch_next;
	__u32 nwatch, nwatch_next;
	struct fbuf f;
	bool any_host_mark;
	__u32 ns_last;		/* ns_info()'s last hit */
};

static struct sweep *sweep_state(struct diag *g)
{
	struct sweep *s = g->scratch;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->watch = calloc(WATCH_MAX, sizeof(*s->watch));
	s->watch_next = calloc(WATCH_MAX, sizeof(*s->watch_next));
	if (!s->watch || !s->watch_next ||
	    json_init(&s->f.subj, -1, 512) || json_init(&s->f.ev, -1, 4096)) {
		free(s->watch);
		free(s->watch_next);
		json_free(&s->f.subj);
		free(s);
		return NULL;
	}
	g->scratch = s;
	return s;
}

void diag_free_scratch(struct diag *g)
{
	struct sweep *s = g->scratch;

	if (!s)
		return;
	free(s->ns);
	free(s->tw);
	free(s->tw_heads);
	free(s->cw);
	free(s->watch);
	free(s->watch_next);
	json_free(&s->f.subj);
	json_free(&s->f.ev);
	free(s);
	g->scratch = NULL;
}

static bool grow(void **v, __u32 *cap, __u32 n, size_t size)
{
	__u32 c;
	void *p;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 16;
	p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

static struct netns_entry *ns_entry(struct daemon *d, __u32 inum)
{
	for (int i = 0; i < d->ns.n; i++)
		if (d->ns.v[i].inum == inum)
			return &d->ns.v[i];
	return NULL;
}

static struct ns_info *ns_info(struct daemon *d, struct sweep *s,
			       __u32 inum)
{
	struct netns_entry *e;
	struct ns_info *n;

	if (s->ns_last < s->nns && s->ns[s->ns_last].inum == inum)
		return &s->ns[s->ns_last];
	for (__u32 i = 0; i < s->nns; i++)
		if (s->ns[i].inum == inum)
			return &s->ns[s->ns_last = i];
	if (!grow((void **)&s->ns, &s->ns_cap, s->nns, sizeof(*s->ns)))
		return NULL;
	n = &s->ns[s->nns];
	memset(n, 0, sizeof(*n));
	n->inum = inum;
	e = ns_entry(d, inum);
	if (e) {
		netns_port_range(e, &n->lo, &n->hi);
		netns_tw_reuse(e, &n->tw_reuse);
	}
	s->ns_last = s->nns;
	return &s->ns[s->nns++];
}

static __u32 tw_hash(const struct sock_entry *e)
{
	__u32 h = 2166136261u, w[8];

	memcpy(w, e->saddr, 16);
	memcpy(w + 4, e->daddr, 16);
	h = (h ^ e->netns) * 16777619u;
	h = (h ^ ((__u32)e->family << 16 | e->dport)) * 16777619u;
	for (int i = 0; i < 8; i++)
		h = (h ^ w[i]) * 16777619u;
	return h ^ (h >> 13);
}

static struct tw_group *tw_group(struct sweep *s, const struct sock_entry *e)
{
	__u32 b = tw_hash(e) & s->tw_mask;
	struct tw_group *t;

	for (__u32 i = s->tw_heads[b]; i != TABLE_NIL; i = s->tw[i].next) {
		t = &s->tw[i];
		if (t->netns == e->netns && t->family == e->family &&
		    t->dport == e->dport && !memcmp(t->saddr, e->saddr, 16) &&
		    !memcmp(t->daddr, e->daddr, 16))
			return t;
	}
	if (!grow((void **)&s->tw, &s->tw_cap, s->ntw, sizeof(*s->tw)))
		return NULL;
	t = &s->tw[s->ntw];
	memset(t, 0, sizeof(*t));
	t->netns = e->netns;
	t->family = e->family;
	t->dport = e->dport;
	memcpy(t->saddr, e->saddr, 16);
	memcpy(t->daddr, e->daddr, 16);
	t->next = s->tw_heads[b];
	s->tw_heads[b] = s->ntw;
	return &s->tw[s->ntw++];
}

/* The current watch list is sorted by cookie (verify_windows). */
static struct watch *watch_find(struct watch *v, __u32 n, __u64 cookie)
{
	__u32 lo = 0, hi = n;

	while (lo < hi) {
		__u32 mid = lo + (hi - lo) / 2;

		if (v[mid].cookie == cookie)
			return &v[mid];
		if (v[mid].cookie < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_watch(const void *a, const void *b)
{
	const struct watch *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/* ---- the table walk ------------------------------------------------------ */

static void walk_socket(struct daemon *d, struct sweep *s,
			struct sock_entry *e, __u64 now)
{
	struct diag *g = &d->diag;
	struct ns_info *n;

	switch (e->state) {
	case TCPW_LISTEN:
		n = ns_info(d, s, e->netns);
		if (n)
			n->listeners = true;
		return;
	case TCPW_SYN_SENT:
		if (e->retrans) {
			struct agg *a = agg_find(g, AGG_DEST, e->netns,
						 e->family, e->daddr,
						 e->dport);

			if (a) {
				a->sw_pending++;
				if (!a->sw_oldest_ns ||
				    e->state_ns < a->sw_oldest_ns)
					a->sw_oldest_ns = e->state_ns;
			}
		}
		break;
	case TCPW_CLOSE_WAIT:
		if (now - e->state_ns >= g->o.close_wait_s * NS &&
		    grow((void **)&s->cw, &s->cw_cap, s->ncw, sizeof(*s->cw))) {
			s->cw[s->ncw++] = (struct cw_sock){
				.idx = (__u32)(e - d->tab.v) };
			n = ns_info(d, s, e->netns);
			if (n)
				n->cw = true;
		}
		break;
	default:
		break;
	}

	/* Ports in use towards a peer, for TIME_WAIT exhaustion. */
	if (e->state != TCPW_LISTEN && e->state != TCPW_SYN_RECV &&
	    e->sport && (e->state == TCPW_TIME_WAIT ||
			 (e->flags & SOCK_ACTIVE))) {
		n = ns_info(d, s, e->netns);
		if (n && n->hi && e->sport >= n->lo && e->sport <= n->hi) {
			struct tw_group *t = tw_group(s, e);

			if (t) {
				t->in_use++;
				if (e->state == TCPW_TIME_WAIT) {
					t->tw++;
					if (now - e->state_ns <
					    g->o.window_s * NS)
						t->recent++;
				}
			}
		}
	}

	if ((e->state != TCPW_ESTABLISHED && e->state != TCPW_CLOSE_WAIT) ||
	    !e->has_snap)
		return;
	/* Live segments for the retransmit fraction of hot peers. */
	if (s->any_host_mark) {
		struct agg *a = agg_find(g, AGG_HOST, e->netns, e->family,
					 e->daddr, 0);

		if (a && a->mark) {
			a->sw_segs += e->snap.data_segs_out;
			a->sw_retrans += e->snap.total_retrans;
		}
	}
	/* Flow control pushing back, on either side. */
	{
		const struct sock_snap *p = &e->snap;
		bool snd = p->wmem_queued &&
			   (!p->snd_wnd ||
			    p->wmem_queued >= g->o.buf_fill * p->sndbuf);
		bool rcv = p->rcv_queued &&
			   (!p->rcv_wnd ||
			    p->rcv_queued >= g->o.rcv_fill * p->rcvbuf);
		struct watch *old, *w;

		if ((!snd && !rcv) || s->nwatch_next >= WATCH_MAX)
			return;
		old = watch_find(s->watch, s->nwatch, e->cookie);
		w = &s->watch_next[s->nwatch_next++];
		w->cookie = e->cookie;
		w->checked = false;
		n = ns_info(d, s, e->netns);
		if (n)
			n->watch = true;
		w->snd_since = snd ? (old && old->snd_since ? old->snd_since
						     : now) : 0;
		w->rcv_since = rcv ? (old && old->rcv_since ? old->rcv_since
						     : now) : 0;
	}
}

/* ---- rule 1: TIME_WAIT and the ephemeral port range ------------------- */

static bool is_loopback(__u16 family, const __u8 *a)
{
	static const __u8 v6_lo[16] = { [15] = 1 };

	return family == AF_INET ? a[0] == 127 : !memcmp(a, v6_lo, 16);
}

/*
 * With tcp_tw_reuse (1; 2: loopback only, the default since 5.x),
 * connect() may take over a TIME_WAIT port older than 1 s: the pile-up
 * is real, but it does not exhaust the range.
 */
static bool tw_reusable(const struct ns_info *n, const struct tw_group *t)
{
	return n->tw_reuse == 1 ||
	       (n->tw_reuse == 2 && (is_loopback(t->family, t->daddr) ||
				     is_loopback(t->family, t->saddr)));
}

static void rule_time_wait(struct daemon *d, struct sweep *s, __u64 now)
{
	struct diag *g = &d->diag;
	double up = (double)(now - d->start_ns) / NS;
	double win = up < g->o.window_s ? (up < 1 ? 1 : up) : g->o.window_s;

	for (__u32 i = 0; i < s->ntw; i++) {
		struct tw_group *t = &s->tw[i];
		struct ns_info *n = ns_info(d, s, t->netns);
		char sa[ADDR_STRLEN + 2], da[ADDR_STRLEN + 2];
		double range, frac, rate, exhaust = -1;
		enum severity sev;
		struct fbuf *f = &s->f;
		bool reuse;

		if (!t->tw || !n || !n->hi)
			continue;
		reuse = tw_reusable(n, t);
		range = n->hi - n->lo + 1;
		frac = t->tw / range;
		rate = t->recent / win;
		if (reuse)
			exhaust = -1;
		else if (t->in_use >= range)
			exhaust = 0;
		else if (rate > 0 &&
			 rate * TIME_WAIT_S + (t->in_use - t->tw) >= range)
			exhaust = (range - t->in_use) / rate;
		if (frac < g->o.tw_fraction &&
		    (exhaust < 0 || exhaust > g->o.tw_exhaust_s))
			continue;
		sev = frac >= g->o.tw_critical || (exhaust >= 0 && exhaust <= 10)
			? SEV_CRITICAL : SEV_WARNING;
		if (reuse)
			sev = SEV_INFO;

		fbuf_reset(f);
		subj_open(&f->subj, t->netns, t->family);
		KEY_ADDR(&f->subj, "saddr", t->family, t->saddr);
		KEY_ADDR(&f->subj, "daddr", t->family, t->daddr);
		KEY_NUM(&f->subj, "dport", t->dport);
		json_ch(&f->subj, '}');

		json_lit(&f->ev, "{\"time_wait\":");
		json_u64(&f->ev, t->tw);
		KEY_NUM(&f->ev, "in_use", t->in_use);
		KEY_NUM(&f->ev, "range_lo", n->lo);
		KEY_NUM(&f->ev, "range_hi", n->hi);
		KEY_NUM(&f->ev, "range", (__u64)range);
		KEY_REAL(&f->ev, "fraction", frac);
		KEY_REAL(&f->ev, "close_rate", rate);
		json_key(&f->ev, "exhaust_in_s");
		if (exhaust >= 0)
			json_real(&f->ev, exhaust);
		else
			json_lit(&f->ev, "null");
		KEY_NUM(&f->ev, "tw_reuse", n->tw_reuse);
		json_lit(&f->ev, ",\"active_closer\":\"local\",\"time_wait_s\":60}");

		ep(sa, t->family, t->saddr);
		ep(da, t->family, t->daddr);
		snprintf(f->key, sizeof(f->key), "%u/%s/%s:%u", t->netns, sa,
			 da, t->dport);
		if (reuse)
			snprintf(f->summary, sizeof(f->summary),
				 "%s -> %s:%u: %u TIME_WAIT sockets hold %.0f%% of the %.0f ephemeral ports (%u-%u); closing %.1f/s; tcp_tw_reuse=%u lets connect() reuse them",
				 sa, da, t->dport, t->tw, frac * 100, range,
				 n->lo, n->hi, rate, n->tw_reuse);
		else if (exhaust >= 0)
			snprintf(f->summary, sizeof(f->summary),
				 "%s -> %s:%u: %u TIME_WAIT sockets hold %.0f%% of the %.0f ephemeral ports (%u-%u); closing %.1f/s, the range runs out in %.0f s",
				 sa, da, t->dport, t->tw, frac * 100, range,
				 n->lo, n->hi, rate, exhaust);
		else
			snprintf(f->summary, sizeof(f->summary),
				 "%s -> %s:%u: %u TIME_WAIT sockets hold %.0f%% of the %.0f ephemeral ports (%u-%u); closing %.1f/s",
				 sa, da, t->dport, t->tw, frac * 100, range,
				 n->lo, n->hi, rate);
		report(d, f, "time_wait_exhaustion", sev, now);
	}
}

/* ---- rule 2: CLOSE_WAIT leaks, per process ------------------------------ */

struct cw_ctx {
	struct daemon *d;
	struct sweep *s;
	__u32 netns;
	__u32 pid;
};

static struct cw_sock *cw_by_cookie(struct daemon *d, struct sweep *s,
				    __u32 netns, __u64 cookie)
{
	for (__u32 i = 0; i < s->ncw; i++) {
		struct sock_entry *e = &d->tab.v[s->cw[i].idx];

		if (e->cookie == cookie && e->netns == netns)
			return &s->cw[i];
	}
	return NULL;
}

static int cw_dump_cb(void *ctx, const struct sd_sock *x)
{
	struct cw_ctx *c = ctx;
	struct cw_sock *w = cw_by_cookie(c->d, c->s, c->netns, x->cookie);

	if (w) {
		w->live = true;
		w->inode = x->inode;
		/* rcv_nxt - copied_seq counts the peer's FIN until read()
		 * returns 0: leave it out, report data bytes */
		w->unread = x->rqueue ? x->rqueue - 1 : 0;
	}
	return 0;
}

static bool cw_want(void *ctx, __u32 inode)
{
	struct cw_ctx *c = ctx;

	for (__u32 i = 0; i < c->s->ncw; i++)
		if (c->s->cw[i].inode == inode)
			return true;
	return false;
}

static void cw_found(void *ctx, __u32 inode, pid_t pid, int fd,
		     const char *comm)
{
	struct cw_ctx *c = ctx;

	for (__u32 i = 0; i < c->s->ncw; i++) {
		struct cw_sock *w = &c->s->cw[i];
		struct sock_entry *e = &c->d->tab.v[w->idx];

		if (w->inode != inode)
			continue;
		w->fd = (__u32)fd + 1;	/* 0: unknown */
		if (e->pid != (__u32)pid || e->owner_src != OWNER_PROCFS) {
			e->pid = (__u32)pid;
			memcpy(e->comm, comm, sizeof(e->comm));
			e->owner_src = OWNER_PROCFS;
		}
	}
}

static int cmp_cw(const void *a, const void *b, void *tab)
{
	const struct cw_sock *x = a, *y = b;
	const struct sock_entry *v = tab, *ex = &v[x->idx], *ey = &v[y->idx];

	if (ex->netns != ey->netns)
		return ex->netns < ey->netns ? -1 : 1;
	if (ex->pid != ey->pid)
		return ex->pid < ey->pid ? -1 : 1;
	return ex->state_ns < ey->state_ns ? -1 : ex->state_ns > ey->state_ns;
}

static void cw_report(struct daemon *d, struct sweep *s, __u32 from,
		      __u32 to, __u64 now)
{
	struct sock_entry *first = &d->tab.v[s->cw[from].idx];
	struct fbuf *f = &s->f;
	__u64 unread = 0;
	__u32 n = 0, listed = 0;
	char fds[64] = "";
	size_t fl = 0;

	for (__u32 i = from; i < to; i++) {
		if (!s->cw[i].live)
			continue;
		n++;
		unread += s->cw[i].unread;
	}
	if (!n)
		return;
	fbuf_reset(f);
	json_lit(&f->subj, "{\"netns\":");
	json_u64(&f->subj, first->netns);
	json_owner_of(&f->subj, first->pid, first->comm);
	json_ch(&f->subj, '}');

	json_lit(&f->ev, "{\"sockets\":");
	json_u64(&f->ev, n);
	for (__u32 i = from; i < to; i++)	/* oldest first: sorted */
		if (s->cw[i].live) {
			KEY_REAL(&f->ev, "oldest_s",
				 (double)(now - d->tab.v[s->cw[i].idx].state_ns) / NS);
			break;
		}
	KEY_NUM(&f->ev, "unread_bytes", unread);
	json_lit(&f->ev, ",\"list\":[");
	for (__u32 i = from; i < to && listed < CW_LIST_MAX; i++) {
		struct cw_sock *w = &s->cw[i];
		struct sock_entry *e = &d->tab.v[w->idx];
		char a[ADDR_STRLEN];

		if (!w->live)
			continue;
		if (listed++)
			json_ch(&f->ev, ',');
		json_lit(&f->ev, "{\"fd\":");
		if (w->fd) {
			json_u64(&f->ev, w->fd - 1);
			if (fl < sizeof(fds) - 12)
				fl += snprintf(fds + fl, sizeof(fds) - fl,
					       "%s%u", fl ? "," : "",
					       w->fd - 1);
		} else {
			json_lit(&f->ev, "null");
		}
		json_lit(&f->ev, ",\"saddr\":\"");
		json_raw(&f->ev, a, addr_str(a, e->family, e->saddr));
		json_ch(&f->ev, '"');
		KEY_NUM(&f->ev, "sport", e->sport);
		json_lit(&f->ev, ",\"daddr\":\"");
		json_raw(&f->ev, a, addr_str(a, e->family, e->daddr));
		json_ch(&f->ev, '"');
		KEY_NUM(&f->ev, "dport", e->dport);
		KEY_REAL(&f->ev, "age_s", (double)(now - e->state_ns) / NS);
		KEY_NUM(&f->ev, "unread", w->unread);
		KEY_NUM(&f->ev, "cookie", e->cookie);
		json_ch(&f->ev, '}');
	}
	json_lit(&f->ev, "]}");

	snprintf(f->key, sizeof(f->key), "%u/pid:%u", first->netns,
		 first->pid);
	if (first->pid)
		snprintf(f->summary, sizeof(f->summary),
			 "pid %u (%.16s) holds %u socket%s in CLOSE_WAIT for more than %u s (fd %s%s), %llu bytes unread",
			 first->pid, first->comm, n, n == 1 ? "" : "s",
			 d->diag.o.close_wait_s, fl ? fds : "?",
			 n > listed ? ",..." : "",
			 (unsigned long long)unread);
	else
		snprintf(f->summary, sizeof(f->summary),
			 "%u socket%s in CLOSE_WAIT for more than %u s, owner unknown, %llu bytes unread",
			 n, n == 1 ? "" : "s", d->diag.o.close_wait_s,
			 (unsigned long long)unread);
	report(d, f, "close_wait_leak", n >= 100 ? SEV_CRITICAL : SEV_WARNING,
	       now);
}

static void rule_close_wait(struct daemon *d, struct sweep *s, __u64 now)
{
	struct cw_ctx c = { .d = d, .s = s };
	bool unknown = false;
	__u32 from = 0;

	if (!s->ncw)
		return;
	/* The kernel's view: still in CLOSE_WAIT, the inode, unread bytes. */
	for (__u32 i = 0; i < s->nns; i++) {
		struct netns_entry *ne = ns_entry(d, s->ns[i].inum);

		if (!s->ns[i].cw || !ne)
			continue;
		c.netns = ne->inum;
		sd_dump(ne->diag_fd, 1u << TCPW_CLOSE_WAIT, cw_dump_cb, &c);
	}
	qsort_r(s->cw, s->ncw, sizeof(*s->cw), cmp_cw, d->tab.v);
	/* The fds: the owner's /proc/PID/fd, or every process's. */
	for (__u32 i = 0; i < s->ncw; i++) {
		struct sock_entry *e = &d->tab.v[s->cw[i].idx];

		if (!s->cw[i].live || !s->cw[i].inode)
			continue;
		if (!e->pid) {
			unknown = true;
			continue;
		}
		if (i && d->tab.v[s->cw[i - 1].idx].pid == e->pid)
			continue;
		owner_scan_pid(e->pid, cw_want, cw_found, &c);
	}
	for (__u32 i = 0; i < s->ncw && !unknown; i++)
		unknown = s->cw[i].live && s->cw[i].inode && !s->cw[i].fd;
	if (unknown) {
		owner_scan(cw_want, cw_found, &c);
		qsort_r(s->cw, s->ncw, sizeof(*s->cw), cmp_cw, d->tab.v);
	}
	for (__u32 i = 1; i <= s->ncw; i++) {
		const struct sock_entry *a = &d->tab.v[s->cw[from].idx];
		const struct sock_entry *b;

		if (i < s->ncw) {
			b = &d->tab.v[s->cw[i].idx];
			if (a->netns == b->netns && a->pid == b->pid)
				continue;
		}
		cw_report(d, s, from, i, now);
		from = i;
	}
}

/* ---- rules 3 and 9: connects (per remote addr:port) --------------------- */

static void rule_dest(struct daemon *d, struct sweep *s, struct agg *a,
		      __u64 now)
{
	struct diag *g = &d->diag;
	double span = span_s(g, a, now);
	char da[ADDR_STRLEN + 2];
	struct fbuf *f = &s->f;

	ep(da, a->family, a->addr);
#define DEST_SUBJECT() do { \
	fbuf_reset(f); \
	subj_open(&f->subj, a->netns, a->family); \
	KEY_ADDR(&f->subj, "daddr", a->family, a->addr); \
	KEY_NUM(&f->subj, "dport", a->port); \
	json_ch(&f->subj, '}'); \
	snprintf(f->key, sizeof(f->key), "%u/%s:%u", a->netns, da, a->port); \
} while (0)

	if (a->sw_pending || WIN(a, timeouts)) {
		DEST_SUBJECT();
		json_lit(&f->ev, "{\"pending\":");
		json_u64(&f->ev, a->sw_pending);
		KEY_NUM(&f->ev, "syn_retrans", WIN(a, syn_retrans));
		KEY_NUM(&f->ev, "timeouts", WIN(a, timeouts));
		KEY_REAL(&f->ev, "oldest_s", a->sw_oldest_ns ?
			 (double)(now - a->sw_oldest_ns) / NS : 0);
		KEY_REAL(&f->ev, "window_s", span);
		json_ch(&f->ev, '}');
		snprintf(f->summary, sizeof(f->summary),
			 "SYNs to %s:%u get no answer: %u connect%s waiting, %llu SYN retransmits and %llu timeouts in %.0f s",
			 da, a->port, a->sw_pending,
			 a->sw_pending == 1 ? "" : "s",
			 (unsigned long long)WIN(a, syn_retrans),
			 (unsigned long long)WIN(a, timeouts), span);
		report(d, f, "syn_unanswered",
		       WIN(a, timeouts) ? SEV_CRITICAL : SEV_WARNING, now);
	}
	if (WIN(a, refused) >= g->o.refused_min) {
		DEST_SUBJECT();
		json_lit(&f->ev, "{\"refused\":");
		json_u64(&f->ev, WIN(a, refused));
		KEY_REAL(&f->ev, "rate", WIN(a, refused) / span);
		KEY_REAL(&f->ev, "window_s", span);
		json_ch(&f->ev, '}');
		snprintf(f->summary, sizeof(f->summary),
			 "%s:%u refuses connections: %llu resets to SYNs in %.0f s",
			 da, a->port, (unsigned long long)WIN(a, refused),
			 span);
		report(d, f, "connect_refused", SEV_WARNING, now);
	}
	if (WIN(a, conns) / span >= g->o.churn_rate) {
		__u64 n, p50 = agg_lat_pct(a, 50, &n), p99 = agg_lat_pct(a, 99, &n);

		DEST_SUBJECT();
		json_lit(&f->ev, "{\"conns\":");
		json_u64(&f->ev, WIN(a, conns));
		KEY_REAL(&f->ev, "rate", WIN(a, conns) / span);
		KEY_NUM(&f->ev, "short_lived", WIN(a, short_lived));
		KEY_NUM(&f->ev, "short_ms", g->o.short_ms);
		KEY_NUM(&f->ev, "connect_p50_us", p50);
		KEY_NUM(&f->ev, "connect_p99_us", p99);
		KEY_REAL(&f->ev, "window_s", span);
		json_ch(&f->ev, '}');
		snprintf(f->summary, sizeof(f->summary),
			 "%.1f new connections/s to %s:%u, %llu of them shorter than %u ms; each handshake costs p50 %llu us, p99 %llu us",
			 WIN(a, conns) / span, da, a->port,
			 (unsigned long long)WIN(a, short_lived),
			 g->o.short_ms, (unsigned long long)p50,
			 (unsigned long long)p99);
		report(d, f, "connection_churn", SEV_INFO, now);
	}
#undef DEST_SUBJECT
}

/* ---- rules 7 and 8: resets and retransmits (per remote host) ------------ */

static void rule_host(struct daemon *d, struct sweep *s, struct agg *a,
		      __u64 now)
{
	struct diag *g = &d->diag;
	double span = span_s(g, a, now);
	__u64 rst = WIN(a, rst_sent) + WIN(a, rst_recv);
	char da[ADDR_STRLEN + 2];
	struct fbuf *f = &s->f;

	ep(da, a->family, a->addr);
#define HOST_SUBJECT() do { \
	fbuf_reset(f); \
	subj_open(&f->subj, a->netns, a->family); \
	KEY_ADDR(&f->subj, "daddr", a->family, a->addr); \
	json_ch(&f->subj, '}'); \
	snprintf(f->key, sizeof(f->key), "%u/%s", a->netns, da); \
} while (0)

	if (rst / span >= g->o.rst_rate) {
		HOST_SUBJECT();
		json_lit(&f->ev, "{\"rst_sent\":");
		json_u64(&f->ev, WIN(a, rst_sent));
		KEY_NUM(&f->ev, "rst_recv", WIN(a, rst_recv));
		KEY_REAL(&f->ev, "rate", rst / span);
		KEY_REAL(&f->ev, "window_s", span);
		json_ch(&f->ev, '}');
		snprintf(f->summary, sizeof(f->summary),
			 "%.1f resets/s with %s: %llu sent, %llu received in %.0f s",
			 rst / span, da,
			 (unsigned long long)WIN(a, rst_sent),
			 (unsigned long long)WIN(a, rst_recv), span);
		report(d, f, "reset_storm", SEV_WARNING, now);
	}
	if (a->mark) {
		__u64 segs = WIN(a, segs) + a->sw_segs;
		__u64 lost = WIN(a, seg_retrans) + a->sw_retrans;
		double frac = segs ? (double)lost / segs : -1;

		if (frac >= 0 && frac < g->o.retrans_fraction)
			return;
		HOST_SUBJECT();
		json_lit(&f->ev, "{\"retrans\":");
		json_u64(&f->ev, WIN(a, retrans));
		KEY_REAL(&f->ev, "rate", WIN(a, retrans) / span);
		json_key(&f->ev, "fraction");
		if (frac >= 0)
			json_real(&f->ev, frac);
		else
			json_lit(&f->ev, "null");
		KEY_NUM(&f->ev, "segs", segs);
		KEY_REAL(&f->ev, "window_s", span);
		json_ch(&f->ev, '}');
		if (frac >= 0)
			snprintf(f->summary, sizeof(f->summary),
				 "%.1f retransmits/s to %s: %.1f%% of %llu data segments",
				 WIN(a, retrans) / span, da, frac * 100,
				 (unsigned long long)segs);
		else
			snprintf(f->summary, sizeof(f->summary),
				 "%.1f retransmits/s to %s", WIN(a, retrans) / span,
				 da);
		report(d, f, "retransmit_hotspot", SEV_WARNING, now);
	}
#undef HOST_SUBJECT
}

/* ---- rules 4 and 5: listeners ------------------------------------------- */

struct lst_ctx {
	struct daemon *d;
	struct sweep *s;
	struct netns_entry *ne;
	__u64 now;
	__u64 overflows;
};

/* Half-open requests per listener: count SYN_RECV per local addr:port. */
static int synrecv_cb(void *ctx, const struct sd_sock *x)
{
	struct lst_ctx *c = ctx;
	struct agg *a = agg_find(&c->d->diag, AGG_LISTEN, c->ne->inum,
				 x->family, x->saddr, x->sport);

	if (a)
		a->sw_pending++;
	return 0;
}

static int listen_cb(void *ctx, const struct sd_sock *x)
{
	struct lst_ctx *c = ctx;
	struct sweep *s = c->s;
	struct fbuf *f = &s->f;
	struct sock_entry *e;
	char sa[ADDR_STRLEN + 2];

	/* sk_acceptq_is_full(): more queued than the backlog allows */
	if (x->rqueue <= x->wqueue && !(x->rqueue && x->rqueue == x->wqueue &&
					 c->overflows))
		return 0;
	e = table_find(&c->d->tab, x->cookie);
	fbuf_reset(f);
	subj_open(&f->subj, c->ne->inum, x->family);
	KEY_ADDR(&f->subj, "saddr", x->family, x->saddr);
	KEY_NUM(&f->subj, "sport", x->sport);
	json_owner_of(&f->subj, e ? e->pid : 0, e ? e->comm : NULL);
	json_ch(&f->subj, '}');
	json_lit(&f->ev, "{\"backlog\":");
	json_u64(&f->ev, x->rqueue);
	KEY_NUM(&f->ev, "max_backlog", x->wqueue);
	KEY_NUM(&f->ev, "overflows", c->overflows);
	json_ch(&f->ev, '}');
	ep(sa, x->family, x->saddr);
	snprintf(f->key, sizeof(f->key), "%u/%s:%u", c->ne->inum, sa,
		 x->sport);
	snprintf(f->summary, sizeof(f->summary),
		 "listener %s:%u%s%.16s%s has %u connections waiting for accept(), backlog %u: the queue is full (%llu handshakes dropped in this netns since tcpwatch started)",
		 sa, x->sport, e && e->pid ? " (" : "",
		 e && e->pid ? e->comm : "", e && e->pid ? ")" : "",
		 x->rqueue, x->wqueue, (unsigned long long)c->overflows);
	report(c->d, f, "accept_queue_overflow", SEV_WARNING, c->now);
	return 0;
}

static void rule_listeners(struct daemon *d, struct sweep *s, __u64 now)
{
	struct diag *g = &d->diag;

	for (__u32 i = 0; i < s->nns; i++) {
		struct ns_info *n = &s->ns[i];
		struct lst_ctx c = { .d = d, .s = s, .now = now };
		__u64 v;

		c.ne = ns_entry(d, n->inum);
		if (!c.ne)
			continue;
		if (n->listeners) {
			if (!netns_listen_overflows(c.ne, &v))
				c.overflows = v - c.ne->overflows0;
			sd_dump(c.ne->diag_fd, 1u << TCPW_LISTEN, listen_cb,
				&c);
		}
		if (n->synack)
			sd_dump(c.ne->diag_fd, 1u << TCPW_SYN_RECV,
				synrecv_cb, &c);
	}
	for (__u32 i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];
		char sa[ADDR_STRLEN + 2];
		struct fbuf *f = &s->f;
		struct sock_entry *l;

		if (a->type != AGG_LISTEN || WIN(a, synack) < g->o.synack_min)
			continue;
		l = table_listener(&d->tab, a->netns, a->family, a->port);
		fbuf_reset(f);
		subj_open(&f->subj, a->netns, a->family);
		KEY_ADDR(&f->subj, "saddr", a->family, a->addr);
		KEY_NUM(&f->subj, "sport", a->port);
		json_owner_of(&f->subj, l ? l->pid : 0, l ? l->comm : NULL);
		json_ch(&f->subj, '}');
		json_lit(&f->ev, "{\"synack_retrans\":");
		json_u64(&f->ev, WIN(a, synack));
		KEY_NUM(&f->ev, "half_open", a->sw_pending);
		KEY_REAL(&f->ev, "window_s", span_s(g, a, now));
		json_ch(&f->ev, '}');
		ep(sa, a->family, a->addr);
		snprintf(f->key, sizeof(f->key), "%u/%s:%u", a->netns, sa,
			 a->port);
		snprintf(f->summary, sizeof(f->summary),
			 "listener %s:%u retransmitted %llu SYN-ACKs in %.0f s; %u handshakes are half-open (SYN_RECV)",
			 sa, a->port, (unsigned long long)WIN(a, synack),
			 span_s(g, a, now), a->sw_pending);
		report(d, f, "synack_unacked", SEV_WARNING, now);
	}
}

/* ---- rule 6: flow control ------------------------------------------------ */

struct win_ctx {
	struct daemon *d;
	struct sweep *s;
};

/*
 * tcp_probe samples are rate-limited and come only with incoming
 * segments, so the last one can be stale: a queue that drained right
 * after it, then went idle, would look full forever. The kernel's own
 * view of each candidate settles it.
 */
static int win_dump_cb(void *ctx, const struct sd_sock *x)
{
	struct win_ctx *c = ctx;
	struct watch *w = watch_find(c->s->watch, c->s->nwatch, x->cookie);
	struct sock_entry *e;

	if (!w || !x->has_mem)
		return 0;
	e = table_find(&c->d->tab, x->cookie);
	if (!e)
		return 0;
	w->checked = true;
	e->snap.rcv_queued = x->rqueue;
	e->snap.rcvbuf = x->rcvbuf;
	e->snap.sndbuf = x->sndbuf;
	e->snap.wmem_queued = x->wmem_queued;
	if (x->has_info)	/* tcpi_snd_wnd: 5.4+ */
		e->snap.snd_wnd = x->snd_wnd;
	if (x->has_wnd)		/* tcpi_rcv_wnd: 6.2+ */
		e->snap.rcv_wnd = x->rcv_wnd;
	return 0;
}

static void verify_windows(struct daemon *d, struct sweep *s)
{
	struct diag *g = &d->diag;
	struct win_ctx c = { .d = d, .s = s };

	qsort(s->watch, s->nwatch, sizeof(*s->watch), cmp_watch);
	for (__u32 i = 0; i < s->nns; i++) {
		struct netns_entry *ne = ns_entry(d, s->ns[i].inum);

		if (s->ns[i].watch && ne)
			sd_dump(ne->diag_fd, (1u << TCPW_ESTABLISHED) |
				(1u << TCPW_CLOSE_WAIT), win_dump_cb, &c);
	}
	for (__u32 i = 0; i < s->nwatch; i++) {
		struct watch *w = &s->watch[i];
		struct sock_entry *e = table_find(&d->tab, w->cookie);
		const struct sock_snap *p;

		if (!e || !w->checked) {
			w->snd_since = w->rcv_since = 0;	/* gone */
			continue;
		}
		p = &e->snap;
		if (!(p->wmem_queued && (!p->snd_wnd ||
		      p->wmem_queued >= g->o.buf_fill * p->sndbuf)))
			w->snd_since = 0;
		if (!(p->rcv_queued && (!p->rcv_wnd ||
		      p->rcv_queued >= g->o.rcv_fill * p->rcvbuf)))
			w->rcv_since = 0;
	}
}

static void rule_windows(struct daemon *d, struct sweep *s, __u64 now)
{
	struct diag *g = &d->diag;
	__u64 hold = g->o.zero_window_s * NS;

	verify_windows(d, s);
	for (__u32 i = 0; i < s->nwatch; i++) {
		struct watch *w = &s->watch[i];
		struct sock_entry *e = table_find(&d->tab, w->cookie);
		char sa[ADDR_STRLEN + 2], da[ADDR_STRLEN + 2];
		const struct sock_snap *p;
		struct fbuf *f = &s->f;

		if (!e)
			continue;
		p = &e->snap;
		ep(sa, e->family, e->saddr);
		ep(da, e->family, e->daddr);
		for (int side = 0; side < 2; side++) {
			__u64 since = side ? w->rcv_since : w->snd_since;
			double fill;

			if (!since || now - since < hold)
				continue;
			fbuf_reset(f);
			subj_open(&f->subj, e->netns, e->family);
			KEY_ADDR(&f->subj, "saddr", e->family, e->saddr);
			KEY_NUM(&f->subj, "sport", e->sport);
			KEY_ADDR(&f->subj, "daddr", e->family, e->daddr);
			KEY_NUM(&f->subj, "dport", e->dport);
			KEY_NUM(&f->subj, "cookie", e->cookie);
			json_owner_of(&f->subj, e->pid, e->comm);
			json_ch(&f->subj, '}');
			snprintf(f->key, sizeof(f->key), "%u/cookie:%llu",
				 e->netns, (unsigned long long)e->cookie);
			if (!side) {
				fill = p->sndbuf ? (double)p->wmem_queued /
						   p->sndbuf : 0;
				json_lit(&f->ev, "{\"snd_wnd\":");
				json_u64(&f->ev, p->snd_wnd);
				KEY_NUM(&f->ev, "wmem_queued", p->wmem_queued);
				KEY_NUM(&f->ev, "sndbuf", p->sndbuf);
				KEY_REAL(&f->ev, "fill", fill);
				KEY_REAL(&f->ev, "for_s",
					 (double)(now - since) / NS);
				json_ch(&f->ev, '}');
				snprintf(f->summary, sizeof(f->summary),
					 "%s:%u -> %s:%u%s%.16s%s: %s, send buffer %.0f%% full (%u of %u bytes) for %.0f s",
					 sa, e->sport, da, e->dport,
					 e->pid ? " (" : "",
					 e->pid ? e->comm : "",
					 e->pid ? ")" : "",
					 p->snd_wnd ? "peer window open"
						    : "the peer advertises a zero window",
					 fill * 100, p->wmem_queued, p->sndbuf,
					 (double)(now - since) / NS);
				report(d, f, "zero_window", SEV_WARNING, now);
			} else {
				fill = p->rcvbuf ? (double)p->rcv_queued /
						   p->rcvbuf : 0;
				json_lit(&f->ev, "{\"rcv_queued\":");
				json_u64(&f->ev, p->rcv_queued);
				KEY_NUM(&f->ev, "rcvbuf", p->rcvbuf);
				KEY_NUM(&f->ev, "rcv_wnd", p->rcv_wnd);
				KEY_REAL(&f->ev, "fill", fill);
				KEY_REAL(&f->ev, "for_s",
					 (double)(now - since) / NS);
				json_ch(&f->ev, '}');
				snprintf(f->summary, sizeof(f->summary),
					 "%s:%u <- %s:%u%s%.16s%s: %u bytes unread (%.0f%% of rcvbuf %u), advertised window %u, for %.0f s",
					 sa, e->sport, da, e->dport,
					 e->pid ? " (" : "",
					 e->pid ? e->comm : "",
					 e->pid ? ")" : "", p->rcv_queued,
					 fill * 100, p->rcvbuf, p->rcv_wnd,
					 (double)(now - since) / NS);
				report(d, f, "rcv_queue_full", SEV_WARNING,
				       now);
			}
		}
	}
}

/* ---- the sweep ------------------------------------------------------------ */

void diag_sweep(struct daemon *d, __u64 now)
{
	struct diag *g = &d->diag;
	struct sweep *s;
	struct sock_entry *e;
	__u32 i, buckets;

	if (now < g->next_sweep_ns)
		return;
	g->next_sweep_ns = now + g->o.sweep_ms * 1000000ULL;
	s = sweep_state(g);
	if (!s)
		return;

	/* Reset the per-sweep state. */
	s->nns = s->ntw = s->ncw = 0;
	s->any_host_mark = false;
	for (buckets = 64; buckets < d->tab.by_state[TCPW_TIME_WAIT] + 64;)
		buckets *= 2;
	if (buckets > s->tw_mask + 1 || !s->tw_heads) {
		free(s->tw_heads);
		s->tw_heads = malloc(buckets * sizeof(*s->tw_heads));
		if (!s->tw_heads)
			return;
		s->tw_mask = buckets - 1;
	}
	memset(s->tw_heads, 0xff, (s->tw_mask + 1) * sizeof(*s->tw_heads));
	for (i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];

		if (!a->type)
			continue;
		agg_roll(g, a, now);
		a->sw_pending = 0;
		a->sw_oldest_ns = 0;
		a->sw_segs = a->sw_retrans = 0;
		/* retransmit candidates: their live segments are summed */
		a->mark = a->type == AGG_HOST &&
			  WIN(a, retrans) / span_s(g, a, now) >= g->o.retrans_rate;
		s->any_host_mark |= a->mark;
	}
	s->nwatch_next = 0;

	findings_begin(g->f);
	table_for_each(&d->tab, e, i)
		walk_socket(d, s, e, now);
	/* zero-window watch: this sweep's list becomes the current one */
	{
		struct watch *t = s->watch;

		s->watch = s->watch_next;
		s->watch_next = t;
		s->nwatch = s->nwatch_next;
	}
	for (i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];

		if (a->type == AGG_LISTEN && WIN(a, synack)) {
			struct ns_info *n = ns_info(d, s, a->netns);

			if (n)
				n->synack = true;
		}
	}

	rule_time_wait(d, s, now);
	rule_close_wait(d, s, now);
	rule_listeners(d, s, now);
	rule_windows(d, s, now);
	for (i = 0; i < g->used; i++) {
		struct agg *a = &g->aggs[i];

		if (a->type == AGG_DEST)
			rule_dest(d, s, a, now);
		else if (a->type == AGG_HOST)
			rule_host(d, s, a, now);
	}
	findings_end(d, now);
	agg_gc(g, now);

	g->sweeps++;
	now = mono_ns() - now;
	g->sweep_ns_total += now;
	if (now > g->sweep_ns_max)
		g->sweep_ns_max = now;
}
