#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The module's benchmark conditions, run inside the QEMU VM by make bench
# (scripts/vm/run.sh scripts/vm/bench-kmod.sh): scripts/bench.sh
# --conditions none,kmod-file,kmod-null twice, first with the module's
# samples off (sample_ms=0: the per-connection model is checked exactly),
# then at its default parameters (samples every 1000 ms, the daemon's
# default; the model is not checked: under TCG the walk's CPU time moved
# a few connections' transitions in one calibration). Results in
# $B/vm/bench-$TCPW_KVER-{nosample,default}/churn.txt; the tables reach
# run.sh's output as comments. Under TCG the ratios move a lot: read
# their range (the "ratios" column).
set -u
B=${B:-build}
netns=1
ip netns add tcpwbench-probe$$ 2>/dev/null && ip netns del tcpwbench-probe$$ || netns=0
rc=0
for run in nosample default; do
	params=sample_ms=0 calibrate=1
	[[ $run == default ]] && params= calibrate=0
	insmod kmod/tcpwatch.ko $params ${TCPW_BENCH_MODPARAMS:-} ||
		{ echo "FAIL bench-kmod-$run: insmod kmod/tcpwatch.ko $params"; rc=1; continue; }
	echo "# module parameters: ${params:-(defaults)} ${TCPW_BENCH_MODPARAMS:-}"
	BENCH_RES=$B/vm/bench-${TCPW_KVER:-vm}-$run BENCH_NETNS=$netns REPLAY=0 \
		CALIBRATE=$calibrate ROUNDS=${TCPW_BENCH_ROUNDS:-5} \
		DURATION=${TCPW_BENCH_DURATION:-5} \
		scripts/bench.sh --conditions none,kmod-file,kmod-null 2>&1 |
		sed -e 's/^ok  */# ok   /' -e 's/^MISS/# MISS/'
	st=${PIPESTATUS[0]}
	rmmod tcpwatch
	if ((st == 0)); then
		echo "ok bench-kmod-$run"
	else
		echo "FAIL bench-kmod-$run: scripts/bench.sh exited with $st"
		rc=1
	fi
done
exit "$rc"
