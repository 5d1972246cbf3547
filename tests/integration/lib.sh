# SPDX-License-Identifier: GPL-2.0
# Helpers for the integration tests: a private netns per test, the real
# daemon watching it, real sockets driven by tcpx, ss as ground truth.
# Everything a test creates is removed by tw_cleanup, which also fails
# the test if the daemon died or a sanitizer complained.

B=${B:-build}
TCPWATCH=${TCPWATCH:-$B/san/tcpwatch}
TCPX=${TCPX:-$B/tests/tcpx}
SRC=${TCPWATCH_SOURCE:-bpf}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

NS= DIR= DPID= PIDS=()

fail() {
	echo "  FAILED: $*" >&2
	exit 1
}

# assert_eq GOT WANT WHAT
assert_eq() {
	[[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

# assert_ge GOT MIN WHAT
assert_ge() {
	[[ "$1" =~ ^[0-9]+$ ]] || fail "$3: expected a number >= $2, got '$1'"
	(($1 >= $2)) || fail "$3: expected >= $2, got $1"
}

nsx() {
	ip netns exec "$NS" "$@"
}

tw_setup() {
	NS=twt$$-$RANDOM
	DIR=$(mktemp -d /tmp/tcpwatch-test.XXXXXX)
	ip netns add "$NS" || fail "ip netns add"
	nsx ip link set lo up
	# Let a test set a narrow port range etc. without touching the host.
	nsx sysctl -qw net.ipv4.tcp_syn_retries=3
}

tw_cleanup() {
	local rc=$1 p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [[ -n $DPID ]]; then
		kill -TERM "$DPID" 2>/dev/null
		if ! wait "$DPID"; then
			echo "  daemon exited with failure" >&2
			rc=1
		fi
		if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' \
			"$DIR/daemon.err" 2>/dev/null; then
			echo "  sanitizer report from the daemon:" >&2
			head -30 "$DIR/daemon.err" >&2
			rc=1
		fi
	fi
	[[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
	if [[ -n ${KMOD_RELOADED:-} ]]; then	# back to the suite's module
		rmmod tcpwatch 2>/dev/null
		insmod kmod/tcpwatch.ko || rc=1
	fi
	if ((rc != 0)) && [[ -d $DIR ]]; then
		echo "  --- daemon stderr:" >&2
		tail -5 "$DIR/daemon.err" >&2 2>/dev/null
	fi
	[[ -n $DIR ]] && rm -rf "$DIR"
	return "$rc"
}

tw_main() {
	trap 'tw_cleanup $? || exit 1' EXIT
	tw_setup
	"$1"
}

# tw_start [run options]: the daemon in the host netns, watching $NS.
tw_start() {
	local i
	"$TCPWATCH" run --source "$SRC" -N "$NS" -o "$DIR/events.ndjson" \
		--ctl "$DIR/ctl.sock" --sample-ms 0 --reconcile-s 0 "$@" \
		2> "$DIR/daemon.err" &
	DPID=$!
	for ((i = 0; i < 200; i++)); do
		kill -0 "$DPID" 2>/dev/null ||
			fail "daemon died: $(cat "$DIR/daemon.err")"
		"$TCPWATCH" stats --ctl "$DIR/ctl.sock" >/dev/null 2>&1 &&
			return 0
		sleep 0.05
	done
	fail "daemon did not come up"
}

tw() {	# tw ls|stats ...: ask this test's daemon
	"$TCPWATCH" "$1" --ctl "$DIR/ctl.sock" "${@:2}"
}

stat_of() {	# stat_of JQ-PATH: one number from `stats --json`
	tw stats -j | jq -r "$1"
}

# events: every NDJSON record so far (a stats query drains and flushes)
events() {
	tw stats >/dev/null
	cat "$DIR/events.ndjson"
}

# bg NAME CMD...: run in the background, output in $DIR/NAME.out.
# `bg NAME nsx CMD` runs ip netns exec itself, not the nsx function: a
# function would run in a forked shell, $! would be that shell, and
# killing it (a test, or the cleanup) would leave CMD running, holding
# the deleted netns. ip netns exec execs CMD, so $! is CMD's pid.
bg() {
	local name=$1
	shift
	if [[ $1 == nsx ]]; then
		shift
		set -- ip netns exec "$NS" "$@"
	fi
	"$@" > "$DIR/$name.out" 2>&1 &
	PIDS+=($!)
	eval "JOB_$name=$!"
}

# pid_of NAME: the pid tcpx reported (wait_for NAME first)
pid_of() {
	wait_for "$1" '^pid '
	field_of "$1" pid
}

# wait_for NAME REGEX [SECONDS]: until $DIR/NAME.out has a matching line
wait_for() {
	local i n=$((${3:-10} * 20))
	for ((i = 0; i < n; i++)); do
		grep -qE "$2" "$DIR/$1.out" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "timeout waiting for '$2' from $1: $(cat "$DIR/$1.out" 2>/dev/null)"
}

field_of() {	# field_of NAME WORD: the number after WORD in NAME.out
	awk -v w="$2" '$1 == w { print $2; exit }' "$DIR/$1.out"
}

# cookie_of SPORT DPORT: cookie of the socket with that local/remote port
cookie_of() {
	events | jq -r --argjson s "$1" --argjson d "$2" \
		'select(.sport == $s and .dport == $d and .cookie > 0) | .cookie' |
		head -1
}

# states COOKIE: the table's transitions for a socket, "OLD>NEW ..."
states() {
	events | jq -r --argjson c "$1" \
		'select(.type == "state" and .cookie == $c) | "\(.old)>\(.new)"' |
		tr '\n' ' ' | sed 's/ $//'
}

# kinds COOKIE TYPE: how many records of TYPE for the socket
kinds() {
	events | jq -r --argjson c "$1" --arg t "$2" \
		'select(.type == $t and .cookie == $c) | .type' | wc -l
}

# the daemon's table for $NS as "STATE LOCAL PEER" lines, sorted
table_tuples() {
	tw ls -j | jq -r '
		def ep(a; p): if .family == "inet6" then "[\(a)]:\(p)"
			      else "\(a):\(p)" end;
		"\(.state) \(ep(.saddr; .sport)) \(ep(.daddr; .dport))"' |
		sed -e 's/ 0\.0\.0\.0:0$/ 0.0.0.0:*/' -e 's/ \[::\]:0$/ [::]:*/' |
		sort
}

# ss's view of $NS in the same form
ss_tuples() {
	nsx ss -tanH 2>/dev/null | awk '{
		s = $1
		sub(/^ESTAB$/, "ESTABLISHED", s); gsub(/-/, "_", s)
		sub(/^FIN_WAIT_/, "FIN_WAIT", s)
		print s, $4, $5 }' |
		sed -e 's/ \*:\*$/ [::]:*/' -e 's/^\(LISTEN\) \*:/\1 [::]:/' |
		sort
}

# wait_quiet: until the kernel shows no transient states in $NS
settle() {
	local i
	for ((i = 0; i < 60; i++)); do
		nsx ss -tanH state syn-sent state syn-recv state fin-wait-1 \
			state last-ack state closing 2>/dev/null | grep -q . || return 0
		sleep 0.05
	done
}

# expect_event JQ-CONDITION WHAT [jq args]: some record satisfies it.
# (jq 1.6's -e looks only at the last input, so slurp instead.)
expect_event() {
	local cond=$1 what=$2
	shift 2
	events | jq -s -e "$@" "any(.[]; $cond)" >/dev/null ||
		fail "no event with: $what"
}

# kernel_at_least MAJOR MINOR
kernel_at_least() {
	local v maj min
	v=$(uname -r)
	maj=${v%%.*}
	min=${v#*.}
	min=${min%%.*}
	((maj > $1 || (maj == $1 && min >= $2)))
}

# kmod_params PARAM=V...: with the module source, reload the module with
# these parameters for this test (the ring size and sampling are the
# module's); the cleanup reloads it with its defaults.
kmod_params() {
	[[ $SRC == kmod ]] || return 0
	rmmod tcpwatch || fail "rmmod tcpwatch"
	KMOD_RELOADED=1
	insmod kmod/tcpwatch.ko "$@" || fail "insmod kmod/tcpwatch.ko $*"
}
