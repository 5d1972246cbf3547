#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run each libFuzzer target in $B/fuzz for $FUZZ_SECONDS (default 10)
# from its seeds in tests/fuzz/corpus/<target>/; new inputs are kept in
# $B/fuzz/corpus/<target>/, a crash in $B/fuzz/crash-<target>-*.
# Prints "ok fuzz_X: N executions in S s" or "FAIL fuzz_X: ..." per
# target; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
secs=${FUZZ_SECONDS:-10}
rc=0
for bin in "$B"/fuzz/fuzz_*; do
	[[ -x $bin ]] || continue
	t=${bin##*/}
	seeds=tests/fuzz/corpus/$t
	work=$B/fuzz/corpus/$t
	mkdir -p "$work" "$seeds"
	log=$B/fuzz/$t.log
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$B/fuzz/crash-$t-" \
		"$work" "$seeds" > "$log" 2>&1
	st=$?
	execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log")
	if ((st == 0)) && [[ -n $execs ]]; then
		echo "ok $t: $execs executions in $secs s"
	else
		echo "FAIL $t: status $st (log: $log)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5 | sed 's/^/    /'
		rc=1
	fi
done
exit $rc
