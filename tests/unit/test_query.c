// SPDX-License-Identifier: GPL-2.0
/*
 * ls's orders and limit (ctl/query.c), what `tcpwatch top` asks for:
 * for every sort=, the rows of limit=K are the first K rows of the
 * whole sorted answer, in the same order, on a table with ties; and
 * count=1 says how many matched before the limit.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "core/daemon.h"
#include "core/table.h"
#include "ctl/query.h"

#define N_SOCKS	2000

static void fill(struct daemon *d)
{
	static const char *const comms[] = { "nginx", "curl", "sshd" };
	static const __u8 states[] = { TCPW_ESTABLISHED, TCPW_CLOSE_WAIT,
				       TCPW_TIME_WAIT, TCPW_LISTEN };

	srand(7);
	for (int i = 0; i < N_SOCKS; i++) {
		bool created;
		struct sock_entry *e = table_get(&d->tab, 1000 + i, &created);

		e->netns = 4026531840u + rand() % 3;
		e->family = 2;
		e->sport = 1024 + rand() % 50000;
		e->dport = 80;
		table_set_state(&d->tab, e, states[rand() % 4],
				1000000ULL * (1 + rand() % 100));
		e->retrans = rand() % 5 ? 0 : rand() % 20;	/* many ties */
		if (rand() % 4) {
			e->pid = 100 + rand() % 10;
			strcpy(e->comm, comms[rand() % 3]);
		}
		e->has_snap = rand() % 2;
		e->snap.rcv_queued = rand() % 3 ? 0 : rand() % 100000;
		e->snap.wmem_queued = rand() % 3 ? 0 : rand() % 100000;
	}
}

/* ls with these words; the cookies of its rows, in order */
static int ls(struct daemon *d, const char *req, __u64 *out, int max,
	      long long *matched)
{
	char words[256], *argv[16], *save = NULL;
	struct jbuf b;
	int argc = 0, n = 0;

	snprintf(words, sizeof(words), "%s", req);
	for (char *w = strtok_r(words, " ", &save); w && argc < 16;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	if (json_init(&b, -1, 4096))
		return -1;
	query_ls(d, &b, argv, argc);
	json_ch(&b, 0);
	for (char *l = b.p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *c = strstr(l, "\"cookie\":");

		if (!strncmp(l, "{\"matched\":", 11)) {
			if (matched)
				*matched = atoll(l + 11);
		} else if (c && n < max) {
			out[n++] = strtoull(c + 9, NULL, 10);
		}
	}
	json_free(&b);
	return n;
}

static void test_limit_is_the_head_of_the_order(void)
{
	static const char *const sorts[] = { "netns", "retrans", "age",
					     "queues", "owner" };
	static const int limits[] = { 1, 2, 37, 500, N_SOCKS - 1 };
	static __u64 all[N_SOCKS + 1], head[N_SOCKS + 1];
	static struct daemon d;
	char req[128];

	if (!ASSERT_EQ(daemon_init_offline(&d, -1), 0, "init"))
		return;
	fill(&d);
	for (size_t s = 0; s < sizeof(sorts) / sizeof(*sorts); s++) {
		int n;

		snprintf(req, sizeof(req), "json=1 sort=%s", sorts[s]);
		n = ls(&d, req, all, N_SOCKS + 1, NULL);
		if (!ASSERT_EQ(n, N_SOCKS, sorts[s]))
			continue;
		for (size_t k = 0; k < sizeof(limits) / sizeof(*limits); k++) {
			long long matched = -1;
			int got;

			snprintf(req, sizeof(req),
				 "json=1 count=1 sort=%s limit=%d", sorts[s],
				 limits[k]);
			got = ls(&d, req, head, N_SOCKS + 1, &matched);
			ASSERT_EQ(got, limits[k], req);
			ASSERT_EQ(matched, N_SOCKS, req);
			ASSERT_TRUE(!memcmp(head, all, got * sizeof(*head)),
				    req);
		}
	}
	/* the key itself: the first row has the most retransmits */
	ls(&d, "json=1 sort=retrans limit=1", head, 1, NULL);
	for (__u32 i = 0, max = 0; i < d.tab.used; i++) {
		const struct sock_entry *e = &d.tab.v[i];

		if (e->cookie && e->retrans > max) {
			max = e->retrans;
			ASSERT_EQ(table_find(&d.tab, head[0])->retrans >= max, 1,
				  "most retransmits first");
		}
	}
	/* with a filter: the count is of the matches */
	{
		long long matched = -1;
		__u32 want = d.tab.by_state[TCPW_CLOSE_WAIT];
		int got = ls(&d, "json=1 count=1 state=close-wait sort=age limit=5",
			     head, N_SOCKS, &matched);

		ASSERT_EQ(matched, want, "matched CLOSE_WAIT");
		ASSERT_EQ(got, want < 5 ? want : 5, "rows");
		for (int i = 0; i < got; i++)
			ASSERT_EQ(table_find(&d.tab, head[i])->state,
				  TCPW_CLOSE_WAIT, "only CLOSE_WAIT");
	}
	daemon_free(&d);
}

UNIT_MAIN(test_limit_is_the_head_of_the_order)
