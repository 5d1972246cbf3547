// SPDX-License-Identifier: GPL-2.0
/*
 * The text exposition format 0.0.4 of a snapshot, on the HTTP thread:
 * HELP and TYPE for every family, counters in _total, base units. The
 * names and labels are an interface (alert rules, dashboards): change
 * them only with Documentation/metrics.md.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "diag/rule.h"
#include "lib/format.h"
#include "metrics/snap.h"

#define U(x)	((unsigned long long)(x))

static void head(FILE *f, const char *name, const char *type,
		 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family without labels: HELP, TYPE and its one sample. */
static void one(FILE *f, const char *name, const char *type,
		const char *help, unsigned long long v)
{
	head(f, name, type, help);
	fprintf(f, "%s %llu\n", name, v);
}

static void one_f(FILE *f, const char *name, const char *type,
		  const char *help, double v)
{
	head(f, name, type, help);
	fprintf(f, "%s %.15g\n", name, v);
}

/* States as ss -tan knows them: everything but the request socks. */
static bool shown_state(unsigned int st)
{
	return st >= TCPW_ESTABLISHED && st < TCPW_NEW_SYN_RECV;
}

static void sockets(FILE *f, const struct msnap *s)
{
	head(f, "tcpwatch_sockets", "gauge",
	     "TCP sockets in the table by state, as ss -tan counts them (TIME_WAIT included)");
	for (unsigned int st = 0; st < TCPW_STATE_MAX; st++)
		if (shown_state(st))
			fprintf(f, "tcpwatch_sockets{state=\"%s\"} %u\n",
				state_name(st), s->by_state[st]);

	head(f, "tcpwatch_transitions_total", "counter",
	     "State transitions as the table sees them, inferred TIME_WAIT and timewait expiry included");
	for (unsigned int a = 0; a < TCPW_STATE_MAX; a++)
		for (unsigned int b = 0; b < TCPW_STATE_MAX; b++) {
			__u64 v = s->c.trans[a][b];

			if (a == TCPW_TIME_WAIT && b == TCPW_CLOSE)
				v += s->tw_expired;
			if (v)
				fprintf(f, "tcpwatch_transitions_total{from=\"%s\",to=\"%s\"} %llu\n",
					state_name(a), state_name(b), U(v));
		}
}

static void connections(FILE *f, const struct msnap *s)
{
	static const struct {
		int dir, res;
		const char *d, *r;
	} combos[] = {
		{ DIR_ACTIVE, RES_ESTABLISHED, "active", "established" },
		{ DIR_ACTIVE, RES_REFUSED, "active", "refused" },
		{ DIR_ACTIVE, RES_TIMEOUT, "active", "timeout" },
		{ DIR_PASSIVE, RES_ESTABLISHED, "passive", "established" },
		{ DIR_PASSIVE, RES_RESET, "passive", "reset" },
		{ DIR_PASSIVE, RES_TIMEOUT, "passive", "timeout" },
	};
	__u64 cum = 0;

	head(f, "tcpwatch_connections_total", "counter",
	     "Handshakes by direction (active: connect, passive: accept) and result");
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++)
		fprintf(f, "tcpwatch_connections_total{direction=\"%s\",result=\"%s\"} %llu\n",
			combos[i].d, combos[i].r,
			U(s->c.conns[combos[i].dir][combos[i].res]));

	head(f, "tcpwatch_connect_duration_seconds", "histogram",
	     "Time from SYN_SENT to ESTABLISHED of active opens");
	for (int i = 0; i <= LAT_NB; i++) {
		cum += s->c.lat[i];
		if (i < LAT_NB)
			fprintf(f, "tcpwatch_connect_duration_seconds_bucket{le=\"%g\"} %llu\n",
				metrics_lat_bounds[i], U(cum));
		else
			fprintf(f, "tcpwatch_connect_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				U(cum));
	}
	fprintf(f, "tcpwatch_connect_duration_seconds_sum %.15g\n",
		(double)s->c.lat_sum_ns / 1e9);
	fprintf(f, "tcpwatch_connect_duration_seconds_count %llu\n", U(cum));

	one(f, "tcpwatch_retransmits_total", "counter",
	    "Segments retransmitted (tcp:tcp_retransmit_skb)", s->c.retrans);
	one(f, "tcpwatch_synack_retransmits_total", "counter",
	    "SYN-ACKs retransmitted (tcp:tcp_retransmit_synack)", s->c.synack);
	head(f, "tcpwatch_resets_total", "counter",
	     "Resets sent and received (tcp:tcp_send_reset, tcp:tcp_receive_reset)");
	fprintf(f, "tcpwatch_resets_total{direction=\"sent\"} %llu\n",
		U(s->c.rst_sent));
	fprintf(f, "tcpwatch_resets_total{direction=\"received\"} %llu\n",
		U(s->c.rst_recv));
}

static void peer_labels(FILE *f, const char *akey, const char *pkey,
			const struct mpeer *p)
{
	char a[ADDR_STRLEN];

	a[addr_str(a, p->family, p->addr)] = 0;
	fprintf(f, "{netns=\"%u\",%s=\"%s\",%s=\"%u\"}", p->netns, akey, a,
		pkey, p->port);
}

/* The top listeners: queue length, or its limit. */
static void listeners(FILE *f, const struct msnap *s, const char *name,
		      const char *help, bool limit)
{
	head(f, name, "gauge", help);
	for (__u32 i = 0; i < s->nlisteners; i++) {
		fputs(name, f);
		peer_labels(f, "addr", "port", &s->listeners[i]);
		fprintf(f, " %llu\n", U(limit ? s->listeners[i].b
					       : s->listeners[i].a));
	}
}

static void peers(FILE *f, const struct msnap *s)
{
	head(f, "tcpwatch_ephemeral_ports_used_ratio", "gauge",
	     "Local ephemeral ports held (live connections and TIME_WAIT) towards a destination over the netns's port range; top destinations only");
	for (__u32 i = 0; i < s->ndests; i++) {
		const struct mpeer *p = &s->dests[i];

		fputs("tcpwatch_ephemeral_ports_used_ratio", f);
		peer_labels(f, "daddr", "dport", p);
		fprintf(f, " %.15g\n", p->b ? (double)p->a / p->b : 0.0);
	}
	listeners(f, s, "tcpwatch_listen_queue_length",
		  "Connections waiting for accept() on a listener (sock_diag, as fresh as the sweep's cache); longest queues only",
		  false);
	listeners(f, s, "tcpwatch_listen_queue_limit",
		  "The accept queue's limit (listen() backlog) of the same listeners",
		  true);
	one(f, "tcpwatch_listen_overflows_total", "counter",
	    "Handshakes dropped on a full accept queue (TcpExtListenOverflows) since tcpwatch started, summed over the watched namespaces",
	    s->overflows);
}

static void per_netns(FILE *f, const struct msnap *s)
{
	head(f, "tcpwatch_netns_sockets", "gauge",
	     "TCP sockets by network namespace and state (--metrics-netns)");
	for (__u32 i = 0; i < s->nns; i++)
		for (unsigned int st = 0; st < TCPW_STATE_MAX; st++)
			if (shown_state(st) && s->ns[i].by_state[st])
				fprintf(f, "tcpwatch_netns_sockets{netns=\"%u\",state=\"%s\"} %u\n",
					s->ns[i].inum, state_name(st),
					s->ns[i].by_state[st]);
	head(f, "tcpwatch_netns_ephemeral_ports_used_ratio", "gauge",
	     "Distinct local ephemeral ports held over the port range, by network namespace (--metrics-netns)");
	for (__u32 i = 0; i < s->nns; i++)
		if (s->ns[i].range)
			fprintf(f, "tcpwatch_netns_ephemeral_ports_used_ratio{netns=\"%u\"} %.15g\n",
				s->ns[i].inum,
				(double)s->ns[i].ports_used / s->ns[i].range);
	head(f, "tcpwatch_netns_listen_overflows_total", "counter",
	     "TcpExtListenOverflows since tcpwatch started, by network namespace (--metrics-netns)");
	for (__u32 i = 0; i < s->nns; i++)
		fprintf(f, "tcpwatch_netns_listen_overflows_total{netns=\"%u\"} %llu\n",
			s->ns[i].inum, U(s->ns[i].overflows));
}

static void findings(FILE *f, const struct msnap *s)
{
	head(f, "tcpwatch_findings", "gauge",
	     "Findings open now (tcpwatch diag) by rule and severity");
	for (size_t r = 0; r < diag_nrules; r++)
		for (int v = SEV_INFO; v < SEV_MAX; v++)
			fprintf(f, "tcpwatch_findings{rule=\"%s\",severity=\"%s\"} %u\n",
				diag_rules[r]->id, severity_name(v),
				s->f_open[r][v]);
	head(f, "tcpwatch_findings_opened_total", "counter",
	     "Findings opened since tcpwatch started, by rule");
	for (size_t r = 0; r < diag_nrules; r++)
		fprintf(f, "tcpwatch_findings_opened_total{rule=\"%s\"} %llu\n",
			diag_rules[r]->id, U(s->f_opened[r]));
}

static void self(FILE *f, const struct msnap *s)
{
	head(f, "tcpwatch_events_received_total", "counter",
	     "Records read from the kernel ring, by kind");
	for (unsigned int k = 1; k < TCPW_EV_MAX; k++)
		if (strcmp(kind_name(k), "unknown"))	/* not produced yet */
			fprintf(f, "tcpwatch_events_received_total{kind=\"%s\"} %llu\n",
				kind_name(k), U(s->events[k]));
	head(f, "tcpwatch_events_lost_total", "counter",
	     "Records the kernel could not put in the full ring, by kind (each loss schedules a reconcile)");
	for (unsigned int k = 1; k < TCPW_EV_MAX; k++)
		if (strcmp(kind_name(k), "unknown"))
			fprintf(f, "tcpwatch_events_lost_total{kind=\"%s\"} %llu\n",
				kind_name(k), U(s->drops[k]));
	one(f, "tcpwatch_bad_records_total", "counter",
	    "Records of an unknown version or kind, ignored", s->bad_records);
	one(f, "tcpwatch_reconcile_runs_total", "counter",
	    "Reconcile rounds against sock_diag", s->rec_runs);
	head(f, "tcpwatch_reconcile_corrections_total", "counter",
	     "Table corrections made by reconcile, by kind");
	fprintf(f, "tcpwatch_reconcile_corrections_total{kind=\"added\"} %llu\n"
		"tcpwatch_reconcile_corrections_total{kind=\"removed\"} %llu\n"
		"tcpwatch_reconcile_corrections_total{kind=\"changed\"} %llu\n"
		"tcpwatch_reconcile_corrections_total{kind=\"owner\"} %llu\n",
		U(s->rec_added), U(s->rec_removed), U(s->rec_changed),
		U(s->rec_owners));
	one(f, "tcpwatch_time_wait_inferred_total", "counter",
	    "TIME_WAIT entered, inferred from the close (no tracepoint shows it)",
	    s->tw_inferred);
	one(f, "tcpwatch_ring_size_bytes", "gauge",
	    "Capacity of the kernel ring", s->ring_bytes);
	one(f, "tcpwatch_ring_used_bytes", "gauge",
	    "Bytes waiting in the kernel ring when the snapshot was taken",
	    s->ring_used);
	one(f, "tcpwatch_output_bytes_total", "counter",
	    "NDJSON bytes written to the output", s->out_bytes);
	one(f, "tcpwatch_output_records_total", "counter",
	    "NDJSON records handed to the output", s->out_records);
	one(f, "tcpwatch_output_dropped_records_total", "counter",
	    "NDJSON records dropped because the output did not keep up",
	    s->out_dropped);
	one(f, "tcpwatch_output_dropped_bytes_total", "counter",
	    "Bytes of the dropped NDJSON records", s->out_dropped_bytes);
	one(f, "tcpwatch_table_sockets", "gauge",
	    "Entries in the socket table", s->table_count);
	one(f, "tcpwatch_table_capacity", "gauge",
	    "Entries the table's slab holds before it grows", s->table_cap);
	one(f, "tcpwatch_table_memory_bytes", "gauge",
	    "Memory of the table's slab and hash", s->table_bytes);
	head(f, "tcpwatch_sweep_duration_seconds", "summary",
	     "Time the diagnostics' sweeps took on the loop");
	fprintf(f, "tcpwatch_sweep_duration_seconds_sum %.15g\n"
		"tcpwatch_sweep_duration_seconds_count %llu\n",
		(double)s->sweep_ns_total / 1e9, U(s->sweeps));
	one_f(f, "tcpwatch_sweep_max_duration_seconds", "gauge",
	      "The longest sweep so far", (double)s->sweep_ns_max / 1e9);
	one_f(f, "tcpwatch_metrics_collect_seconds", "gauge",
	      "Loop time spent building this snapshot (a bounded chunk of the table a tick)",
	      (double)s->collect_ns / 1e9);
	one(f, "tcpwatch_metrics_collect_ticks", "gauge",
	    "Ticks this snapshot's pass over the table was spread over",
	    s->collect_ticks);
	one(f, "tcpwatch_metrics_destinations_dropped", "gauge",
	    "Destinations this snapshot could not group (bound reached): ephemeral port ratios may miss them",
	    s->dest_dropped);
}

/* ---- process_*: the conventional families, from /proc/self ---------------- */

static void process(FILE *f)
{
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long ut = 0, st = 0, start = 0, vsize = 0, rss = 0;
	unsigned long long btime = 0, nfd = 0;
	struct rlimit rl;
	char line[256], *p;
	FILE *in;
	DIR *dir;

	in = fopen("/proc/self/stat", "re");
	if (in) {
		/* comm may hold spaces: the fields start after the last ')' */
		if (fgets(line, sizeof(line), in) && (p = strrchr(line, ')')))
			sscanf(p + 2,
			       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %llu",
			       &ut, &st, &start, &vsize, &rss);
		fclose(in);
	}
	in = fopen("/proc/stat", "re");
	if (in) {
		while (fgets(line, sizeof(line), in))
			if (sscanf(line, "btime %llu", &btime) == 1)
				break;
		fclose(in);
	}
	dir = opendir("/proc/self/fd");
	if (dir) {
		while (readdir(dir))
			nfd++;
		closedir(dir);
		nfd = nfd > 3 ? nfd - 3 : 0;	/* ., .., and this one */
	}
	one_f(f, "process_cpu_seconds_total", "counter",
	      "Total user and system CPU time spent in seconds",
	      (double)(ut + st) / tck);
	one(f, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes", rss * page);
	one(f, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes", vsize);
	one(f, "process_open_fds", "gauge", "Number of open file descriptors",
	    nfd);
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		one(f, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors", rl.rlim_cur);
	one_f(f, "process_start_time_seconds", "gauge",
	      "Start time of the process since unix epoch in seconds",
	      (double)btime + (double)start / tck);
}

void metrics_render(FILE *f, const struct msnap *s)
{
	sockets(f, s);
	connections(f, s);
	peers(f, s);
	if (s->per_netns)
		per_netns(f, s);
	findings(f, s);
	self(f, s);
	process(f);
	head(f, "tcpwatch_build_info", "gauge",
	     "Always 1: the version and event ABI of this daemon");
	fprintf(f, "tcpwatch_build_info{version=\"%s\",abi=\"%d\"} 1\n",
		TCPWATCH_VERSION, TCPW_ABI_VERSION);
}
