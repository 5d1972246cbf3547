#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test runner: tests/run.sh [unit|fuzz|host|vm|package|all] [NAME-FILTER]
#
#   unit  build/tests/test_* binaries (ASan/UBSan)
#   fuzz  each libFuzzer target for FUZZ_SECONDS (default 3 here)
#   host  tests/integration/*.sh on this kernel, real sockets in a
#         private netns, the real daemon (TCPWATCH_SOURCE=bpf|kmod)
#   vm    scripts/vm/run.sh: the module and BPF suites in QEMU
#   package  tests/package/run.sh: make install, the unit, logrotate,
#         man pages, completion, DKMS and the Debian packages
#
# Prints "ok NAME" / "FAIL NAME" per test and ends with
# "N passed, N failed". Under CI=true nothing is skipped: a missing
# requirement (root, BPF, QEMU) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export B=${B:-build}
what=${1:-all}
filter=${2:-}
pass=0 fail=0 skip=0
failed=()

count() {	# count ok/FAIL lines from a suite's output on stdin
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass=$((pass + 1)) ;;
		"FAIL "*) fail=$((fail + 1)); failed+=("${line#FAIL }") ;;
		"SKIP "*) skip=$((skip + 1)) ;;
		esac
	done
}

# suite NAME CMD...: run it, count its lines; a suite that exits non-zero
# without a FAIL line (a crash, a sanitizer abort) is a failure too.
# Its lines are printed as they come: a run killed midway (the VM's
# timeout) still shows the tests that ended and which one was running.
suite() {
	local name=$1 out rc before=$fail
	shift
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	count < "$out"
	rm -f "$out"
	if ((rc != 0 && fail == before)); then
		echo "FAIL $name: exited with status $rc"
		fail=$((fail + 1)); failed+=("$name")
	fi
}

need_root() {	# $1: suite
	[[ $(id -u) -eq 0 ]] && return 0
	if [[ ${CI:-} == true ]]; then
		echo "FAIL $1: needs root (CI=true: nothing is skipped)"
		fail=$((fail + 1)); failed+=("$1")
	else
		echo "SKIP $1: needs root; run sudo make test"
		skip=$((skip + 1))
	fi
	return 1
}

unit_one() {	# prefix test names with the binary's; keep its status
	"$1" 2>&1 | sed -e "s/^ok /ok ${1##*/}: /" \
			-e "s/^FAIL /FAIL ${1##*/}: /" \
			-e '/^[0-9]* passed, [0-9]* failed$/d'
	return "${PIPESTATUS[0]}"
}

run_unit() {
	local t
	for t in "$B"/tests/test_*; do
		[[ -x $t ]] || continue
		echo "# unit: ${t##*/}"
		suite "${t##*/}" unit_one "$t"
	done
}

run_fuzz() {
	echo "# fuzz: each target ${FUZZ_SECONDS:-3} s"
	if ! make -s B="$B" fuzz-build > /dev/null; then
		echo "FAIL fuzz: building the targets (make fuzz-build)"
		fail=$((fail + 1)); failed+=(fuzz)
		return
	fi
	suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-3}" B="$B" tests/fuzz/run.sh
}

run_host() {
	need_root "host integration (${TCPWATCH_SOURCE:-bpf})" || return 0
	suite "host (${TCPWATCH_SOURCE:-bpf})" tests/integration/run-suite.sh "$filter"
}

run_vm() {
	need_root "vm" || return 0
	if [[ ! -x scripts/vm/run.sh ]]; then
		echo "FAIL vm: scripts/vm/run.sh missing"
		fail=$((fail + 1)); failed+=(vm)
		return
	fi
	suite vm scripts/vm/run.sh
}

# DKMS and dpkg --root need root; the suite itself skips (or, under
# CI=true, fails) what it cannot run.
run_package() {
	echo "# package"
	suite package tests/package/run.sh "$filter"
}

case $what in
unit) run_unit ;;
fuzz) run_fuzz ;;
host) run_host ;;
vm) run_vm ;;
package) run_package ;;
all) run_unit; run_fuzz; run_host; run_vm; run_package ;;
*) echo "usage: tests/run.sh [unit|fuzz|host|vm|package|all] [filter]" >&2; exit 2 ;;
esac

if ((${#failed[@]})); then
	echo "# failed:"
	printf '#   %s\n' "${failed[@]}"
fi
if ((skip)); then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
((fail == 0 && pass > 0))
