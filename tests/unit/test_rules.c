// SPDX-License-Identifier: GPL-2.0
/*
 * The rules' table: Documentation/diagnostics.md's threshold table is
 * the definitions' (key, default, meaning), and every rule is whole.
 * Each rule family has its own test_rule_*.c.
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
	ASSERT_EQ(diag_nrules, 12, "rules");
	for (size_t i = 0; i < diag_nrules; i++) {
		const struct diag_rule *r = diag_rules[i];

		ASSERT_TRUE(r->id && r->explain[0] && r->fix[0] && r->eval,
			    r->id);
		ASSERT_TRUE(diag_rule_find(r->id) == r, "found by id");
	}
}

UNIT_MAIN(test_doc_table, test_rules_whole)
