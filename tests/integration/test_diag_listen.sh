# SPDX-License-Identifier: GPL-2.0
# Diagnostics, user/diag/rule_listen.c: synack_unacked, accept_queue_overflow (the helpers: lib.sh).
# Each pathology reproduced for real in the test's netns; the finding
# is checked when it opens, while `diag` lists it and when it resolves.

PORT=8080

# The handshake's last ACK lost on its way to the server (pure ACKs to
# the port dropped on input; the clients send no data, which would
# complete the handshake too): the clients think they are connected,
# the server keeps both requests in SYN_RECV and retransmits the
# SYN-ACK at 1 s, 3 s, 7 s, 15 s. Once the rule is gone, the ACK
# answering the next SYN-ACK gets through and the server accepts both.
test_diag_synack_unacked() {
	local t0 rec id d n i
	tw_start "${WIN[@]}"
	nsx nft -f - <<-NFT
	table inet twack {
		chain in {
			type filter hook input priority 0;
			tcp dport $PORT tcp flags & (syn | ack | fin | rst) == ack drop
		}
	}
	NFT
	bg srv nsx "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	t0=$(mono)
	bg c1 nsx "$TCPX" client --hold $PORT
	bg c2 nsx "$TCPX" client --hold $PORT
	wait_for c1 connected
	wait_for c2 connected
	rec=$(wait_finding synack_unacked opened ".subject.sport == $PORT")
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	check "$rec" '.subject.family == "inet" and .subject.saddr == "127.0.0.1" and
		(.subject | has("netns"))' "subject: the listener"
	n=$(nsx ss -tanH state syn-recv sport = :$PORT | wc -l)
	assert_eq "$n" 2 "ss: SYN-RECV"
	d=$(diag_until synack_unacked ".id == $(jstr "$id") and .evidence.half_open == $n" \
		3 "half_open equals ss's SYN-RECV count")
	# every SYN-ACK retransmit in the netns is counted by the kernel
	# (TcpExtTCPSynRetrans; no SYN is retransmitted here)
	check "$d" ".evidence.synack_retrans >= 1 and
		.evidence.synack_retrans <= $(mib TcpExtTCPSynRetrans)" "synack_retrans"
	assert_eq "$(grep -c accepted "$DIR/srv.out")" 0 "nothing accepted yet"

	nsx nft delete table inet twack
	for ((i = 0; i < 200; i++)); do	# the next SYN-ACK: 3, 7 or 15 s in
		(($(grep -c accepted "$DIR/srv.out") == 2)) && break
		sleep 0.1
	done
	assert_eq "$(grep -c accepted "$DIR/srv.out")" 2 "accepted once the ACKs pass"
	assert_eq "$(nsx ss -tanH state syn-recv | wc -l)" 0 "ss: no SYN-RECV"
	rec=$(wait_finding synack_unacked resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	# On a slow machine the rule may go only after the 7 s SYN-ACK: the
	# finding resolves in the 8 s gap before the 15 s one, and reopens
	# with it (the same pathology, the same id). With no SYN_RECV left
	# nothing can reopen it once more.
	poll 15 settled synack_unacked "$id" >/dev/null ||
		fail "synack_unacked $id: still listed by diag, or its last record is not 'resolved', 15 s after the handshakes completed"
}

# A listener with backlog 1 that never accepts: the accept queue holds
# backlog + 1 = 2 connections (ss: Recv-Q 2 > Send-Q 1); the other
# clients' SYNs are dropped while it is full (TcpExtListenOverflows,
# once per SYN and retransmit), so they wait in SYN_SENT.
test_diag_accept_overflow() {
	local spid t0 rec id d q max i
	tw_start "${WIN[@]}"
	bg srv nsx "$TCPX" server --no-accept -b 1 $PORT
	wait_for srv listening
	spid=$(pid_of srv)
	t0=$(mono)
	# The first two are queued before the others start: handshakes
	# completing at once on two CPUs each see room for one more, and
	# three get queued (ss: Recv-Q 3).
	for i in 1 2; do
		bg c$i nsx "$TCPX" client --hold -t 30 $PORT
		wait_for c$i connected
	done
	POLL_S=0.05 poll 10 bash -c "ip netns exec $NS ss -tnH state listening sport = :$PORT | awk '\$1 == 2'" \
		>/dev/null || fail "two clients in the accept queue"
	for i in 3 4; do
		bg c$i nsx "$TCPX" client --hold -t 30 $PORT
	done
	rec=$(wait_finding accept_queue_overflow opened ".subject.sport == $PORT")
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	check "$rec" ".subject.pid == $spid and .subject.comm == \"tcpx\" and
		.subject.family == \"inet\" and .subject.saddr == \"127.0.0.1\"" \
		"subject: the listener and its owner"
	read -r q max < <(nsx ss -tnH state listening sport = :$PORT | awk '{ print $1, $2 }')
	assert_eq "$q $max" "2 1" "ss: accept queue full (Recv-Q, Send-Q)"
	d=$(diag_until accept_queue_overflow ".id == $(jstr "$id") and
		.evidence.backlog == $q and .evidence.max_backlog == $max" 3 \
		"backlog, max_backlog as ss")
	# per-listener overflows are not exposed; the netns counter bounds them
	check "$d" ".evidence.overflows >= 1 and
		.evidence.overflows <= $(mib TcpExtListenOverflows)" "overflows"

	# Clients first: no refused SYNs afterwards. Those in SYN_SENT may
	# be gone already: tcp_syn_retries=3 gives up after ~15 s (6.1).
	for i in 1 2 3 4; do
		kill "$(pid_of c$i)" 2>/dev/null || true
	done
	kill "$spid"
	rec=$(wait_finding accept_queue_overflow resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	not_listed accept_queue_overflow "$id"
}
