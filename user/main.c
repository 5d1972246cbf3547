// SPDX-License-Identifier: GPL-2.0
/* tcpwatch: the command line. */
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/daemon.h"
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/events.h"
#include "diag/sweep.h"
#include "kernel/cgroup.h"
#include "lib/caps.h"
#include "lib/parse.h"
#include "top/top.h"
#include "metrics/metrics.h"

static const char usage_top[] =
"usage: tcpwatch COMMAND [OPTIONS]\n"
"\n"
"Live TCP socket table and NDJSON events from kernel tracepoints.\n"
"\n"
"commands:\n"
"  run      load the BPF programs (or use the kernel module), keep the\n"
"           table and write NDJSON events\n"
"  ls       list the running daemon's socket table\n"
"  stats    events, drops, table size and reconcile corrections\n"
"  diag     what is wrong: the running daemon's open findings, most\n"
"           severe first\n"
"  events   the running daemon's NDJSON records: the last seconds', or\n"
"           live with -f, filtered\n"
"  top      a live view of the running daemon: totals, sockets, findings\n"
"  version  print the version\n"
"\n"
"`tcpwatch COMMAND --help` describes each command.\n";

static const char usage_run[] =
"usage: tcpwatch run [OPTIONS]\n"
"\n"
"  -s, --source bpf|kmod|auto   event source (default auto: BPF, else\n"
"                               the kernel module's /dev/tcpwatch)\n"
"  -o, --output FILE|-          NDJSON destination (default -, stdout;\n"
"                               a file is appended to)\n"
"      --output-cache           keep a file's written pages in the page\n"
"                               cache (default: dropped once on disk,\n"
"                               where the kernel can: Linux 6.14+)\n"
"  -n, --no-output              write no events (subscribers still get\n"
"                               them: tcpwatch events -f)\n"
"      --records LIST           record types to write, comma-separated:\n"
"                               state, retransmit, synack_retransmit,\n"
"                               reset_sent, reset_recv, sample, drop, lost,\n"
"                               reconcile, start, stop, finding, conn\n"
"                               (one per connection, when it ends);\n"
"                               default: all but conn; all: every type\n"
"  -c, --ctl PATH               control socket (default " DEFAULT_CTL_PATH ")\n"
"      --ctl-group GROUP        let GROUP use the control socket (0660);\n"
"                               default: root only\n"
"      --backlog BYTES          recent records kept for `tcpwatch events`,\n"
"                               0 or 8K..1G, K/M/G suffix (default 1M)\n"
"  -N, --netns NAME|PATH|INODE  only this network namespace ('self':\n"
"                               the daemon's own)\n"
"  -p, --port PORT              only sockets with this local or remote\n"
"                               port; repeat for up to 8\n"
"      --cgroup PATH            only sockets made in this cgroup (v2)\n"
"                               or below it: a path under the cgroup2\n"
"                               mount, or from its root\n"
"      --ring-size BYTES        kernel ring buffer size, a power of two\n"
"                               from 4K to 1G, K/M/G suffix (default 8M)\n"
"      --sample-ms MS           window/buffer samples of changed sockets\n"
"                               every MS, 0..3600000 (default 1000;\n"
"                               0: off)\n"
"      --reconcile-s SECONDS    compare with sock_diag this often,\n"
"                               0..86400; 0 = only after lost events\n"
"                               (default 30)\n"
"      --tick-ms MS             drain and flush period, 1..10000\n"
"                               (default 50)\n"
"  -T, --threshold KEY=VALUE    tune a diagnostic rule (below)\n"
"      --metrics [HOST:]PORT    serve Prometheus metrics on GET /metrics\n"
"                               (a bare port: 127.0.0.1 only; off by\n"
"                               default)\n"
"      --metrics-top K          per-destination and per-listener series\n"
"                               kept, 0..1000 (default 10)\n"
"      --metrics-netns          per-network-namespace series too\n"
"  -v, --verbose                libbpf debug output\n"
"\n"
"%s"
"\n"
"EXAMPLES\n"
"  tcpwatch run                       every socket, NDJSON on stdout\n"
"  tcpwatch run -o /var/log/tcp.ndjson --sample-ms 0\n"
"  tcpwatch run -N myns -p 443 | jq 'select(.type==\"state\")'\n"
"  tcpwatch run -T close_wait_s=300 | jq 'select(.type==\"finding\")'\n"
"  tcpwatch run -n --metrics 9464     table, diagnostics and metrics only\n"
"  tcpwatch run --records conn        one line per connection, as it ends\n";

static const char usage_ls[] =
"usage: tcpwatch ls [OPTIONS]\n"
"\n"
"  -j, --json              one JSON object per socket, with history\n"
"  -S, --state STATE       e.g. ESTABLISHED, time-wait, CLOSE_WAIT\n"
"  -p, --port PORT         local or remote port\n"
"      --sport PORT        local port\n"
"      --dport PORT        remote port\n"
"  -N, --netns NAME|INODE  network namespace\n"
"  -P, --pid PID           owning process\n"
"      --cgroup PATH       cgroup (v2) of the socket, or below it\n"
"  -4, -6                  address family\n"
"  -c, --ctl PATH          control socket\n"
"\n"
"EXAMPLES\n"
"  tcpwatch ls -S close-wait        who leaks CLOSE_WAIT sockets\n"
"  tcpwatch ls --cgroup /system.slice/nginx.service\n"
"  tcpwatch ls -j | jq -s 'group_by(.state)|map({(.[0].state):length})'\n";

static const char usage_diag[] =
"usage: tcpwatch diag [-j|--json] [-c|--ctl PATH]\n"
"\n"
"The running daemon's open findings (TIME_WAIT exhaustion, CLOSE_WAIT\n"
"leaks, unanswered SYNs, ...), most severe first, with the evidence,\n"
"why it happens and the usual fix. --json: one finding per line, as\n"
"in the NDJSON stream. Exit status 0, or 1 if the daemon can't be asked.\n";

static const char usage_top_cmd[] =
"usage: tcpwatch top [OPTIONS]\n"
"\n"
"A live view of the running daemon: sockets by state, the sockets in\n"
"the chosen order (only those that fit are asked for), and the open\n"
"findings. Keys: q quit, h help, R A Q O N sort, s p n filter, c clear.\n"
"\n"
"  -d, --delay SECONDS     refresh interval, 0.1 to 3600 (default 1)\n"
"  -c, --ctl PATH          control socket\n"
"\n"
"Exit status 0, or 1 if the daemon can't be asked.\n";

static const char usage_events[] =
"usage: tcpwatch events [OPTIONS]\n"
"\n"
"The running daemon's NDJSON records, the bytes `run` writes. Without\n"
"-f: the records of the last 10 s it still holds (--backlog), then exit.\n"
"\n"
"  -f, --follow            from now on, until the daemon stops; cut off\n"
"                          (a lost record, exit 1) if this reader falls\n"
"                          4 MiB behind\n"
"  -N, --netns NAME|INODE  socket records of this network namespace\n"
"  -p, --port PORT         socket records with this local or remote port;\n"
"                          repeat for up to 8\n"
"  -t, --type TYPE,...     only these record types (state, retransmit,\n"
"                          reset_sent, reset_recv, sample, lost, finding,\n"
"                          reconcile, start, stop, ...)\n"
"  -S, --state STATE,...   socket records whose (new) state is one of these\n"
"  -c, --ctl PATH          control socket\n"
"\n"
"Records that are not about one socket (start, stop, lost, reconcile,\n"
"finding) pass -N, -p and -S; select them with --type.\n"
"\n"
"EXAMPLES\n"
"  tcpwatch events -f -t state -S close-wait\n"
"  tcpwatch events -f -p 443 | jq -c 'select(.type==\"reset_recv\")'\n";

static const char usage_stats[] =
"usage: tcpwatch stats [-j|--json] [-c|--ctl PATH]\n";

static const char *ctl_path(const char *opt)
{
	const char *env = getenv("TCPWATCH_CTL");

	return opt ? opt : env && *env ? env : DEFAULT_CTL_PATH;
}

/*
 * A number for option OPT in [min, max]; K/M/G suffixes (x1024) where
 * allowed. On error, say which option, what was given and what is
 * accepted: range is the accepted range in words.
 */
static int opt_num(const char *opt, const char *s, bool suffixes,
		   __u64 min, __u64 max, const char *range, __u64 *out)
{
	int err = parse_uint(s, suffixes, min, max, out);

	if (err)
		fprintf(stderr, "tcpwatch: %s: %s \"%s\": accepted: %s\n", opt,
			err == -ERANGE ? "out of range" : "not a number", s,
			range);
	return err;
}

/*
 * A --cgroup PATH, under the cgroup2 mount or from its root, as its
 * path from the root ("/a/b", no trailing slash). With id, it must
 * exist: its id and depth then go to the kernel side's filter.
 */
static int cgroup_arg(const char *arg, char *rel, size_t n, __u64 *id,
		      __u32 *level)
{
	char mnt[4096];
	size_t m, len;
	int err;

	err = cg_find_mount(mnt, sizeof(mnt));
	if (err) {
		fprintf(stderr, "tcpwatch: --cgroup: no cgroup2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup)\n");
		return err;
	}
	m = strlen(mnt);
	if (!strncmp(arg, mnt, m) && (arg[m] == '/' || !arg[m]))
		arg += m;
	arg += strspn(arg, "/");
	if (snprintf(rel, n, "/%s", arg) >= (int)n)
		return -ENAMETOOLONG;
	len = strlen(rel);
	while (len > 1 && rel[len - 1] == '/')
		rel[--len] = '\0';
	if (!id)
		return 0;
	err = cg_path_id(mnt, rel, id, level);
	if (err)
		fprintf(stderr, "tcpwatch: --cgroup: no cgroup \"%s\" under %s: %s\n",
			rel, mnt, strerror(-err));
	return err;
}

/*
 * -N INODE is taken on trust by netns_resolve: look for it now, before
 * anything is loaded, rather than fail after attaching the programs.
 */
static int netns_exists(__u32 inum)
{
	struct netns_set set = { 0 };
	int n = netns_refresh(&set, inum);

	netns_free(&set);
	return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

/*
 * What the daemon still needs once the programs are loaded and attached,
 * the control socket bound and its output open (Documentation/install.md):
 * the kernel worker setns()es into every network namespace (SYS_ADMIN),
 * sets SO_RCVBUFFORCE on its sock_diag sockets (NET_ADMIN), and reads
 * other users' /proc/PID/ns/net and /proc/PID/fd (SYS_PTRACE,
 * DAC_READ_SEARCH). The ring, the maps and /dev/tcpwatch are read through
 * fds already open: no capability.
 */
static const int keep_caps[] = {
	CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
};

/* The daemon and the modules that hang off its loop. */
static int run_daemon(const struct daemon_opts *o,
		      const struct metrics_opts *mo, const char *ctl_group)
{
	static struct daemon d;
	int err;

	/* One daemon per control path, decided before anything is loaded. */
	err = ctl_lock(o->ctl_path);
	if (err)
		return err;
	err = daemon_start(&d, o);
	if (!err)
		err = ctl_attach(&d, o->ctl_path);
	if (!err && ctl_group)
		err = ctl_grant_group(ctl_group);
	if (!err)
		err = events_attach(&d);
	if (!err)
		err = diag_sweep_attach(&d);
	if (!err && mo->listen)
		err = metrics_listen(mo);	/* a port < 1024 needs root */
	/* before the kernel worker starts: it inherits the result */
	if (!err)
		err = caps_keep(keep_caps,
				sizeof(keep_caps) / sizeof(keep_caps[0]));
	if (!err && mo->listen)
		err = metrics_attach(&d, mo);
	if (!err)
		err = daemon_loop(&d);
	daemon_free(&d);
	return err;
}

/* Codes of long options without a short one: past any character. */
enum {
	OPT_RING_SIZE = 256,
	OPT_OUTPUT_CACHE,
	OPT_BACKLOG,
	OPT_CTL_GROUP,
	OPT_SAMPLE_MS,
	OPT_RECONCILE_S,
	OPT_TICK_MS,
	OPT_CGROUP,
	OPT_RECORDS,
	OPT_METRICS,
	OPT_METRICS_TOP,
	OPT_METRICS_NETNS,
	OPT_SPORT,
	OPT_DPORT,
};

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-output", no_argument, NULL, 'n' },
		{ "output-cache", no_argument, NULL, OPT_OUTPUT_CACHE },
		{ "ctl", required_argument, NULL, 'c' },
		{ "netns", required_argument, NULL, 'N' },
		{ "port", required_argument, NULL, 'p' },
		{ "ring-size", required_argument, NULL, OPT_RING_SIZE },
		{ "backlog", required_argument, NULL, OPT_BACKLOG },
		{ "ctl-group", required_argument, NULL, OPT_CTL_GROUP },
		{ "sample-ms", required_argument, NULL, OPT_SAMPLE_MS },
		{ "reconcile-s", required_argument, NULL, OPT_RECONCILE_S },
		{ "tick-ms", required_argument, NULL, OPT_TICK_MS },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "records", required_argument, NULL, OPT_RECORDS },
		{ "threshold", required_argument, NULL, 'T' },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "metrics-top", required_argument, NULL, OPT_METRICS_TOP },
		{ "metrics-netns", no_argument, NULL, OPT_METRICS_NETNS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct daemon_opts o = {
		.source = SOURCE_AUTO,
		.output = "-",
		.backlog_bytes = 1u << 20,
		.reconcile_ms = 30000,
		.tick_ms = 50,
		.src = { .ring_bytes = 8u << 20, .sample_ms = 1000 },
	};
	struct metrics_opts mo = { .topk = METRICS_TOPK_DEFAULT };
	const char *ctl = NULL, *ctl_group = NULL;
	static char cgroup[4096];
	char msg[256];
	__u64 v;
	int c, err;

	diag_opts_default(&o.diag);
	while ((c = getopt_long(argc, argv, "s:o:nc:N:p:T:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (source_parse_kind(optarg, &o.source)) {
				fprintf(stderr, "tcpwatch: --source must be bpf, kmod or auto\n");
				return 2;
			}
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'n':
			o.output = NULL;
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'N':
			err = netns_resolve(optarg, &o.filter.netns);
			if (!err)
				err = netns_exists(o.filter.netns);
			if (err) {
				fprintf(stderr, "tcpwatch: unknown network namespace \"%s\": %s (give a name from `ip netns`, a path, an inode or 'self')\n",
					optarg, strerror(-err));
				return 2;
			}
			break;
		case 'p':
			if (o.filter.nr_ports == SOURCE_MAX_PORTS) {
				fprintf(stderr, "tcpwatch: at most %d --port\n",
					SOURCE_MAX_PORTS);
				return 2;
			}
			if (opt_num("--port", optarg, false, 1, 65535,
				    "a port from 1 to 65535", &v))
				return 2;
			o.filter.ports[o.filter.nr_ports++] = v;
			break;
		case OPT_RING_SIZE:
#define RING_RANGE "a power of two from 4K to 1G (K, M, G suffixes)"
			if (opt_num("--ring-size", optarg, true, 4096, 1u << 30,
				    RING_RANGE, &v))
				return 2;
			if (v & (v - 1)) {
				fprintf(stderr, "tcpwatch: --ring-size: not a power of two \"%s\": accepted: " RING_RANGE "\n",
					optarg);
				return 2;
			}
			o.src.ring_bytes = v;
			break;
		case OPT_SAMPLE_MS:
			if (opt_num("--sample-ms", optarg, false, 0, 3600000,
				    "milliseconds from 0 (off) to 3600000",
				    &v))
				return 2;
			o.src.sample_ms = v;
			break;
		case OPT_RECONCILE_S:
			if (opt_num("--reconcile-s", optarg, false, 0, 86400,
				    "seconds from 0 (only after loss) to 86400",
				    &v))
				return 2;
			o.reconcile_ms = v * 1000;
			break;
		case OPT_TICK_MS:
			if (opt_num("--tick-ms", optarg, false, 1, 10000,
				    "milliseconds from 1 to 10000", &v))
				return 2;
			o.tick_ms = v;
			break;
		case OPT_METRICS:
			if (metrics_parse_listen(optarg)) {
				fprintf(stderr, "tcpwatch: --metrics: bad address \"%s\": accepted: PORT (127.0.0.1), HOST:PORT or [HOST6]:PORT, numeric\n",
					optarg);
				return 2;
			}
			mo.listen = optarg;
			break;
		case OPT_METRICS_TOP:
			if (opt_num("--metrics-top", optarg, false, 0,
				    METRICS_TOPK_MAX, "a count from 0 to 1000",
				    &v))
				return 2;
			mo.topk = v;
			break;
		case OPT_METRICS_NETNS:
			mo.per_netns = true;
			break;
		case OPT_CGROUP:
			if (cgroup_arg(optarg, cgroup, sizeof(cgroup),
				       &o.filter.cgroup, &o.src.cgroup_level))
				return 2;
			o.filter.cgroup_path = cgroup;
			break;
		case OPT_RECORDS:
			if (records_parse(optarg, &o.records, msg,
					  sizeof(msg))) {
				fprintf(stderr, "tcpwatch: %s\n", msg);
				return 2;
			}
			break;
		case OPT_BACKLOG:
			if (opt_num("--backlog", optarg, true, 0, 1u << 30,
				    "0 (none), or bytes from 8K to 1G (K, M, G suffixes)",
				    &v))
				return 2;
			if (v && v < 8192) {
				fprintf(stderr, "tcpwatch: --backlog: out of range \"%s\": accepted: 0 (none), or bytes from 8K to 1G (K, M, G suffixes)\n",
					optarg);
				return 2;
			}
			o.backlog_bytes = v;
			break;
		case OPT_CTL_GROUP:
			ctl_group = optarg;
			break;
		case OPT_OUTPUT_CACHE:
			o.output_cache = true;
			break;
		case 'T':
			if (diag_opts_set(&o.diag, optarg, msg, sizeof(msg))) {
				fprintf(stderr, "tcpwatch: %s\n", msg);
				return 2;
			}
			break;
		case 'v':
			o.src.verbose = true;
			break;
		case 'h':
			printf(usage_run, diag_opts_help());
			return 0;
		default:
			fprintf(stderr, usage_run, diag_opts_help());
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tcpwatch: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	if (diag_opts_check(&o.diag, msg, sizeof(msg))) {
		fprintf(stderr, "tcpwatch: %s\n", msg);
		return 2;
	}
	if (!mo.listen && (mo.per_netns || mo.topk != METRICS_TOPK_DEFAULT)) {
		fprintf(stderr, "tcpwatch: --metrics-top and --metrics-netns need --metrics [HOST:]PORT\n");
		return 2;
	}
	o.ctl_path = ctl_path(ctl);
	o.src.netns = o.filter.netns;
	o.src.nr_ports = o.filter.nr_ports;
	memcpy(o.src.ports, o.filter.ports, sizeof(o.src.ports));
	o.src.cgroup = o.filter.cgroup;
	o.src.cgroup_path = o.filter.cgroup_path;
	o.src.wakeup_bytes = o.src.ring_bytes / 4;
	return run_daemon(&o, &mo, ctl_group) ? 1 : 0;
}

/* Append " key=value" to a request line. */
static int req_add(char *req, size_t n, const char *k, const char *v)
{
	size_t len = strlen(req);
	int w;

	if (strpbrk(v, " \n=")) {
		fprintf(stderr, "tcpwatch: bad %s \"%s\"\n", k, v);
		return -EINVAL;
	}
	w = snprintf(req + len, n - len, " %s=%s", k, v);
	return w < 0 || (size_t)w >= n - len ? -E2BIG : 0;
}

/* Append " netns=INODE" for -N NAME|INODE; -EINVAL (said) if unknown. */
static int req_netns(char *req, size_t n, const char *arg)
{
	char num[16];
	__u32 ns;

	if (netns_resolve(arg, &ns)) {
		fprintf(stderr, "tcpwatch: unknown network namespace \"%s\"\n",
			arg);
		return -EINVAL;
	}
	snprintf(num, sizeof(num), "%u", ns);
	return req_add(req, n, "netns", num);
}

static int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, OPT_SPORT },
		{ "dport", required_argument, NULL, OPT_DPORT },
		{ "netns", required_argument, NULL, 'N' },
		{ "pid", required_argument, NULL, 'P' },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char req[1024] = "ls", cg[256];
	const char *ctl = NULL;
	int c, err = 0;

	while (!err &&
	       (c = getopt_long(argc, argv, "jS:p:N:P:c:46h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			err = req_add(req, sizeof(req), "json", "1");
			break;
		case 'S':
			if (state_parse(optarg) < 0) {
				fprintf(stderr, "tcpwatch: unknown state \"%s\" (e.g. ESTABLISHED, TIME_WAIT, CLOSE_WAIT)\n",
					optarg);
				return 2;
			}
			err = req_add(req, sizeof(req), "state", optarg);
			break;
		case 'p':
			err = req_add(req, sizeof(req), "port", optarg);
			break;
		case OPT_SPORT:
			err = req_add(req, sizeof(req), "sport", optarg);
			break;
		case OPT_DPORT:
			err = req_add(req, sizeof(req), "dport", optarg);
			break;
		case 'N':
			if (req_netns(req, sizeof(req), optarg))
				return 2;
			break;
		case 'P':
			err = req_add(req, sizeof(req), "pid", optarg);
			break;
		case OPT_CGROUP:
			err = cgroup_arg(optarg, cg, sizeof(cg), NULL, NULL);
			if (!err)
				err = req_add(req, sizeof(req), "cgroup", cg);
			break;
		case '4':
		case '6':
			err = req_add(req, sizeof(req), "family",
				      c == '4' ? "4" : "6");
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'h':
			fputs(usage_ls, stdout);
			return 0;
		default:
			fputs(usage_ls, stderr);
			return 2;
		}
	}
	if (err)
		return 2;
	return ctl_request(ctl_path(ctl), req) ? 1 : 0;
}

/*
 * A query with only -j and -c (diag, stats): send REQ, or "REQ json=1",
 * and copy the answer to stdout.
 */
static int cmd_query(int argc, char **argv, const char *req,
		     const char *usage, bool extra_args_ok)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *ctl = NULL;
	char line[32];
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!extra_args_ok && optind < argc) {
		fprintf(stderr, "tcpwatch: unexpected argument \"%s\"\n%s",
			argv[optind], usage);
		return 2;
	}
	snprintf(line, sizeof(line), "%s%s", req, json ? " json=1" : "");
	return ctl_request(ctl_path(ctl), line) ? 1 : 0;
}

static int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "netns", required_argument, NULL, 'N' },
		{ "port", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 'S' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char req[1024] = "events", states[256];
	const char *ctl = NULL;
	__u64 v;
	int c, err = 0, nports = 0;

	while (!err &&
	       (c = getopt_long(argc, argv, "fN:p:t:S:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			err = req_add(req, sizeof(req), "follow", "1");
			break;
		case 'N':
			if (req_netns(req, sizeof(req), optarg))
				return 2;
			break;
		case 'p':
			if (++nports > SOURCE_MAX_PORTS) {
				fprintf(stderr, "tcpwatch: at most %d --port\n",
					SOURCE_MAX_PORTS);
				return 2;
			}
			if (opt_num("--port", optarg, false, 1, 65535,
				    "a port from 1 to 65535", &v))
				return 2;
			err = req_add(req, sizeof(req), "port", optarg);
			break;
		case 't':
			err = req_add(req, sizeof(req), "type", optarg);
			break;
		case 'S':
			snprintf(states, sizeof(states), "%s", optarg);
			for (char *save = NULL, *w = strtok_r(states, ",", &save);
			     w; w = strtok_r(NULL, ",", &save)) {
				if (state_parse(w) <= 0) {
					fprintf(stderr, "tcpwatch: unknown state \"%s\" (e.g. ESTABLISHED, TIME_WAIT, CLOSE_WAIT)\n",
						w);
					return 2;
				}
			}
			err = req_add(req, sizeof(req), "state", optarg);
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'h':
			fputs(usage_events, stdout);
			return 0;
		default:
			fputs(usage_events, stderr);
			return 2;
		}
	}
	if (err)
		return 2;
	if (optind < argc) {
		fprintf(stderr, "tcpwatch: unexpected argument \"%s\"\n%s",
			argv[optind], usage_events);
		return 2;
	}
	return ctl_request(ctl_path(ctl), req) ? 1 : 0;
}

/* stats has always ignored extra arguments; diag refuses them */
static int cmd_stats(int argc, char **argv)
{
	return cmd_query(argc, argv, "stats", usage_stats, true);
}

static int cmd_diag(int argc, char **argv)
{
	return cmd_query(argc, argv, "diag", usage_diag, false);
}

static int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct top_opts o = { .delay_ms = 1000 };
	const char *ctl = NULL;
	char *end;
	double sec;
	int c;

	while ((c = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			sec = strtod(optarg, &end);
			if (end == optarg || *end || !(sec >= 0.1 && sec <= 3600)) {
				fprintf(stderr, "tcpwatch: --delay: %s \"%s\": accepted: seconds from 0.1 to 3600\n",
					end == optarg || *end ? "not a number" :
					"out of range", optarg);
				return 2;
			}
			o.delay_ms = sec * 1000 + 0.5;
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'h':
			fputs(usage_top_cmd, stdout);
			return 0;
		default:
			fputs(usage_top_cmd, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tcpwatch: unexpected argument \"%s\"\n%s",
			argv[optind], usage_top_cmd);
		return 2;
	}
	o.ctl_path = ctl_path(ctl);
	return top_run(&o);
}

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "run", cmd_run },
	{ "ls", cmd_ls },
	{ "stats", cmd_stats },
	{ "diag", cmd_diag },
	{ "top", cmd_top },
	{ "events", cmd_events },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		fputs(usage_top, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("tcpwatch %s (event ABI %d)\n", TCPWATCH_VERSION,
		       TCPW_ABI_VERSION);
		return 0;
	}
	argc--;
	argv++;
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(cmd, c->name))
			return c->fn(argc, argv);
	fprintf(stderr, "tcpwatch: unknown command \"%s\"\n\n%s", cmd,
		usage_top);
	return 2;
}
