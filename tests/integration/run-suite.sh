#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs every test_* function of tests/integration/test_*.sh, each in
# its own subshell, netns and daemon. Prints "ok NAME" / "FAIL NAME".
# $1: optional substring filter on test names; $TW_EXCLUDE: substrings
# (space-separated) of test names not to run (named in a "#" line,
# never counted); $TW_TEST_TIMEOUT: seconds a test may take (default
# 120 times $TW_SLOWDOWN), then it and what it started are sent SIGTERM
# (its cleanup runs) and it fails, named, with its output.
set -uo pipefail
cd "$(dirname "$0")/../.."
filter=${1:-}
limit=${TW_TEST_TIMEOUT:-$((120 * ${TW_SLOWDOWN:-1}))}
rc=0
for f in tests/integration/test_*.sh; do
	for t in $(bash -c "source tests/integration/lib.sh; source $f; declare -F" |
		   awk '$3 ~ /^test_/ {print $3}'); do
		[[ -z $filter || $t == *"$filter"* ]] || continue
		skip=
		for x in ${TW_EXCLUDE:-}; do
			[[ $t == *"$x"* ]] && skip=1
		done
		if [[ -n $skip ]]; then
			echo "# not run in this pass: $t"
			continue
		fi
		start=$EPOCHREALTIME
		# timeout signals the test's process group: the daemon and
		# the clients it started too
		out=$(timeout -k 60 "$limit" bash -c "set -euo pipefail; source tests/integration/lib.sh; source $f; tw_main $t" 2>&1 </dev/null)
		st=$?
		((st == 124)) && out+=$'\n'"  FAILED: still running after $limit s (TW_TEST_TIMEOUT)"
		took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
		if ((st == 0)); then
			echo "ok $t (${TCPWATCH_SOURCE:-bpf}, ${took}s)"
			# figures a test reports ("  time to finding: 1.2 s",
			# "  measured: ...")
			printf '%s\n' "$out" | grep -E '^  (time to |measured: )' || true
		else
			echo "FAIL $t (${TCPWATCH_SOURCE:-bpf})"
			printf '%s\n' "$out" | sed 's/^/    /' | tail -40
			rc=1
		fi
	done
done
exit $rc
