# SPDX-License-Identifier: GPL-2.0
# Options and the one-daemon-per-control-path lock: every bad value is
# refused before anything is loaded, with a message that names the
# option and what it accepts.

# refuse MESSAGE-REGEX ARGS...: `tcpwatch run ARGS` exits 2 (usage) or
# 1 (setup) quickly and says MESSAGE on stderr.
refuse() {
	local want=$1 rc=0
	shift
	timeout 20 "$TCPWATCH" run --ctl "$DIR/r.sock" -o /dev/null "$@" \
		> "$DIR/refuse.out" 2> "$DIR/refuse.err" || rc=$?
	((rc == 1 || rc == 2)) ||
		fail "run $*: expected exit status 1 or 2, got $rc: $(cat "$DIR/refuse.err")"
	grep -qE -- "$want" "$DIR/refuse.err" ||
		fail "run $*: expected a message matching '$want', got: $(cat "$DIR/refuse.err")"
	[[ ! -s $DIR/refuse.out ]] || fail "run $*: wrote output"
}

test_option_ranges() {
	refuse '--tick-ms: out of range "0": accepted: milliseconds from 1 to 10000' --tick-ms 0
	refuse '--port: out of range "0": accepted: a port from 1 to 65535' -p 0
	refuse '--port: out of range "65536"' -p 65536
	refuse '--ring-size: out of range "17592186044420M".*4K to 1G' \
		--ring-size 17592186044420M
	refuse '--ring-size: out of range "2G"' --ring-size 2G
	refuse '--ring-size: not a power of two "12K"' --ring-size 12K
	refuse '--sample-ms: .*"18014398509481984K".*0 \(off\) to 3600000' \
		--sample-ms 18014398509481984K
	refuse '--sample-ms: out of range "3600001"' --sample-ms 3600001
	refuse '--reconcile-s: out of range "86401"' --reconcile-s 86401
	refuse '--reconcile-s: not a number "-1"' --reconcile-s -1
	refuse 'threshold tw_fraction: "nan"' -T tw_fraction=nan
	refuse 'threshold tw_fraction: "inf"' -T tw_fraction=inf
	refuse 'tw_critical \(0.1\) is below tw_fraction \(0.5\)' -T tw_critical=0.1
	refuse 'unknown network namespace "4294967295"' -N 4294967295
	# 1 GiB is the stated maximum and accepted: the next option's
	# error shows --ring-size 1G was taken (no 1 GiB ring is made).
	refuse '--tick-ms: out of range' --ring-size 1G --tick-ms 0
	refuse '--tick-ms: out of range' --ring-size 1g --tick-ms 0
}

# An inode that names no namespace is refused before BPF is loaded:
# nothing about reconcile, and fast.
test_option_netns_checked_first() {
	refuse '^tcpwatch: unknown network namespace "12345"' -N 12345
	if grep -q reconcile "$DIR/refuse.err"; then
		fail "-N 12345 got as far as reconcile: $(cat "$DIR/refuse.err")"
	fi
}

test_option_ctl_dir_missing() {
	refuse "cannot create the control socket's directory $DIR/no/such: .*its parent does not exist" \
		--ctl "$DIR/no/such/ctl.sock"
	if grep -q "another daemon" "$DIR/refuse.err"; then
		fail "a missing directory reported as another daemon"
	fi
}

# The second daemon on a control path refuses before attaching anything;
# its exit leaves the first one's socket in place.
test_single_instance() {
	tw_start
	local pid
	pid=$DPID
	timeout 20 "$TCPWATCH" run --source "$SRC" --ctl "$DIR/ctl.sock" \
		-o "$DIR/second.ndjson" 2> "$DIR/second.err" && fail "second daemon ran"
	grep -q "another daemon (pid $pid) is running on $DIR/ctl.sock" "$DIR/second.err" ||
		fail "second daemon's message: $(cat "$DIR/second.err")"
	[[ ! -s $DIR/second.ndjson ]] || fail "second daemon wrote records"
	[[ -S $DIR/ctl.sock ]] || fail "the second daemon removed the first one's socket"
	tw stats >/dev/null || fail "first daemon unreachable"
}

# Started at the same instant, exactly one of two daemons runs; the
# loser never unlinks the winner's socket.
test_single_instance_race() {
	local i a b ra rb
	for ((i = 0; i < 5; i++)); do
		"$TCPWATCH" run --source "$SRC" -N "$NS" --ctl "$DIR/race.sock" \
			--sample-ms 0 --reconcile-s 0 -n 2> "$DIR/a.err" &
		a=$!
		"$TCPWATCH" run --source "$SRC" -N "$NS" --ctl "$DIR/race.sock" \
			--sample-ms 0 --reconcile-s 0 -n 2> "$DIR/b.err" &
		b=$!
		# wait until one has exited (the loser) and the other answers
		local up=0 j
		for ((j = 0; j < 400; j++)); do
			if ! kill -0 "$a" 2>/dev/null || ! kill -0 "$b" 2>/dev/null; then
				"$TCPWATCH" stats --ctl "$DIR/race.sock" >/dev/null 2>&1 &&
					{ up=1; break; }
			fi
			sleep 0.05
		done
		kill -0 "$a" 2>/dev/null && ra=1 || ra=0
		kill -0 "$b" 2>/dev/null && rb=1 || rb=0
		kill -TERM "$a" "$b" 2>/dev/null
		wait "$a" "$b" 2>/dev/null || true
		((up)) || fail "try $i: no daemon answered ($(cat "$DIR/a.err" "$DIR/b.err"))"
		assert_eq "$((ra + rb))" 1 "try $i: daemons running on one path"
		cat "$DIR/a.err" "$DIR/b.err" | grep -q "another daemon" ||
			fail "try $i: loser's message: $(cat "$DIR/a.err" "$DIR/b.err")"
	done
}
