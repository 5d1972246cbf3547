# SPDX-License-Identifier: GPL-2.0
# Diagnostics, user/diag/rule_time_wait.c: time_wait_exhaustion (the helpers: lib.sh).
# Each pathology reproduced for real in the test's netns; the finding
# is checked when it opens, while `diag` lists it and when it resolves.

PORT=8080

# A client that closes first, always to the same server port, with a
# 100-port ephemeral range (40000-40099): every local port ends up in
# TIME_WAIT until connect() fails with EADDRNOTAVAIL. tcp_tw_reuse=0:
# the default (2) lets a loopback connect reuse a TIME_WAIT port older
# than 1 s, and the range would never run out at this pace. The server
# closes second (LAST_ACK), so every TIME_WAIT is the client's. TIME_WAIT
# lasts 60 s in Linux, so the resolution comes last, ~60 s later.
test_diag_time_wait() {
	local t0 rec id n d
	nsx sysctl -qw net.ipv4.ip_local_port_range="40000 40099" \
		net.ipv4.tcp_tw_reuse=0
	tw_start "${WIN[@]}"
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	t0=$(mono)
	# ~100 connections a second: half the range goes in ~0.5 s
	nsx "$TCPX" client --loop -n 0 -i 10 $PORT > "$DIR/cli.out"
	assert_eq "$(field_of cli stopped)" EADDRNOTAVAIL "what ended the loop"
	# Exhausted means every one of the 100 ports holds a TIME_WAIT. A
	# client socket that ends without one (closed by a reset, as once in
	# the slow VM) frees its port for one more connect, so the connects
	# are at least the range, and every extra one is such a socket.
	n=$(nsx ss -tanH state time-wait dst 127.0.0.1 dport = :$PORT | wc -l)
	assert_eq "$n" 100 "ss: TIME-WAIT to 127.0.0.1:$PORT"
	local c extra
	c=$(field_of cli connects)
	assert_ge "$c" 100 "connections before the range ran out"
	if ((c > 100)); then
		extra=$(events | jq -c 'select(.type == "state" and .new == "CLOSE" and .reason != "expired" and
			.sport >= 40000 and .sport <= 40099 and .dport == '$PORT')' | wc -l)
		echo "# $c connects for 100 ports: $extra client sockets closed without TIME_WAIT" >&2
		assert_eq "$((c - 100 <= extra))" 1 "each extra connect is a client socket that closed without TIME_WAIT ($extra seen)"
	fi

	rec=$(wait_finding time_wait_exhaustion opened ".subject.dport == $PORT")
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	check "$rec" '.subject.family == "inet" and
		.subject.saddr == "127.0.0.1" and .subject.daddr == "127.0.0.1" and
		(.subject | has("netns"))' "subject"
	check "$rec" '.evidence.range_lo == 40000 and .evidence.range_hi == 40099 and
		.evidence.range == 100 and .evidence.tw_reuse == 0' \
		"the netns's port range and tcp_tw_reuse"
	# opened at tw_fraction (0.5), or earlier when the close rate
	# would exhaust the range within tw_exhaust_s (120 s); critical at
	# tw_critical (0.9) or with 10 s or less left (a slow VM's loop)
	check "$rec" '(.evidence.fraction >= 0.5 or
		 (.evidence.exhaust_in_s != null and .evidence.exhaust_in_s <= 120)) and
		(if .evidence.fraction >= 0.9 or
		    (.evidence.exhaust_in_s != null and .evidence.exhaust_in_s <= 10)
		 then .severity == "critical" else .severity == "warning" end)' \
		"opened at tw_fraction or tw_exhaust_s, severity"
	# Nothing changes until the first TIME_WAIT expires (60 s): the
	# live finding must count exactly what ss counts. A tick or two
	# for the daemon's evaluation to catch up with the last closes.
	d=$(diag_until time_wait_exhaustion \
		".id == $(jstr "$id") and .evidence.time_wait == $n" 5 \
		"time_wait equals ss's count")
	check "$d" '.severity == "critical" and
		(.evidence.fraction - .evidence.time_wait / .evidence.range |
		 if . < 0 then -. else . end) < 0.001' "fraction = time_wait/range"
	# close_rate while the loop ran (it falls to 0 a window after)
	check "$rec" '.evidence.close_rate > 0' "close_rate at opening"
	check "$d" '.evidence.exhaust_in_s == null or .evidence.exhaust_in_s >= 0' \
		"exhaust_in_s"
	# the warning -> critical step was recorded (opened or updated)
	[[ -n $(finding time_wait_exhaustion ".id == $(jstr "$id") and
		.severity == \"critical\" and .event != \"resolved\"") ]] ||
		fail "no critical record for $id"
	# really exhausted: one more connect fails at once
	nsx "$TCPX" client --loop -n 1 $PORT > "$DIR/again.out"
	assert_eq "$(field_of again stopped)" EADDRNOTAVAIL "a connect while exhausted"

	# TIME_WAIT expires after 60 s: then resolved, and gone from diag
	rec=$(wait_finding time_wait_exhaustion resolved ".id == $(jstr "$id")" 75)
	took "$t0" "$rec" resolution >/dev/null
	# The finding resolves once the fraction falls below its threshold;
	# the kernel's timer wheel fires 60 s timers up to ~2 s late, so the
	# last TIME_WAITs may outlive the resolution by a little.
	poll $((10 * TW_SLOWDOWN)) bash -c "[[ \$(ip netns exec $NS ss -tanH state time-wait | wc -l) == 0 ]] && echo gone" \
		>/dev/null || fail "ss: TIME_WAITs not expired 10 s after the resolution: $(nsx ss -tanH state time-wait | wc -l) left"
	not_listed time_wait_exhaustion "$id"
}
