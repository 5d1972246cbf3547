# SPDX-License-Identifier: GPL-2.0
# Diagnostics, user/diag/rule_window.c: zero_window, rcv_queue_full (the helpers: lib.sh).
# Each pathology reproduced for real in the test's netns; the finding
# is checked when it opens, while `diag` lists it and when it resolves.

PORT=8080

# A receiver that reads nothing (server --stall) and a sender with 20 MB
# to write: the receive queue fills (~114 KB of a 128 KB rcvbuf on
# loopback, the window closing with less than an MSS free), the
# receiver advertises a zero window, the sender's data waits in its
# send buffer and it sends zero-window probes on the persist timer
# (0.2, 0.4, 0.8 s, ...). SIGUSR1 makes the receiver read: the 20 MB
# drain, both sockets stay open and idle with open windows.
test_diag_zero_window() {
	local cport cpid spid t0 zw rq zid rid d c r
	kmod_params sample_ms=200
	tw_start --sample-ms 200 "${WIN[@]}" --threshold zero_window_s=1
	bg srv nsx "$TCPX" server --stall -t 120 $PORT
	wait_for srv listening
	spid=$(pid_of srv)
	t0=$(mono)
	bg cli nsx "$TCPX" client -s 20000000 --hold $PORT
	wait_for cli connected
	cport=$(field_of cli connected)
	cpid=$(pid_of cli)
	zw=$(wait_finding zero_window opened ".subject.sport == $cport" 15)
	took "$t0" "$zw" "finding (zero_window)" >/dev/null
	rq=$(wait_finding rcv_queue_full opened ".subject.dport == $cport" 15)
	took "$t0" "$rq" "finding (rcv_queue_full)" >/dev/null
	zid=$(ev "$zw" .id)
	rid=$(ev "$rq" .id)
	c=$(cookie_of "$cport" $PORT)
	check "$zw" ".subject.pid == $cpid and .subject.comm == \"tcpx\" and
		.subject.dport == $PORT and .subject.daddr == \"127.0.0.1\" and
		.subject.cookie == $c" "zero_window subject: the sender"
	check "$rq" ".subject.pid == $spid and .subject.sport == $PORT and
		.subject.cookie == $(cookie_of $PORT "$cport")" \
		"rcv_queue_full subject: the receiver"
	# ss: the sender's persist timer runs, data waits, the receiver's
	# queue holds what it was sent
	nsx ss -tonH state established sport = :$cport | grep -q 'timer:(persist' ||
		fail "ss: no persist timer on the sender"
	# Stable while stalled: the live evidence equals ss's numbers.
	d=$(diag_until zero_window ".id == $(jstr "$zid") and
		.evidence.snd_wnd == 0 and
		.evidence.wmem_queued == $(skmem "sport = :$cport" w) and
		.evidence.sndbuf == $(skmem "sport = :$cport" tb)" 5 \
		"sender: wmem_queued = skmem w, sndbuf = skmem tb")
	check "$d" '.evidence.for_s >= 1 and
		(.evidence.fill - .evidence.wmem_queued / .evidence.sndbuf |
		 if . < 0 then -. else . end) < 0.01' "for_s, fill"
	# rcv_queued: unread bytes (Recv-Q), or the memory they take
	# (skmem r), whichever the daemon counts
	r=$(nsx ss -tnH state established sport = :$PORT dport = :$cport | awk '{ print $1 }')
	d=$(diag_until rcv_queue_full ".id == $(jstr "$rid") and
		.evidence.rcv_wnd == 0 and
		.evidence.rcvbuf == $(skmem "sport = :$PORT dport = :$cport" rb) and
		.evidence.rcv_queued >= $r and
		.evidence.rcv_queued <= $(skmem "sport = :$PORT dport = :$cport" r)" 5 \
		"receiver: rcvbuf = skmem rb, Recv-Q <= rcv_queued <= skmem r")
	# fill: 0.87 on 6.18, 0.61 on 6.1 (wscale 7): the window is what
	# closes, not the buffer
	check "$d" '.evidence.for_s >= 1 and .evidence.fill > 0.25 and
		(.evidence.fill - .evidence.rcv_queued / .evidence.rcvbuf |
		 if . < 0 then -. else . end) < 0.01' "for_s, fill"

	kill -USR1 "$spid"
	wait_for srv reading
	wait_for cli '^sent ' 60
	zw=$(wait_finding zero_window resolved ".id == $(jstr "$zid")" 15)
	rq=$(wait_finding rcv_queue_full resolved ".id == $(jstr "$rid")" 15)
	took "$t0" "$zw" "resolution (zero_window)" >/dev/null
	# resolved by the window opening, not by the sockets going away
	assert_eq "$(nsx ss -tnH state established sport = :$cport | wc -l)" 1 \
		"ss: the sender's connection still open"
	not_listed zero_window "$zid"
	not_listed rcv_queue_full "$rid"
}
