// SPDX-License-Identifier: GPL-2.0
/* tcpwatch: the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/daemon.h"
#include "ctl/ctl.h"
#include "diag/sweep.h"
#include "lib/parse.h"

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
"  -n, --no-output              keep the table only, write no events\n"
"  -c, --ctl PATH               control socket (default " DEFAULT_CTL_PATH ")\n"
"  -N, --netns NAME|PATH|INODE  only this network namespace ('self':\n"
"                               the daemon's own)\n"
"  -p, --port PORT              only sockets with this local or remote\n"
"                               port; repeat for up to 8\n"
"      --ring-size BYTES        kernel ring buffer size, a power of two\n"
"                               from 4K to 1G, K/M/G suffix (default 8M)\n"
"      --sample-ms MS           tcp_probe window/buffer sample interval\n"
"                               per socket, 0..3600000; 0 = off\n"
"                               (default 1000)\n"
"      --reconcile-s SECONDS    compare with sock_diag this often,\n"
"                               0..86400; 0 = only after lost events\n"
"                               (default 30)\n"
"      --tick-ms MS             drain and flush period, 1..10000\n"
"                               (default 50)\n"
"  -T, --threshold KEY=VALUE    tune a diagnostic rule (below)\n"
"  -v, --verbose                libbpf debug output\n"
"\n"
"%s"
"\n"
"EXAMPLES\n"
"  tcpwatch run                       every socket, NDJSON on stdout\n"
"  tcpwatch run -o /var/log/tcp.ndjson --sample-ms 0\n"
"  tcpwatch run -N myns -p 443 | jq 'select(.type==\"state\")'\n"
"  tcpwatch run -T close_wait_s=300 | jq 'select(.type==\"finding\")'\n";

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
"  -4, -6                  address family\n"
"  -c, --ctl PATH          control socket\n"
"\n"
"EXAMPLES\n"
"  tcpwatch ls -S close-wait        who leaks CLOSE_WAIT sockets\n"
"  tcpwatch ls -j | jq -s 'group_by(.state)|map({(.[0].state):length})'\n";

static const char usage_diag[] =
"usage: tcpwatch diag [-j|--json] [-c|--ctl PATH]\n"
"\n"
"The running daemon's open findings (TIME_WAIT exhaustion, CLOSE_WAIT\n"
"leaks, unanswered SYNs, ...), most severe first, with the evidence,\n"
"why it happens and the usual fix. --json: one finding per line, as\n"
"in the NDJSON stream. Exit status 0, or 1 if the daemon can't be asked.\n";

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

/* The daemon and the modules that hang off its loop. */
static int run_daemon(const struct daemon_opts *o)
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
	if (!err)
		err = diag_sweep_attach(&d);
	if (!err)
		err = daemon_loop(&d);
	daemon_free(&d);
	return err;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-output", no_argument, NULL, 'n' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "netns", required_argument, NULL, 'N' },
		{ "port", required_argument, NULL, 'p' },
		{ "ring-size", required_argument, NULL, 1 },
		{ "sample-ms", required_argument, NULL, 2 },
		{ "reconcile-s", required_argument, NULL, 3 },
		{ "tick-ms", required_argument, NULL, 4 },
		{ "threshold", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct daemon_opts o = {
		.source = SOURCE_AUTO,
		.output = "-",
		.reconcile_ms = 30000,
		.tick_ms = 50,
		.src = { .ring_bytes = 8u << 20, .sample_ms = 1000 },
	};
	const char *ctl = NULL;
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
		case 1:
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
		case 2:
			if (opt_num("--sample-ms", optarg, false, 0, 3600000,
				    "milliseconds from 0 (off) to 3600000",
				    &v))
				return 2;
			o.src.sample_ms = v;
			break;
		case 3:
			if (opt_num("--reconcile-s", optarg, false, 0, 86400,
				    "seconds from 0 (only after loss) to 86400",
				    &v))
				return 2;
			o.reconcile_ms = v * 1000;
			break;
		case 4:
			if (opt_num("--tick-ms", optarg, false, 1, 10000,
				    "milliseconds from 1 to 10000", &v))
				return 2;
			o.tick_ms = v;
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
	o.ctl_path = ctl_path(ctl);
	o.src.netns = o.filter.netns;
	o.src.nr_ports = o.filter.nr_ports;
	memcpy(o.src.ports, o.filter.ports, sizeof(o.src.ports));
	o.src.wakeup_bytes = o.src.ring_bytes / 4;
	return run_daemon(&o) ? 1 : 0;
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

static int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, 1 },
		{ "dport", required_argument, NULL, 2 },
		{ "netns", required_argument, NULL, 'N' },
		{ "pid", required_argument, NULL, 'P' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char req[1024] = "ls", num[16];
	const char *ctl = NULL;
	__u32 ns;
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
		case 1:
			err = req_add(req, sizeof(req), "sport", optarg);
			break;
		case 2:
			err = req_add(req, sizeof(req), "dport", optarg);
			break;
		case 'N':
			err = netns_resolve(optarg, &ns);
			if (err) {
				fprintf(stderr, "tcpwatch: unknown network namespace \"%s\"\n",
					optarg);
				return 2;
			}
			snprintf(num, sizeof(num), "%u", ns);
			err = req_add(req, sizeof(req), "netns", num);
			break;
		case 'P':
			err = req_add(req, sizeof(req), "pid", optarg);
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

/* stats has always ignored extra arguments; diag refuses them */
static int cmd_stats(int argc, char **argv)
{
	return cmd_query(argc, argv, "stats", usage_stats, true);
}

static int cmd_diag(int argc, char **argv)
{
	return cmd_query(argc, argv, "diag", usage_diag, false);
}

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "run", cmd_run },
	{ "ls", cmd_ls },
	{ "stats", cmd_stats },
	{ "diag", cmd_diag },
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
