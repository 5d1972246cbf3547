// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol: a request line of any bytes, split by
 * ctl_parse(), answered by the ls query (its filters) on a small table,
 * streamed in small chunks as the control socket does. A JSON answer
 * must parse line by line.
 */
#include <sys/socket.h>

#include "core/daemon.h"
#include "ctl/ctl.h"
#include "ctl/query.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void seed(struct daemon *d)
{
	struct tcpw_event ev;

	for (int i = 0; i < 8; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.version = TCPW_ABI_VERSION;
		ev.kind = TCPW_EV_STATE;
		ev.cookie = 100 + i;
		ev.netns = 4026531840u + i % 2;
		ev.family = i % 3 ? AF_INET : AF_INET6;
		ev.sport = 1000 + i;
		ev.dport = 80;
		ev.oldstate = TCPW_CLOSE;
		ev.newstate = i % 2 ? TCPW_SYN_SENT : TCPW_LISTEN;
		ev.ts_ns = 1000 + i;
		daemon_handle_event(d, &ev);
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct daemon d;
	char in[4096], *argv[32];
	const char *err;
	struct jbuf b;
	bool end;
	int argc;

	if (size > sizeof(in) - 1)
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	argc = ctl_parse(in, size, argv, 32, &end, &err);
	if (err || argc < 1 || strcmp(argv[0], "ls"))
		return 0;
	if (daemon_init_offline(&d, -1) || json_init(&b, -1, 4096))
		return 0;
	seed(&d);
	for (const struct query_cmd *q = query_cmds; q->name; q++) {
		struct query_cursor *c;
		bool json = false;

		if (strcmp(q->name, "ls"))
			continue;
		/* the last json= wins, as in parse_ls */
		for (int i = 1; i < argc; i++)
			if (!strncmp(argv[i], "json=", 5))
				json = !strcmp(argv[i], "json=1");
		c = q->open(&d, &b, argv + 1, argc - 1);
		while (c && !query_next(&d, c, &b, b.len + 100))
			;
		query_cursor_free(c);
		if (json && !(b.len >= 7 && !memcmp(b.p, "error: ", 7)))
			fuzz_lines_parse(&b, 0);
	}
	json_free(&b);
	daemon_free(&d);
	return 0;
}
