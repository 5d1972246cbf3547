# SPDX-License-Identifier: GPL-2.0
# Window/buffer samples (TCPW_EV_SAMPLE): taken by a periodic walk of the
# sockets (BPF: an iter/tcp program the daemon runs; the module: a
# delayed work), written only when a socket's snapshot changed, nothing
# on the packet path.

PORT=8080
PORT2=8081

# samples COOKIE: how many sample records the socket has so far
samples() {
	kinds "$1" sample
}

# One idle connection (nothing sent) and one that writes 1000 bytes
# every 100 ms: the idle one gets one sample at most (its first walk
# finds no earlier digest; a delayed ACK can still move it once), then
# none however many walks pass; the busy one gets a sample every walk,
# each with more bytes acked.
test_sample_changed_only() {
	local idle busy n0 b0 runs0 cport
	kmod_params sample_ms=200
	tw_start --sample-ms 200
	bg srv nsx "$TCPX" server --hold -t 60 $PORT
	bg srv2 nsx "$TCPX" server -t 60 $PORT2
	wait_for srv listening
	wait_for srv2 listening
	bg cli nsx "$TCPX" client -s 0 --hold $PORT
	bg flood nsx "$TCPX" client --flood -s 1000 -i 100 -t 60 $PORT2
	wait_for cli connected
	wait_for flood flooding
	cport=$(field_of cli connected)
	idle=$(poll 5 cookie_of "$cport" $PORT) || fail "no events for the idle client"
	busy=$(poll 5 cookie_of "$(field_of flood connected)" $PORT2) ||
		fail "no events for the flooding client"
	# settled: well past the handshake's last ACK and the first walk
	poll $((10 * TW_SLOWDOWN)) at_least "$busy" 4 >/dev/null ||
		fail "busy socket: fewer than 4 samples at --sample-ms 200"
	n0=$(samples "$idle")
	b0=$(samples "$busy")
	runs0=$(walks)
	(( n0 <= 2 )) || fail "idle socket: $n0 samples while idle, expected <= 2"
	# at least 6 more walks (1.2 s at 200 ms)
	poll $((10 * TW_SLOWDOWN)) at_least "$busy" $((b0 + 6)) >/dev/null ||
		fail "busy socket: fewer than 6 new samples (had $b0, now $(samples "$busy"))"
	assert_eq "$(samples "$idle")" "$n0" "idle socket's samples after 6 more walks"
	[[ -z $runs0 ]] || assert_ge "$(walks)" $((runs0 + 5)) "iterator runs"
	# the busy socket's samples are its changes: bytes_acked grows
	events | jq -s -e --argjson c "$busy" '
		[.[] | select(.type == "sample" and .cookie == $c) |
		 .snap.bytes_acked] | . as $v |
		length >= 6 and all(range(1; length); $v[.] > $v[. - 1])' >/dev/null ||
		fail "busy socket's samples: bytes_acked not growing at each sample"
	# every record of either is a full socket's snapshot, ESTABLISHED
	expect_event '.type == "sample" and .cookie == $c and
		.state == "ESTABLISHED" and .snap.snd_wnd > 0' "busy socket's sample" \
		--argjson c "$busy"
	no_probe_link
}

# at_least COOKIE N: prints y once the socket has N samples
at_least() {
	(( $(samples "$1") >= $2 )) && echo y
}

# walks: the BPF iterator's runs (stats), empty with the module
walks() {
	[[ $SRC == bpf ]] || return 0
	stat_of '.sample.runs'
}

# The daemon's BPF links (from its fds): none on tcp_probe (nor any
# per-packet tracepoint), one tcp iterator.
no_probe_link() {
	[[ $SRC == bpf ]] || return 0
	local ids links
	ids=$(grep -h '^link_id:' /proc/"$DPID"/fdinfo/* 2>/dev/null |
		awk '{ print $2 }' | sort -un)
	[[ -n $ids ]] || fail "no BPF link among the daemon's fds"
	links=$(for i in $ids; do bpftool -j link show id "$i"; done | jq -s -c .)
	jq -e 'any(.[]; .tp_name == "inet_sock_set_state")' <<<"$links" >/dev/null ||
		fail "bpftool sees none of the daemon's tracepoint links: $links"
	jq -e 'all(.[]; .tp_name != "tcp_probe")' <<<"$links" >/dev/null ||
		fail "a BPF program of the daemon is attached to tcp_probe: $links"
	jq -e 'any(.[]; .type == "iter" and .target_name == "tcp")' <<<"$links" \
		>/dev/null || fail "no tcp iterator link: $links"
}

# last_sample COOKIE: the socket's latest sample record
last_sample() {
	events | jq -c --argjson c "$1" \
		'select(.type == "sample" and .cookie == $c)' | tail -1
}

# sample_with COOKIE JQ-COND: prints the latest sample once it satisfies COND
sample_with() {
	last_sample "$1" | jq -c "select($2)"
}

# stable_for COOKIE: prints the socket's sample count once it stayed the
# same for a second (5 walks at 200 ms)
stable_for() {
	local n
	n=$(samples "$1")
	sleep 1
	[[ $(samples "$1") == "$n" ]] && echo "$n"
}

# A receiver that does not read: its queue fills and it advertises a
# zero window; a sample shows it. Nothing moves while it stalls (the
# sender's zero-window probes carry no data), so the samples stop. Once
# it reads, the window opens: a new sample shows that.
test_sample_window_change() {
	local cport srv s n
	kmod_params sample_ms=200
	tw_start --sample-ms 200
	bg srv nsx "$TCPX" server --stall -t 60 $PORT
	wait_for srv listening
	bg cli nsx "$TCPX" client -s 20000000 --hold -t 60 $PORT
	wait_for cli connected
	cport=$(field_of cli connected)
	srv=$(poll 5 cookie_of $PORT "$cport") || fail "no events for the receiver"
	s=$(poll $((15 * TW_SLOWDOWN)) sample_with "$srv" '.snap.rcv_wnd == 0') ||
		fail "no sample of the receiver with a zero window: $(last_sample "$srv")"
	check "$s" '.snap.rcv_queued > 0' "stalled receiver's sample"
	n=$(poll $((10 * TW_SLOWDOWN)) stable_for "$srv") ||
		fail "the stalled receiver's samples never stopped: $(samples "$srv") so far"
	kill -USR1 "$(pid_of srv)"
	wait_for srv reading
	s=$(poll $((10 * TW_SLOWDOWN)) sample_with "$srv" '.snap.rcv_wnd > 0') ||
		fail "no sample of the receiver with an open window once it read: $(last_sample "$srv")"
	assert_ge "$(samples "$srv")" $((n + 1)) "receiver's samples after it read"
}
