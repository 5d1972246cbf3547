# SPDX-License-Identifier: GPL-2.0
# conn records (--records conn): one per connection when it is over,
# with how it ended and the bytes each way, for connections of known
# fate; and --records writes only the types chosen.

PORT=8080

# conns: the conn records so far
conns() {
	events | jq -c 'select(.type == "conn")'
}

# conn_of SPORT DPORT: the conn record(s) of that local/remote port
conn_of() {
	conns | jq -c --argjson s "$1" --argjson d "$2" \
		'select(.sport == $s and .dport == $d)'
}

# expect_conn SPORT DPORT JQ-COND WHAT: exactly one conn record for the
# socket, and it satisfies COND
expect_conn() {
	local got
	got=$(conn_of "$1" "$2")
	assert_eq "$(printf '%s' "$got" | grep -c .)" 1 "$4: conn records"
	printf '%s' "$got" | jq -e "$3" >/dev/null ||
		fail "$4: expected $3, got $got"
}

test_conn_outcomes() {
	local n=100000 t_s t_c l_s l_c r_c o_c
	tw_start --records conn
	# A transfer of known size then a FIN close, then a SO_LINGER 0
	# close (RST) on the same server.
	bg srv nsx "$TCPX" server -n 2 $PORT
	wait_for srv listening
	nsx "$TCPX" client -s $n $PORT > "$DIR/cli1.out"
	nsx "$TCPX" client --linger0 -s 10 $PORT > "$DIR/cli2.out"
	wait "$JOB_srv" || true
	# Refused: nobody listens on PORT+1.
	nsx "$TCPX" client $((PORT + 1)) > "$DIR/cli3.out" || true
	grep -q 'error connect ECONNREFUSED' "$DIR/cli3.out" ||
		fail "connect was not refused: $(cat "$DIR/cli3.out")"
	# Timed out: every SYN to PORT+2 is dropped; the kernel gives up
	# after one retry (1 s + 2 s).
	nsx sysctl -qw net.ipv4.tcp_syn_retries=1
	nsx nft -f - <<-NFT
	table inet twconn {
		chain in {
			type filter hook input priority 0;
			tcp dport $((PORT + 2)) tcp flags & (syn | ack) == syn drop
		}
	}
	NFT
	nsx "$TCPX" client -t 20 $((PORT + 2)) > "$DIR/cli4.out" || true
	nsx nft delete table inet twconn
	grep -q 'error connect ETIMEDOUT' "$DIR/cli4.out" ||
		fail "connect did not time out: $(cat "$DIR/cli4.out")"
	t_c=$(field_of cli1 connected)
	l_c=$(field_of cli2 connected)
	# six connection ends: the listener's close is not one
	poll 10 bash -c "[[ \$(grep -c '\"type\":\"conn\"' '$DIR/events.ndjson') -ge 6 ]] && echo y" \
		>/dev/null || fail "6 conn records expected: $(conns)"
	sleep 0.2
	assert_eq "$(conns | wc -l)" 6 "conn records: $(conns)"
	assert_eq "$(events | jq -r .type | sort -u | tr '\n' ' ')" "conn " \
		"--records conn writes only conn records"

	expect_conn "$t_c" $PORT '.outcome == "time_wait" and
		.direction == "active" and .tx_bytes == '$n' and
		.rx_bytes == 0 and .comm == "tcpx" and
		(.state == "TIME_WAIT" or .state == "FIN_WAIT2") and
		.states[:3] == ["CLOSE","SYN_SENT","ESTABLISHED"] and
		.handshake_us > 0 and .lifetime_ms >= 0 and .min_snd_wnd > 0 and
		.max_srtt_us > 0 and .rst_sent == 0 and .rst_recv == 0 and
		.cookie > 0 and .family == "inet" and .saddr == "127.0.0.1"' \
		"client of the transfer"
	expect_conn $PORT "$t_c" '.outcome == "fin" and
		.direction == "passive" and .rx_bytes == '$n' and
		.tx_bytes == 0 and .state == "CLOSE" and
		.states == ["LISTEN","SYN_RECV","ESTABLISHED","CLOSE_WAIT","LAST_ACK","CLOSE"] and
		.handshake_us > 0' "server of the transfer"
	expect_conn "$l_c" $PORT '.outcome == "reset_sent" and
		.tx_bytes == 10 and .rst_sent >= 1 and .state == "CLOSE"' \
		"SO_LINGER 0 client"
	expect_conn $PORT "$l_c" '.outcome == "reset_recv" and
		.rx_bytes == 10 and .rst_recv == 1' "server reset by its client"
	r_c=$(conns | jq -r --argjson d $((PORT + 1)) 'select(.dport == $d) | .sport')
	expect_conn "$r_c" $((PORT + 1)) '.outcome == "refused" and
		.direction == "active" and .handshake_us == null and
		.states == ["CLOSE","SYN_SENT","CLOSE"] and .tx_bytes == 0 and
		.min_snd_wnd == null' "refused connect"
	o_c=$(conns | jq -r --argjson d $((PORT + 2)) 'select(.dport == $d) | .sport')
	expect_conn "$o_c" $((PORT + 2)) '.outcome == "timeout" and
		.retrans >= 1 and .lifetime_ms >= 2000 and
		.handshake_us == null' "timed-out connect"
}

# --records picks the types; the default is the stream without conn.
test_conn_records_select() {
	tw_start --records state
	bg srv nsx "$TCPX" server $PORT
	wait_for srv listening
	nsx "$TCPX" client -s 10 $PORT > "$DIR/cli.out"
	wait "$JOB_srv"
	settle
	poll 10 bash -c "grep -q LAST_ACK '$DIR/events.ndjson' && echo y" \
		>/dev/null || fail "no state records: $(events)"
	assert_eq "$(events | jq -r .type | sort -u | tr '\n' ' ')" "state " \
		"--records state: state records only"
}

test_conn_default_unchanged() {
	tw_start
	bg srv nsx "$TCPX" server $PORT
	wait_for srv listening
	nsx "$TCPX" client --linger0 -s 10 $PORT > "$DIR/cli.out"
	wait "$JOB_srv" || true
	settle
	poll 10 bash -c "grep -q reset_recv '$DIR/events.ndjson' && echo y" \
		>/dev/null || fail "no reset records: $(events)"
	# what the stream had before conn existed, and no conn (the
	# module samples whatever --sample-ms says)
	local types
	types=$(events | jq -r .type | sort -u | tr '\n' ' ')
	[[ ${types/sample /} == "reconcile reset_recv reset_sent start state " ]] ||
		fail "default record types: $types"
	# a bad name: exit 2, and every valid name listed
	local err st=0
	err=$("$TCPWATCH" run --records state,conns --ctl "$DIR/x.sock" 2>&1 >/dev/null) &&
		fail "--records conns accepted"
	[[ $err == *'unknown record type "conns"'* && $err == *"state, retransmit"* &&
	   $err == *"finding, conn"* ]] || fail "--records error: $err"
	"$TCPWATCH" run --records '' --ctl "$DIR/x.sock" >/dev/null 2>&1 || st=$?
	assert_eq $st 2 "--records '': exit status"
}
