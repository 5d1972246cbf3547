# SPDX-License-Identifier: GPL-2.0
# Diagnostics, user/diag/rule_host.c: reset_storm, retransmit_hotspot (the helpers: lib.sh).
# Each pathology reproduced for real in the test's netns; the finding
# is checked when it opens, while `diag` lists it and when it resolves.

PORT=8080

# 200 connections closed with SO_LINGER 0, ~5 ms apart: each close
# sends one reset (nstat TcpOutRsts 200, TcpExtTCPAbortOnData 200) that
# the server receives; the server, reading to EOF, sends none.
test_diag_reset_storm() {
	local t0 rec id d sent
	tw_start "${WIN[@]}"
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	t0=$(mono)
	nsx "$TCPX" client --loop --linger0 -n 200 -i 5 $PORT > "$DIR/cli.out"
	assert_eq "$(field_of cli connects)" 200 "connections"
	rec=$(wait_finding reset_storm opened '.subject.daddr == "127.0.0.1"')
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	d=$(diag reset_storm ".id == $(jstr "$id")")
	sent=$(mib TcpOutRsts)
	# One a connection at least; the slow VM once saw 201 (an extra
	# reset the kernel sent for a segment of a connection already reset)
	assert_ge "$sent" 200 "nstat TcpOutRsts"
	check "$rec" '.subject.family == "inet" and (.subject | has("netns"))' "subject"
	# Opening takes rst_rate (10/s) over window_s (2 s): 20 resets in
	# the window, sent or received (each one here is both).
	check "$rec" '.evidence.rst_sent + .evidence.rst_recv >= 20 and
		.evidence.rate >= 10' "at least rst_rate x window_s at opening"
	# never more than the kernel sent, in any record
	printf '%s\n' "$(finding reset_storm ".id == $(jstr "$id")")" "$d" |
		jq -s -e "all(.[] | select(. != null);
			.evidence.rst_sent <= $sent and .evidence.rst_recv <= $sent)" \
			>/dev/null || fail "more resets than TcpOutRsts ($sent): $(finding reset_storm | tail -2)"
	rec=$(wait_finding reset_storm resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	not_listed reset_storm "$id"
}

# A sender writing 16 KiB every 10 ms, a quarter of its data segments
# dropped on input (numgen random mod 4; a drop on output would fail
# locally and, before 6.x, not be traced as a retransmit): fast
# retransmits, RTOs and loss probes, ~10/s, ~15-20% of the data segments.
# Deleting the nft rule ends the loss while the sender goes on.
test_diag_retransmit_hotspot() {
	local cport t0 rec id d total segs
	tw_start "${WIN[@]}"
	bg srv nsx "$TCPX" server -t 120 $PORT
	wait_for srv listening
	bg cli nsx "$TCPX" client --flood -s 16384 -i 10 $PORT
	wait_for cli flooding
	cport=$(field_of cli connected)
	t0=$(mono)
	nsx nft -f - <<-NFT
	table inet twloss {
		chain in {
			type filter hook input priority 0;
			tcp dport $PORT meta length > 100 numgen random mod 4 == 0 drop
		}
	}
	NFT
	rec=$(wait_finding retransmit_hotspot opened '.subject.daddr == "127.0.0.1"' 15)
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	d=$(diag retransmit_hotspot ".id == $(jstr "$id")")
	# the sender's lifetime counters bound the windowed ones
	total=$(nsx ss -tinH state established sport = :$cport |
		grep -o ' retrans:[0-9]*/[0-9]*' | cut -d/ -f2)
	segs=$(nsx ss -tinH state established sport = :$cport |
		grep -o 'data_segs_out:[0-9]*' | cut -d: -f2)
	check "$rec" '.subject.family == "inet" and (.subject | has("netns"))' "subject"
	check "$rec" '.evidence.rate >= 5 and .evidence.retrans >= 1 and
		.evidence.fraction > 0 and .evidence.fraction <= 1 and
		.evidence.segs_retrans >= 1 and
		(.evidence.fraction - .evidence.segs_retrans / .evidence.segs |
		 if . < 0 then -. else . end) < 0.001' "rate, fraction = segs_retrans/segs"
	check "${d:-$rec}" ".evidence.retrans <= $total and
		.evidence.segs_retrans <= $total and .evidence.segs <= $segs" \
		"windowed counts within the sender's totals (ss: retrans $total, data_segs_out $segs)"

	nsx nft delete table inet twloss
	rec=$(wait_finding retransmit_hotspot resolved ".id == $(jstr "$id")" 15)
	took "$t0" "$rec" resolution >/dev/null
	kill -0 "$(pid_of cli)" || fail "the sender stopped: $(cat "$DIR/cli.out")"
	not_listed retransmit_hotspot "$id"
}
