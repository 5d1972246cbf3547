// SPDX-License-Identifier: GPL-2.0
/*
 * replay: the consumer's cost without a kernel. A synthetic, realistic
 * stream of struct tcpw_event records is built in memory, then fed
 * through the daemon's own record path (daemon_init_offline() +
 * daemon_handle_batch() in batches as the BPF source hands them over,
 * linked from the daemon's -O2 objects), with the same TIME_WAIT expiry
 * a tick does. Reported per core (one thread):
 *
 *   json   full NDJSON written to /dev/null (formatting + write(2))
 *   table  no output: table bookkeeping only (tcpwatch run -n)
 *
 * and, with --mem, the memory the table takes per tracked socket at
 * 100k and 1M live sockets (allocated bytes and RSS growth).
 *
 * The stream: a few listeners, then connections interleaved C at a time
 * (each a client and a server socket with their own cookies), 70% IPv4,
 * 30% IPv6. Lifecycles, as the kernel traces them:
 *   50% client RST close (SO_LINGER 0)      8 records
 *   35% client FIN close, client TIME_WAIT 10 records
 *   10% server FIN close, server TIME_WAIT 10 records
 *    5% retransmits (1-3) then a FIN close
 * plus 0-2 samples per socket while established. Time moves
 * 50 us per record (20k records/s, ~2k connections/s), so TIME_WAIT
 * entries do expire during a long stream.
 *
 * Output: human lines on stderr, machine-readable lines on stdout:
 *   replay mode=json events=N secs=S cpu_secs=C eps=X bytes_per_event=B
 *   replay mode=table ...
 *   mem sockets=N alloc_bytes=A alloc_per_sock=X rss_per_sock=Y entry=E
 *
 *   replay [-n EVENTS] [-r REPS] [-c CONCURRENT] [--mem] [--no-stream]
 *          [--json-only|--table-only] [--records LIST]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/emit.h"
#include "diag/sweep.h"

#define NS_PER_EVENT	50000ULL
#define TICK_NS		50000000ULL	/* the daemon's default --tick-ms */
#define NETNS		4026532000u
#define MAX_SCRIPT	24

static const __u16 listen_ports[] = { 80, 443, 8080, 5432 };
#define NR_LISTEN (sizeof(listen_ports) / sizeof(listen_ports[0]))

/* xorshift64*: fast, deterministic */
static __u64 rng = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int pct(void)
{
	return rnd() % 100;
}

/* One socket's side of a connection, as the kernel would describe it. */
struct side {
	__u64 cookie;
	__u16 family, sport, dport;
	__u8 saddr[16], daddr[16];
};

/* A connection's records, in order; the stream interleaves many. */
struct script {
	struct tcpw_event ev[MAX_SCRIPT];
	int n, next;
};

static __u64 next_cookie = 1000;
static __u64 now_ns = 1000000000ULL;

static void set_addr(__u8 *a, __u16 family, __u32 host)
{
	memset(a, 0, 16);
	if (family == AF_INET) {
		__u32 be = htonl(0x0a000000u | (host & 0xffffff));

		memcpy(a, &be, 4);
	} else {
		a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8;
		memcpy(a + 12, &host, 4);
		a[15] |= 1;
	}
}

static void base(struct tcpw_event *e, const struct side *s, __u8 kind,
		 __u8 old, __u8 new, bool snap)
{
	memset(e, 0, sizeof(*e));
	e->version = TCPW_ABI_VERSION;
	e->kind = kind;
	e->cookie = s->cookie;
	e->netns = NETNS;
	e->family = s->family;
	e->sport = s->sport;
	e->dport = s->dport;
	memcpy(e->saddr, s->saddr, 16);
	memcpy(e->daddr, s->daddr, 16);
	e->oldstate = old;
	e->newstate = new;
	if (snap) {
		e->flags |= TCPW_F_SNAPSHOT;
		e->snd_wnd = 65483;
		e->rcv_wnd = 65483;
		e->snd_cwnd = 10;
		e->srtt_us = 20 + rnd() % 5000;
		e->rcvbuf = 131072;
		e->sndbuf = 16384;
		e->bytes_acked = rnd() % 100000;
		e->bytes_received = rnd() % 100000;
	}
}

static void owner(struct tcpw_event *e, __u32 pid, const char *comm)
{
	e->flags |= TCPW_F_OWNER;
	e->pid = pid;
	strncpy(e->comm, comm, sizeof(e->comm));
}

static struct tcpw_event *add(struct script *s)
{
	return &s->ev[s->n++];
}

static void state(struct script *sc, const struct side *s, __u8 old,
		  __u8 new, bool snap)
{
	base(add(sc), s, TCPW_EV_STATE, old, new, snap);
}

static void other(struct script *sc, const struct side *s, __u8 kind,
		  __u8 st)
{
	base(add(sc), s, kind, st, st, true);
}

/*
 * Records the kernel emits at the same instant read the same socket:
 * a reset and the CLOSE next to it carry the same snapshot.
 */
static void snap_as_prev(struct script *sc)
{
	struct tcpw_event *e = &sc->ev[sc->n - 1];
	const struct tcpw_event *p = &sc->ev[sc->n - 2];

	e->bytes_acked = p->bytes_acked;
	e->bytes_received = p->bytes_received;
	e->srtt_us = p->srtt_us;
}

static void samples(struct script *sc, const struct side *c,
		    const struct side *sv)
{
	int n = rnd() % 3;

	while (n--)
		other(sc, rnd() & 1 ? c : sv, TCPW_EV_SAMPLE,
		      TCPW_ESTABLISHED);
}

/* Build one connection's records into sc. */
static void make_conn(struct script *sc)
{
	struct side c, s;
	unsigned int p = pct(), host = (unsigned int)rnd();
	__u16 family = pct() < 70 ? AF_INET : AF_INET6;
	struct tcpw_event *e;

	sc->n = sc->next = 0;
	c.cookie = next_cookie++;
	s.cookie = next_cookie++;
	c.family = s.family = family;
	c.sport = 32768 + rnd() % 28232;
	c.dport = listen_ports[rnd() % NR_LISTEN];
	s.sport = c.dport;
	s.dport = c.sport;
	set_addr(c.saddr, family, host);
	set_addr(c.daddr, family, 1);
	memcpy(s.saddr, c.daddr, 16);
	memcpy(s.daddr, c.saddr, 16);

	/* connect(): no source port yet, owner known */
	e = add(sc);
	base(e, &c, TCPW_EV_STATE, TCPW_CLOSE, TCPW_SYN_SENT, true);
	e->sport = 0;
	owner(e, 2000 + host % 500, "curl");
	state(sc, &c, TCPW_SYN_SENT, TCPW_ESTABLISHED, true);
	state(sc, &s, TCPW_LISTEN, TCPW_SYN_RECV, true);
	state(sc, &s, TCPW_SYN_RECV, TCPW_ESTABLISHED, true);
	samples(sc, &c, &s);

	if (p < 50) {			/* client RST close */
		state(sc, &c, TCPW_ESTABLISHED, TCPW_CLOSE, true);
		other(sc, &c, TCPW_EV_RST_SENT, TCPW_CLOSE);
		snap_as_prev(sc);
		other(sc, &s, TCPW_EV_RST_RECV, TCPW_ESTABLISHED);
		state(sc, &s, TCPW_ESTABLISHED, TCPW_CLOSE, true);
		snap_as_prev(sc);
		return;
	}
	if (p >= 95) {			/* a lossy one */
		int n = 1 + rnd() % 3;

		while (n--)
			other(sc, &c, TCPW_EV_RETRANS, TCPW_ESTABLISHED);
	}
	const struct side *a = p < 85 || p >= 95 ? &c : &s;	/* closer */
	const struct side *b = a == &c ? &s : &c;

	e = add(sc);
	base(e, a, TCPW_EV_STATE, TCPW_ESTABLISHED, TCPW_FIN_WAIT1, true);
	owner(e, 3000, a == &c ? "curl" : "nginx");
	state(sc, b, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT, true);
	state(sc, a, TCPW_FIN_WAIT1, TCPW_FIN_WAIT2, true);
	e = add(sc);
	base(e, b, TCPW_EV_STATE, TCPW_CLOSE_WAIT, TCPW_LAST_ACK, true);
	owner(e, 3001, b == &c ? "curl" : "nginx");
	e = add(sc);
	base(e, a, TCPW_EV_STATE, TCPW_FIN_WAIT2, TCPW_CLOSE, true);
	e->flags |= TCPW_F_FIN_RCVD;
	state(sc, b, TCPW_LAST_ACK, TCPW_CLOSE, true);
}

/* Listeners first (owners the children inherit), then n records. */
static struct tcpw_event *make_stream(size_t n, int conc, size_t *out_n)
{
	struct tcpw_event *v = malloc(n * sizeof(*v));
	struct script *sc = calloc(conc, sizeof(*sc));
	size_t i = 0;

	if (!v || !sc) {
		fprintf(stderr, "replay: out of memory for %zu records\n", n);
		exit(1);
	}
	for (unsigned int l = 0; l < NR_LISTEN * 2 && i < n; l++) {
		struct side s = { .cookie = next_cookie++,
				  .family = l & 1 ? AF_INET6 : AF_INET,
				  .sport = listen_ports[l / 2] };

		base(&v[i], &s, TCPW_EV_STATE, TCPW_CLOSE, TCPW_LISTEN, false);
		owner(&v[i], 1000 + l, "nginx");
		v[i].ts_ns = now_ns;
		i++;
	}
	for (int k = 0; k < conc; k++)
		make_conn(&sc[k]);
	while (i < n) {
		struct script *s = &sc[rnd() % conc];

		v[i] = s->ev[s->next++];
		now_ns += NS_PER_EVENT / 2 + rnd() % NS_PER_EVENT;
		v[i].ts_ns = now_ns;
		i++;
		if (s->next == s->n)
			make_conn(s);
	}
	free(sc);
	*out_n = i;
	return v;
}

static double mono_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_expire(void *ctx, const struct sock_entry *e, __u64 now)
{
	struct daemon *d = ctx;

	d->tw_expired++;
	emit_synthetic(d, e, e->state, TCPW_CLOSE, now, "expired");
}

struct result {
	double secs, cpu;
	__u64 bytes, lines, sockets;
};

static __u32 records;	/* --records; 0: the default stream */

/*
 * The records after which the daemon's tick falls (its stream time
 * reaches the next tick), then n. Found before the timed runs: they cut
 * the batches, and finding them would touch every record of the stream
 * in a tight loop of its own, which the daemon does not.
 */
static size_t *tick_points(const struct tcpw_event *v, size_t n)
{
	size_t *t = malloc((n + 1) * sizeof(*t)), k = 0;
	__u64 next_tick = v[0].ts_ns + TICK_NS;

	if (!t) {
		fprintf(stderr, "replay: out of memory for %zu records\n", n);
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].ts_ns >= next_tick) {
			t[k++] = i;
			next_tick = v[i].ts_ns + TICK_NS;
		}
	}
	t[k] = n;
	return t;
}

static int run_once(const struct tcpw_event *v, size_t n,
		    const size_t *tick, bool json, struct result *r)
{
	const struct tcpw_event *batch[SOURCE_BATCH];
	struct daemon d;
	int fd = -1, err;
	double t0, c0;

	if (json) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			perror("replay: /dev/null");
			return -1;
		}
	}
	err = daemon_init_offline(&d, fd);
	if (err) {
		fprintf(stderr, "replay: daemon_init_offline: %s\n",
			strerror(-err));
		return -1;
	}
	if (records)
		d.o.records = records;
	t0 = mono_s(CLOCK_MONOTONIC);
	c0 = mono_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t i = 0, j; i < n; i = j) {
		/* A batch as a source hands it over, cut after a tick's. */
		j = n - i > SOURCE_BATCH ? i + SOURCE_BATCH : n;
		if (j > *tick)
			j = *tick + 1;
		for (size_t k = i; k < j; k++)
			batch[k - i] = &v[k];
		if (daemon_handle_batch(&d, batch, j - i))
			return -1;
		/* what the daemon's tick does with time: expire, flush */
		if (j - 1 == *tick) {
			__u64 ts = v[*tick++].ts_ns;

			table_expire(&d.tab, ts, on_expire, &d);
			conn_flush(&d, ts, false);
			if (d.has_out && d.out.len)
				json_flush(&d.out);
		}
	}
	if (d.has_out)
		json_flush(&d.out);
	r->cpu = mono_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	r->secs = mono_s(CLOCK_MONOTONIC) - t0;
	r->bytes = d.out.written;
	r->lines = d.lines;
	r->sockets = d.tab.count;
	daemon_free(&d);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static bool only_json, only_table;

static int bench_stream(size_t n, int reps, int conc)
{
	struct tcpw_event *v;
	size_t got, *tick;
	__u64 counts[TCPW_EV_MAX] = { 0 };

	v = make_stream(n, conc, &got);
	tick = tick_points(v, got);
	for (size_t i = 0; i < got; i++)
		counts[v[i].kind]++;
	fprintf(stderr, "replay: %zu records (%.0f%% state, %.1f%% reset, %.1f%% sample, %.1f%% retrans), %d connections interleaved\n",
		got, 100.0 * counts[TCPW_EV_STATE] / got,
		100.0 * (counts[TCPW_EV_RST_SENT] + counts[TCPW_EV_RST_RECV]) / got,
		100.0 * counts[TCPW_EV_SAMPLE] / got,
		100.0 * counts[TCPW_EV_RETRANS] / got, conc);

	for (int mode = 0; mode < 2; mode++) {
		bool json = mode == 0;

		if ((json && only_table) || (!json && only_json))
			continue;
		double eps[64], cpu_eps[64];
		struct result r = { 0 };

		if (reps > 64)
			reps = 64;
		for (int k = 0; k < reps; k++) {
			if (run_once(v, got, tick, json, &r))
				return 1;
			eps[k] = got / r.secs;
			cpu_eps[k] = got / r.cpu;
		}
		qsort(eps, reps, sizeof(double), cmp_d);
		qsort(cpu_eps, reps, sizeof(double), cmp_d);
		fprintf(stderr, "replay: %-5s %6.2f M events/s per core (median of %d; best %.2f M), %.0f bytes/event, %llu sockets left\n",
			json ? "json" : "table", cpu_eps[reps / 2] / 1e6, reps,
			cpu_eps[reps - 1] / 1e6,
			json ? (double)r.bytes / got : 0.0,
			(unsigned long long)r.sockets);
		printf("replay mode=%s events=%zu reps=%d eps=%.0f eps_wall=%.0f best_eps=%.0f bytes_per_event=%.1f lines=%llu\n",
		       json ? "json" : "table", got, reps, cpu_eps[reps / 2],
		       eps[reps / 2], cpu_eps[reps - 1],
		       json ? (double)r.bytes / got : 0.0,
		       (unsigned long long)r.lines);
	}
	free(tick);
	free(v);
	return 0;
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static size_t idx_bytes(const struct idx_map *m)
{
	return (size_t)m->cap * sizeof(struct idx_node) +
	       ((size_t)m->mask + 1) * sizeof(__u32);
}

/*
 * n established client sockets, as connect() + handshake records make
 * them. Allocated bytes come from the table's own sizes; RSS growth
 * counts only the pages touched (a doubled slab's tail is untouched).
 */
static int bench_mem(__u32 n)
{
	struct daemon d;
	struct tcpw_event ev;
	struct side c = { .family = AF_INET, .dport = 443 };
	long rss0, rss1;
	size_t alloc;
	int err;

	rss0 = rss_bytes();
	err = daemon_init_offline(&d, -1);
	if (!err)
		err = diag_sweep_attach(&d);
	if (err)
		return 1;
	set_addr(c.daddr, AF_INET, 1);
	for (__u32 i = 0; i < n; i++) {
		c.cookie = next_cookie++;
		c.sport = 32768 + i % 28232;
		set_addr(c.saddr, AF_INET, i / 28232 + 2);
		base(&ev, &c, TCPW_EV_STATE, TCPW_SYN_SENT, TCPW_ESTABLISHED,
		     true);
		ev.ts_ns = now_ns += 1000;
		if (daemon_handle_event(&d, &ev))
			return 1;
	}
	rss1 = rss_bytes();
	alloc = (size_t)d.tab.cap * sizeof(struct sock_entry) +
		((size_t)d.tab.mask + 1) * sizeof(__u32) +
		idx_bytes(&d.tab.listeners) + idx_bytes(&d.tab.tw_tuples) +
		(size_t)d.tab.tw_cap * sizeof(struct tw_item);
	fprintf(stderr, "replay: %u sockets: %zu bytes allocated (%.0f per socket; slab cap %u, %u buckets), RSS +%ld (%.0f per socket); sizeof(sock_entry) %zu\n",
		d.tab.count, alloc, (double)alloc / d.tab.count, d.tab.cap,
		d.tab.mask + 1, rss1 - rss0, (double)(rss1 - rss0) / d.tab.count,
		sizeof(struct sock_entry));
	printf("mem sockets=%u alloc_bytes=%zu alloc_per_sock=%.1f rss_bytes=%ld rss_per_sock=%.1f entry=%zu slab_cap=%u buckets=%u\n",
	       d.tab.count, alloc, (double)alloc / d.tab.count, rss1 - rss0,
	       (double)(rss1 - rss0) / d.tab.count, sizeof(struct sock_entry),
	       d.tab.cap, d.tab.mask + 1);
	/* The diagnostics' sweep walks the whole table once per sweep_ms. */
	{
		__u64 t0 = mono_ns(), took;

		d.diag.next_sweep_ns = 0;
		diag_sweep(&d, now_ns);
		took = mono_ns() - t0;
		printf("sweep sockets=%u ms=%.2f ns_per_sock=%.1f\n",
		       d.tab.count, took / 1e6, (double)took / d.tab.count);
	}
	daemon_free(&d);
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: replay [-n EVENTS] [-r REPS] [-c CONCURRENT] [--mem] [--no-stream]\n"
	      "  -n  records in the synthetic stream (default 2000000)\n"
	      "  -r  repetitions per mode; the median is reported (default 5)\n"
	      "  -c  connections in flight, interleaved (default 1000)\n"
	      "  --mem        also measure bytes per socket at 100k and 1M\n"
	      "  --no-stream  only --mem\n"
	      "  --json-only, --table-only  one mode (e.g. under perf record)\n"
	      "  --records LIST  the record types written, as tcpwatch run's\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", no_argument, NULL, 'm' },
		{ "no-stream", no_argument, NULL, 'S' },
		{ "json-only", no_argument, NULL, 'J' },
		{ "table-only", no_argument, NULL, 'T' },
		{ "records", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	size_t n = 2000000;
	int reps = 5, conc = 1000, c;
	bool mem = false, stream = true;

	while ((c = getopt_long(argc, argv, "n:r:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'r': reps = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'm': mem = true; break;
		case 'S': stream = false; break;
		case 'J': only_json = true; break;
		case 'T': only_table = true; break;
		case 'R': {
			char msg[256];

			if (records_parse(optarg, &records, msg, sizeof(msg))) {
				fprintf(stderr, "replay: %s\n", msg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (n < 100 || reps < 1 || conc < 1) {
		usage(stderr);
		return 2;
	}
	/*
	 * A fixed mmap threshold keeps every large block mmapped: realloc
	 * is mremap, free unmaps. So RSS growth is the table's own touched
	 * pages, and a table never reuses a previous repetition's dirty heap:
	 * table_get() links the slot it just took past `used` into the new
	 * buckets when grow_heads() runs, reading that slot's stale cookie
	 * (a self-looping chain when it equals the new one; replaying the
	 * same stream makes that certain). Fresh mmapped pages are zero.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (stream && bench_stream(n, reps, conc))
		return 1;
	/* Each in a fresh table (see the mallopt() above). */
	if (mem && (bench_mem(100000) || bench_mem(1000000)))
		return 1;
	return 0;
}
