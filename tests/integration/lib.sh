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

# How much slower than a real CPU this machine runs the tests: the QEMU
# VM (TCG) sets 5; bounds on time and CPU share scale with it.
TW_SLOWDOWN=${TW_SLOWDOWN:-1}

NS= DIR= DPID= PIDS=() AT_EXIT=() CGROUPS=() CGMOUNTED=

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
	for p in "${AT_EXIT[@]}"; do	# a test's own cleanup commands
		eval "$p"
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [[ -n $DPID ]]; then
		# (a test that failed while it had the daemon stopped)
		kill -TERM "$DPID" 2>/dev/null
		kill -CONT "$DPID" 2>/dev/null
		if ! exited "$DPID" $((30 * TW_SLOWDOWN)); then
			echo "  daemon still running $((30 * TW_SLOWDOWN)) s after SIGTERM: killed" >&2
			kill -KILL "$DPID" 2>/dev/null
			rc=1
		fi
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
	cg_cleanup || rc=1
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

# exited PID SECONDS: the child PID has exited (a zombie until waited
# for: kill -0 would still find it) within SECONDS
exited() {
	local i st
	for ((i = 0; i < $2 * 10; i++)); do
		st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
		[[ -z $st || $st == Z ]] && return 0
		sleep 0.1
	done
	return 1
}

tw_main() {
	trap 'tw_cleanup $? || exit 1' EXIT
	# killed (run-suite.sh's timeout, ^C): exit, so that the EXIT trap
	# cleans up; a shell that dies of the signal may skip it
	trap 'exit 143' TERM
	trap 'exit 130' INT
	tw_setup
	"$1"
}

# tw_start [run options]: the daemon in the host netns, watching $NS.
# daemon_up ARGS...: start the daemon, its NDJSON and control socket in
# $DIR, and wait (30 s at most) until it answers.
daemon_up() {
	local i
	"$TCPWATCH" run --source "$SRC" -o "$DIR/events.ndjson" \
		--ctl "$DIR/ctl.sock" --sample-ms 0 "$@" \
		2> "$DIR/daemon.err" &
	DPID=$!
	for ((i = 0; i < 600; i++)); do
		kill -0 "$DPID" 2>/dev/null ||
			fail "daemon died: $(cat "$DIR/daemon.err")"
		"$TCPWATCH" stats --ctl "$DIR/ctl.sock" >/dev/null 2>&1 &&
			return 0
		sleep 0.05
	done
	fail "daemon did not come up"
}

# tw_start ARGS...: the daemon watching this test's netns only.
tw_start() {
	daemon_up -N "$NS" --reconcile-s 0 "$@"
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
# `bg NAME nsx CMD` (and `bg NAME cg_run REL CMD`) runs ip netns exec
# itself, not the nsx function: a
# function would run in a forked shell, $! would be that shell, and
# killing it (a test, or the cleanup) would leave CMD running, holding
# the deleted netns. ip netns exec execs CMD, so $! is CMD's pid.
bg() {
	local name=$1
	shift
	if [[ $1 == nsx ]]; then
		shift
		set -- ip netns exec "$NS" "$@"
	elif [[ $1 == cg_run ]]; then	# the same for cg_run REL CMD
		set -- sh -c "$CG_EXEC" cg_run "$CGROOT$2" ip netns exec "$NS" "${@:3}"
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

# poll SECONDS CMD...: until CMD prints something (within SECONDS);
# prints it. Fails (returns 1) when it never does. Every wait of the
# tests is this loop. $POLL_S: the pause between tries (0.2 s).
poll() {
	local end=$((SECONDS + $1)) got
	shift
	while :; do
		got=$("$@")
		if [[ -n $got ]]; then
			printf '%s\n' "$got"
			return 0
		fi
		((SECONDS <= end)) || return 1
		sleep "${POLL_S:-0.2}"
	done
}

# wait_for NAME REGEX [SECONDS]: until $DIR/NAME.out has a matching line
wait_for() {
	POLL_S=0.05 poll "${3:-10}" grep -m1 -E "$2" "$DIR/$1.out" \
		>/dev/null 2>&1 ||
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

# free_port: a TCP port of the host netns no socket uses, below the
# ephemeral range (so no connect() of another test takes it), for a
# daemon's --metrics or a Prometheus
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000))
		[[ -z $(ss -Htan "sport = :$p") ]] && { echo "$p"; return 0; }
	done
	fail "no free port in 20000-31999"
}

# ---- cgroups (test_cgroup.sh) ----
# CGROOT: the cgroup2 mount, set by cg_new; one is mounted (and
# unmounted at cleanup) when the host has none. Not in a $(...): these
# set globals.
CGROOT=
cg_init() {
	[[ -n $CGROOT ]] && return 0
	CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	if [[ -z $CGROOT ]]; then
		CGROOT=$DIR/cgroup2
		mkdir -p "$CGROOT"
		mount -t cgroup2 none "$CGROOT" || fail "cannot mount a cgroup2"
		CGMOUNTED=$CGROOT
	fi
}

# cg_new VAR NAME: make a test cgroup (NAME may nest: "a/b", parent
# first); VAR gets its path from the cgroup2 root. Removed, deepest
# first, at cleanup.
cg_new() {
	cg_init
	local rel=/twt$$-$2
	mkdir "$CGROOT$rel" || fail "mkdir $CGROOT$rel"
	CGROUPS+=("$CGROOT$rel")
	printf -v "$1" '%s' "$rel"
}

# cg_run REL CMD...: CMD in cgroup REL and in $NS: `ip netns exec`
# remounts /sys, so join the cgroup first, then exec into the netns.
# The pid stays CMD's (sh and ip netns exec exec), so `bg` can kill it.
CG_EXEC='echo $$ > "$1/cgroup.procs" && shift && exec "$@"'
cg_run() {
	sh -c "$CG_EXEC" cg_run "$CGROOT$1" ip netns exec "$NS" "${@:2}"
}

cg_cleanup() {
	local i c rc=0 t
	for ((i = ${#CGROUPS[@]} - 1; i >= 0; i--)); do
		c=${CGROUPS[i]}
		[[ -d $c ]] || continue
		# a killed process leaves its cgroup once it is reaped
		for ((t = 0; t < 50; t++)); do
			rmdir "$c" 2>/dev/null && break
			sleep 0.1
		done
		[[ -d $c ]] && { echo "  cannot remove cgroup $c" >&2; rc=1; }
	done
	[[ -n $CGMOUNTED ]] && umount "$CGMOUNTED"
	return $rc
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

# burst_while_stopped N: N connections to $PORT in $NS, each ended by a
# reset, while the daemon is stopped (SIGSTOP): a small ring overflows
burst_while_stopped() {
	# a backlog above the burst: a full accept queue drops a handshake's
	# last ACK, the client's reset then ends it unaccepted, and a server
	# waiting for N accepts would wait for ever
	bg srv nsx "$TCPX" server -b 1024 -n "$1" $PORT
	wait_for srv listening
	kill -STOP "$DPID"
	nsx "$TCPX" client --linger0 -n "$1" $PORT >/dev/null
	server_done "$1"
	kill -CONT "$DPID"
}

# server_done N: the server ($JOB_srv) has accepted its N connections
# and exited, within 30 s (times TW_SLOWDOWN)
server_done() {
	exited "$JOB_srv" $((30 * TW_SLOWDOWN)) ||
		fail "the server accepted $(grep -c '^accepted' "$DIR/srv.out") of $1 connections"
	wait "$JOB_srv" || true
}

# ---- diagnostics (test_diag_*.sh, one file per user/diag/rule_*.c) ----
# Findings are NDJSON records {"type":"finding","event":"opened"|
# "updated"|"resolved","id","rule","severity","subject","evidence",...};
# `diag -j` prints the open ones in the same shape. The delay from a
# pathology's start to its finding is printed ("  time to finding: 1.2 s").

# Short windows so findings resolve within a test.
WIN=(--threshold window_s=2 --threshold quiet_s=2)

# finding RULE [JQ-COND]: that rule's finding records, one per line
finding() {
	events | jq -c --arg r "$1" \
		"select(.type == \"finding\" and .rule == \$r) | select(${2:-true})"
}

# first_record RULE EVENT COND: the first finding record of RULE with
# that event satisfying COND
first_record() {
	events | jq -c -s --arg r "$1" --arg e "$2" "
		map(select(.type == \"finding\" and .rule == \$r and
			   .event == \$e) | select($3)) | first // empty"
}

# wait_finding RULE EVENT [JQ-COND] [SECONDS]: until a finding record of
# RULE with that event (and COND) is written; prints the first one.
wait_finding() {
	poll "${4:-10}" first_record "$1" "$2" "${3:-true}" ||
		fail "no '$2' $1 finding${3:+ with $3} in ${4:-10} s; its records: $(finding "$1" | tail -3)"
}

# diag RULE [JQ-COND]: the open finding `diag -j` lists for RULE, if any
diag() {
	tw diag -j | jq -c -s --arg r "$1" \
		"map(select(.rule == \$r) | select(${2:-true})) | first // empty"
}

# diag_until RULE JQ-COND [SECONDS] WHAT: until `diag -j` lists a
# finding of RULE satisfying COND (evidence catching up with the kernel
# takes the daemon a tick or a sample); prints it.
diag_until() {
	poll "${3:-5}" diag "$1" "$2" ||
		fail "$4: diag lists no $1 finding with $2; it lists: $(diag "$1")"
}

# not_listed RULE ID: `diag -j` no longer lists that finding
not_listed() {
	[[ -z $(diag "$1" ".id == $(jstr "$2")") ]] ||
		fail "$1 finding $2 still listed by diag after it resolved"
}

# settled RULE ID: prints the finding's newest record once that record
# is "resolved" and `diag -j` no longer lists it (nothing if not yet)
settled() {
	local rec
	[[ -z $(diag "$1" ".id == $(jstr "$2")") ]] || return 0
	rec=$(events | jq -c -s --arg r "$1" --arg i "$2" '
		map(select(.type == "finding" and .rule == $r and .id == $i)) |
		last // empty')
	if [[ $(ev "$rec" .event) == resolved ]]; then
		printf '%s\n' "$rec"
	fi
}

# no_finding RULE: the daemon never opened a finding of RULE
no_finding() {
	local got
	got=$(finding "$1" | head -c 300)
	[[ -z $got ]] || fail "unexpected $1 finding: $got"
}

jstr() {	# jstr STRING: as a JSON string literal
	jq -n --arg s "$1" '$s'
}

ev() {		# ev JSON JQ-PATH: one value of a record
	jq -r "$2" <<<"$1"
}

# check JSON JQ-COND WHAT: the record satisfies COND
check() {
	jq -e "$2" <<<"$1" >/dev/null || fail "$3: $2 is false for $1"
}

# CLOCK_MONOTONIC in ns, the clock of the records' ts_ns
mono() {
	"$TCPX" now
}

# took T0 RECORD [WHAT]: print the delay from T0 (mono) to the record
# (ts_ns taken as text: jq 1.6 holds numbers as doubles).
took() {
	local ts
	ts=$(grep -o '"ts_ns":[0-9]*' <<<"$2" | head -1 | cut -d: -f2)
	[[ -n $ts ]] || fail "no ts_ns in $2"
	awk -v d="$((ts - $1))" -v w="${3:-finding}" \
		'BEGIN { printf "  time to %s: %.2f s\n", w, d / 1e9 }' >&2
	echo "$((ts - $1))"
}

mib() {		# mib NAME: a counter of $NS (nstat, absolute, no history)
	nsx nstat -asz "$1" | awk -v n="$1" '$1 == n { print $2 }'
}

# skmem FILTER FIELD: one skmem field (r, rb, t, tb, w, ...) of the
# first socket ss matches with FILTER
skmem() {
	nsx ss -tmnH $1 | grep -o 'skmem:([^)]*)' | head -1 |
		tr '(,)' '\n\n\n' | sed -n "s/^$2\([0-9][0-9]*\)$/\1/p"
}
