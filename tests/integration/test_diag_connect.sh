# SPDX-License-Identifier: GPL-2.0
# Diagnostics, user/diag/rule_connect.c: syn_unanswered, connect_refused, connection_churn (the helpers: lib.sh).
# Each pathology reproduced for real in the test's netns; the finding
# is checked when it opens, while `diag` lists it and when it resolves.

PORT=8080

# SYNs to a port dropped on input (a firewall that drops): two clients
# stay in SYN_SENT and retransmit the SYN (every second on 6.5+, whose
# tcp_syn_linear_timeouts=4; at 1 s, 3 s, 7 s before), then give up
# after 10 s (tcpx -t: close in SYN_SENT, as an application timeout
# does; long enough for a slow VM to look at them meanwhile, and
# before the kernel's own give-up, ~15 s with tcp_syn_retries=3).
# Unanswered, not refused: no connect_refused.
test_diag_syn_unanswered() {
	local t0 rec id d n
	tw_start "${WIN[@]}"
	nsx nft -f - <<-NFT
	table inet twsyn {
		chain in {
			type filter hook input priority 0;
			tcp dport $PORT tcp flags & (syn | ack) == syn drop
		}
	}
	NFT
	t0=$(mono)
	bg c1 nsx "$TCPX" client -t 10 $PORT
	bg c2 nsx "$TCPX" client -t 10 $PORT
	rec=$(wait_finding syn_unanswered opened ".subject.dport == $PORT")
	# while the attempts are pending (first: a slow VM is slow to look)
	n=$(nsx ss -tanH state syn-sent dst 127.0.0.1 dport = :$PORT | wc -l)
	assert_eq "$n" 2 "ss: SYN-SENT"
	id=$(ev "$rec" .id)
	d=$(diag_until syn_unanswered ".id == $(jstr "$id") and .evidence.pending == $n" \
		3 "pending equals ss's SYN-SENT count")
	check "$d" '.evidence.syn_retrans >= 1 and .evidence.oldest_s >= 0.9' \
		"syn_retrans, oldest_s"
	check "$rec" '.subject.family == "inet" and .subject.daddr == "127.0.0.1" and
		(.subject | has("netns"))' "subject"
	d=$(took "$t0" "$rec")
	# the first SYN retransmit is 1 s (TCP_TIMEOUT_INIT) after the SYN
	((d >= 900000000)) || fail "opened before any SYN retransmit: $d ns"
	wait "$JOB_c1" || true
	wait "$JOB_c2" || true
	grep -q "error connect timeout" "$DIR/c1.out" || fail "c1: $(cat "$DIR/c1.out")"
	# attempts over, window and quiet time passed: resolved
	rec=$(wait_finding syn_unanswered resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	[[ -z $(finding syn_unanswered ".id == $(jstr "$id") and .evidence.timeouts > 2") ]] ||
		fail "more timeouts than attempts: $(finding syn_unanswered | tail -1)"
	not_listed syn_unanswered "$id"
	no_finding connect_refused
}

# Five connects to a closed port: five resets, ECONNREFUSED five times
# (nstat TcpAttemptFails 5). Refused, not unanswered: no syn_unanswered.
test_diag_connect_refused() {
	local t0 rec id d max
	tw_start "${WIN[@]}"
	t0=$(mono)
	nsx "$TCPX" client --loop -n 5 9 > "$DIR/cli.out"
	assert_eq "$(field_of cli refused)" 5 "refused connects"
	assert_eq "$(mib TcpAttemptFails)" 5 "nstat TcpAttemptFails"
	rec=$(wait_finding connect_refused opened ".subject.dport == 9")
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	d=$(diag connect_refused ".id == $(jstr "$id")")
	check "$rec" '.subject.family == "inet" and .subject.daddr == "127.0.0.1"' "subject"
	check "$rec" '.evidence.refused >= 3 and .evidence.refused <= 5 and
		.evidence.rate > 0' "refused_min <= refused <= attempts"
	# all five, by the last record or the live view (still in the window)
	max=$(printf '%s\n' "$(finding connect_refused ".id == $(jstr "$id")")" "$d" |
		jq -s 'map(select(. != null) | .evidence.refused) | max')
	assert_eq "$max" 5 "refused, at most"
	rec=$(wait_finding connect_refused resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	not_listed connect_refused "$id"
	no_finding syn_unanswered
}

# 150 short connections, ~5 ms apart, to one server port: each opens,
# closes at once (TIME_WAIT on the client, in the default port range, a
# tiny fraction of it). ~100-200/s on a host, past churn_rate (20/s).
test_diag_connection_churn() {
	local t0 rec id d
	tw_start "${WIN[@]}"
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	t0=$(mono)
	nsx "$TCPX" client --loop -n 150 -i 5 $PORT > "$DIR/cli.out"
	assert_eq "$(field_of cli connects)" 150 "connections"
	assert_eq "$(mib TcpActiveOpens)" 150 "nstat TcpActiveOpens"
	rec=$(wait_finding connection_churn opened ".subject.dport == $PORT")
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	d=$(diag connection_churn ".id == $(jstr "$id")")
	check "$rec" '.subject.family == "inet" and .subject.daddr == "127.0.0.1" and
		(.subject | has("netns"))' "subject"
	# active opens only: the server's accepted sockets are not connects
	# to 127.0.0.1:PORT, so never more than the client made
	printf '%s\n' "$(finding connection_churn ".id == $(jstr "$id")")" "$d" |
		jq -s -e 'all(.[] | select(. != null);
			.evidence.conns >= 1 and .evidence.conns <= 150 and
			.evidence.short_lived <= .evidence.conns and
			.evidence.rate >= 20 and
			.evidence.connect_p50_us > 0 and
			.evidence.connect_p50_us <= .evidence.connect_p99_us)' \
		>/dev/null || fail "churn evidence: $(finding connection_churn | head -2)"
	rec=$(wait_finding connection_churn resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	not_listed connection_churn "$id"
	no_finding time_wait_exhaustion
}
