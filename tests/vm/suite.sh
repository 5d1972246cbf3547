#!/usr/bin/env bash
# Everything the test VM runs (scripts/vm/run.sh boots it): the kernel
# module tests, then the host integration suites with the module as the
# event source and with BPF, on the VM's kernel. One "ok NAME" or
# "FAIL NAME" line per test; diagnostics start with "#".
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
export B

rc=0
# The module DKMS built for this kernel (scripts/vm/run.sh), if it did:
# the module tests load that one rather than make kmod's.
if [[ -f $B/dkms/tcpwatch.ko && $(cat "$B/dkms/kver" 2>/dev/null) == "$(uname -r)" ]]; then
	export TCPW_KO=$B/dkms/tcpwatch.ko
	echo "ok kmod/dkms-module ($TCPW_KO, signer: $(/sbin/modinfo -F signer "$TCPW_KO"))"
else
	echo "# no DKMS-built module for $(uname -r): the module tests load kmod/tcpwatch.ko"
fi
tests/vm/kmod.sh || rc=1

# Run the lead's host suites (tests/run.sh host) with one source;
# their ok/FAIL lines are renamed host-SOURCE/NAME, the rest become
# comments (so their own "N passed, N failed" line is not the last word).
host_suite() {
	local src=$1 exclude=${2:-} log=$B/vm/host-$1.log st lines
	if [[ $src == kmod ]] && ! insmod kmod/tcpwatch.ko; then
		echo "FAIL host-$src: insmod kmod/tcpwatch.ko failed"
		return 1
	fi
	TCPWATCH_SOURCE=$src TW_EXCLUDE=$exclude TW_SLOWDOWN=5 \
		timeout "${TCPW_VM_HOST_TIMEOUT:-1800}" \
		tests/run.sh host >"$log" 2>&1
	st=$?
	[[ $src == kmod ]] && rmmod tcpwatch
	lines=$(grep -cE '^(ok|FAIL) ' "$log")
	sed -E -e "s/^(ok|FAIL) /\\1 host-$src\\//" -e '/^(ok|FAIL) /!s/^/#   /' "$log"
	if ((st != 0 && lines == 0)) || ((st == 124)); then
		echo "FAIL host-$src: tests/run.sh host exited with $st (log: $log)"
	fi
	return $st
}

if [[ -x tests/run.sh ]]; then
	mkdir -p "$B/vm"
	# The output, the control socket, the options, the namespace
	# scaling and top are the daemon's, whatever the source: their tests
	# (long under TCG) run on the host only. The rules read the table, not the
	# source: their tests run with BPF on the host and with the module
	# here.
	daemon_only="test_output_ test_ctl_ test_option test_single_instance test_scale_ test_top_ test_metrics_ test_alerts_ test_events_ test_service_"
	host_suite kmod "$daemon_only" || rc=1
	host_suite bpf "test_diag_ $daemon_only" || rc=1
else
	echo "# tests/run.sh is not there yet: host suites not run in the VM"
fi
exit $rc
