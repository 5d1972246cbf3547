#!/usr/bin/env bash
# Kernel module tests, as root inside the test VM (tests/vm/suite.sh).
# Needs kmod/tcpwatch.ko built for the running kernel and
# $B/tests/kmod_test. One "ok kmod/NAME" or "FAIL kmod/NAME: why" line
# per test.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
KO=${TCPW_KO:-kmod/tcpwatch.ko}
T=$B/tests/kmod_test
rc=0

ok() { echo "ok kmod/$1"; }
fail() { echo "FAIL kmod/$1${2:+: $2}"; rc=1; }
loaded() { grep -q '^tcpwatch ' /proc/modules; }
load() { loaded && rmmod tcpwatch; insmod "$KO" "$@"; }

# Each step names itself on the console first: if the kernel hangs, the
# last "# running" line says where.
running() { echo "# running kmod/$1"; }

# step NAME CMD...: ok when CMD succeeds, else FAIL with its last lines.
step() {
	local name=$1 out
	shift
	running "$name"
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		fail "$name" "$(tail -n 5 <<<"$out" | tr '\n' ' ')"
	fi
}

# tool ARGS...: kmod_test prints its own ok/FAIL lines.
tool() {
	running "$1 ${*:2}"
	"$T" "$@" || rc=1
}

if [[ ! -x $T || ! -f $KO ]]; then
	fail setup "missing $T or $KO (make kmod; make $T)"
	exit 1
fi
loaded && rmmod tcpwatch

# Parameters out of range are refused.
if insmod "$KO" ring_bytes=100 2>/dev/null; then
	fail insmod-rejects-bad-ring "insmod ring_bytes=100 succeeded"
	rmmod tcpwatch
else
	ok insmod-rejects-bad-ring
fi

# Device interface and record contents, samples every 100 ms.
step insmod load sample_ms=100
step dev-node test -c /dev/tcpwatch
tool dev -p 7100

# rmmod is refused while the device is open, and works after.
exec 3</dev/tcpwatch
if rmmod tcpwatch 2>/dev/null; then
	fail rmmod-refused-while-open "rmmod succeeded with the device open"
else
	ok rmmod-refused-while-open
fi
exec 3<&-
step rmmod-after-close rmmod tcpwatch

# Exact counts with a ring big enough: nothing dropped.
step insmod-1m load sample_ms=0 ring_bytes=1048576
tool count -r 100 -f 100 -p 7200 -t exact

# Overflow: a 4 KiB ring (30 records); read + dropped == made, by kind.
step insmod-4k load sample_ms=0 ring_bytes=4096
tool count -r 150 -f 50 -p 7250 -t overflow -D

# Port filter: only connections on 7300 are reported, not on 7400.
step insmod-ports load sample_ms=0 ports=7300,7301
tool count -r 20 -f 10 -p 7300 -x 7400 -m 20 -t ports
step rmmod rmmod tcpwatch

# Concurrent readers, odd read sizes and bad ioctls under churn on every
# CPU: only whole valid records, and none lost.
step insmod-abuse load sample_ms=1 ring_bytes=262144
tool abuse -t 3000 -p 7400
step rmmod-abuse rmmod tcpwatch

# Load, read and unload under churn on every CPU, with readers racing
# rmmod (tests/vm/kmod-cycles.sh): the cycles that once hung the kernel.
running cycles
tests/vm/kmod-cycles.sh "${TCPW_CYCLES:-100}" || rc=1
if loaded; then
	fail unloaded "tcpwatch still loaded"
else
	ok unloaded
fi
exit $rc
