// SPDX-License-Identifier: GPL-2.0
/*
 * The rules' table: Documentation/diagnostics.md's threshold table is
 * the definitions' (key, default, meaning), every rule is whole, and a
 * rule fed through the daemon's event path reports after a sweep.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "diag/rule.h"
#include "diag/sweep.h"

static void test_doc_table(void)
{
	FILE *f = fopen("Documentation/diagnostics.md", "r");
	char line[1024], want[1024];
	const struct diag_threshold *t;
	size_t i = 0;

	if (!ASSERT_TRUE(f != NULL, "open diagnostics.md"))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "| `", 3))
			continue;
		t = diag_threshold_at(i++);
		if (!ASSERT_TRUE(t != NULL, "a definition for each row"))
			break;
		snprintf(want, sizeof(want), "| `%s` | %g | %s |\n", t->key,
			 t->def, t->help);
		if (!ASSERT_TRUE(!strcmp(line, want), t->key))
			fprintf(stderr, "  doc:  %s  want: %s", line, want);
	}
	ASSERT_TRUE(diag_threshold_at(i) == NULL, "a row for each definition");
	fclose(f);
}

static void test_rules_whole(void)
{
	ASSERT_EQ(diag_nrules, 11, "rules");
	for (size_t i = 0; i < diag_nrules; i++) {
		const struct diag_rule *r = diag_rules[i];

		ASSERT_TRUE(r->id && r->explain[0] && r->fix[0] && r->eval,
			    r->id);
		ASSERT_TRUE(diag_rule_find(r->id) == r, "found by id");
	}
}

/* Five connects refused: connect_refused opens at the next sweep. */
static void test_connect_refused_sweep(void)
{
	char out[] = "/tmp/tcpwatch-unit-XXXXXX";
	int fd = mkstemp(out);
	struct daemon d;
	struct tcpw_event ev;
	__u64 t = mono_ns();
	char buf[8192];
	ssize_t n;

	if (!ASSERT_GE(fd, 0, "mkstemp"))
		return;
	unlink(out);
	if (!ASSERT_EQ(daemon_init_offline(&d, dup(fd)), 0, "init") ||
	    !ASSERT_EQ(diag_sweep_attach(&d), 0, "attach"))
		goto out;
	d.start_ns = t;
	for (int i = 0; i < 5; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.version = TCPW_ABI_VERSION;
		ev.netns = 1;
		ev.family = AF_INET;
		ev.dport = 80;
		ev.cookie = 100 + i;
		inet_pton(AF_INET, "10.0.0.1", ev.saddr);
		inet_pton(AF_INET, "10.0.0.2", ev.daddr);
		ev.kind = TCPW_EV_STATE;
		ev.ts_ns = t;
		ev.oldstate = TCPW_CLOSE;
		ev.newstate = TCPW_SYN_SENT;
		daemon_handle_event(&d, &ev);
		ev.kind = TCPW_EV_RST_RECV;
		ev.sport = 40000 + i;
		ev.oldstate = ev.newstate = TCPW_SYN_SENT;
		daemon_handle_event(&d, &ev);
		ev.kind = TCPW_EV_STATE;
		ev.newstate = TCPW_CLOSE;
		daemon_handle_event(&d, &ev);
	}
	diag_sweep_now(&d, t + 1000000);
	json_flush(&d.out);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (!ASSERT_GT(n, 0, "a record written"))
		goto out;
	buf[n] = 0;
	ASSERT_TRUE(strstr(buf, "\"rule\":\"connect_refused\"") != NULL,
		    "connect_refused finding");
	ASSERT_TRUE(strstr(buf, "\"refused\":5") != NULL, "evidence");
	ASSERT_TRUE(strstr(buf, "syn_unanswered") == NULL,
		    "refused, not unanswered");
out:
	daemon_free(&d);
	close(fd);
}

UNIT_MAIN(test_doc_table, test_rules_whole, test_connect_refused_sweep)
