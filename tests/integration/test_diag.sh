# SPDX-License-Identifier: GPL-2.0
# Diagnostics: every pathology the rules name, reproduced for real in
# the test's netns; the daemon's finding is checked when it opens,
# while `diag` lists it (against ss and nstat, the kernel's own view),
# and when it resolves. The delay from the pathology's start to the
# finding is printed ("  time to finding: 1.2 s").
#
# Findings are NDJSON records {"type":"finding","event":"opened"|
# "updated"|"resolved","id","rule","severity","subject","evidence",...};
# `diag -j` prints the open ones in the same shape.

PORT=8080

# Short windows so findings resolve within a test.
WIN=(--threshold window_s=2 --threshold quiet_s=2)

# finding RULE [JQ-COND]: that rule's finding records, one per line
finding() {
	events | jq -c --arg r "$1" \
		"select(.type == \"finding\" and .rule == \$r) | select(${2:-true})"
}

# poll SECONDS CMD...: until CMD prints something (within SECONDS);
# prints it. Fails (returns 1) when it never does.
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
		sleep 0.2
	done
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
	assert_eq "$(field_of cli connects)" 100 "connections before the range ran out"
	assert_eq "$(field_of cli stopped)" EADDRNOTAVAIL "what ended the loop"
	n=$(nsx ss -tanH state time-wait dst 127.0.0.1 dport = :$PORT | wc -l)
	assert_eq "$n" 100 "ss: TIME-WAIT to 127.0.0.1:$PORT"

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
	assert_eq "$(nsx ss -tanH state time-wait | wc -l)" 0 "ss: TIME_WAITs expired"
	not_listed time_wait_exhaustion "$id"
}

# A server that accepts and never closes (nor reads): each client sends
# 100 bytes and closes, leaving the server's socket in CLOSE_WAIT with
# the bytes unread. Killing the server closes them (with resets, as
# data is unread) and resolves the finding.
test_diag_close_wait() {
	local spid t0 rec id d want got
	tw_start "${WIN[@]}" --threshold close_wait_s=1
	bg srv nsx "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	spid=$(pid_of srv)
	t0=$(mono)
	for i in 1 2 3; do
		nsx "$TCPX" client -s 100 $PORT > "$DIR/cli$i.out"
	done
	assert_eq "$(nsx ss -tanH state close-wait | wc -l)" 3 "ss: CLOSE-WAIT"

	rec=$(wait_finding close_wait_leak opened ".subject.pid == $spid")
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	check "$rec" '.subject.comm == "tcpx" and (.subject | has("netns"))' "subject"
	# all three once each is older than close_wait_s
	d=$(diag_until close_wait_leak ".id == $(jstr "$id") and .evidence.sockets == 3" \
		5 "sockets equals ss's CLOSE-WAIT count")
	check "$d" '.evidence.oldest_s >= 1' "oldest_s past close_wait_s"
	# ss's Recv-Q is rcv_nxt - copied_seq, which counts the FIN's
	# sequence number: 101 for 100 unread bytes. The evidence is bytes.
	check "$d" '.evidence.unread_bytes == 300' "unread bytes (3 x 100)"
	# each socket: fd, tuple, unread, as ss -p shows them
	want=$(nsx ss -tanpH state close-wait | sed -E \
		's/^([0-9]+) +[0-9]+ +([0-9.]+):([0-9]+) +([0-9.]+):([0-9]+) .*fd=([0-9]+).*/\6 \2 \3 \4 \5 \1/' |
		awk '{ $6 -= 1; print }' | sort)
	got=$(jq -r '.evidence.list[] | "\(.fd) \(.saddr) \(.sport) \(.daddr) \(.dport) \(.unread)"' \
		<<<"$d" | sort)
	assert_eq "$got" "$want" "list: fd saddr sport daddr dport unread, as ss -p"
	check "$d" 'all(.evidence.list[]; .age_s >= 1)' "age_s of each socket"

	kill "$spid"
	rec=$(wait_finding close_wait_leak resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	assert_eq "$(nsx ss -tanH state close-wait | wc -l)" 0 "ss: no CLOSE-WAIT"
	not_listed close_wait_leak "$id"
}

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

# The handshake's last ACK lost on its way to the server (pure ACKs to
# the port dropped on input; the clients send no data, which would
# complete the handshake too): the clients think they are connected,
# the server keeps both requests in SYN_RECV and retransmits the
# SYN-ACK at 1 s, 3 s, 7 s. Once the rule is gone, the ACK answering the
# next SYN-ACK gets through and the server accepts both.
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
	for ((i = 0; i < 150; i++)); do	# the next SYN-ACK: 3 s or 7 s in
		(($(grep -c accepted "$DIR/srv.out") == 2)) && break
		sleep 0.1
	done
	assert_eq "$(grep -c accepted "$DIR/srv.out")" 2 "accepted once the ACKs pass"
	rec=$(wait_finding synack_unacked resolved ".id == $(jstr "$id")")
	took "$t0" "$rec" resolution >/dev/null
	assert_eq "$(nsx ss -tanH state syn-recv | wc -l)" 0 "ss: no SYN-RECV"
	not_listed synack_unacked "$id"
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
	for i in 1 2 3 4; do
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

# A receiver that reads nothing (server --stall) and a sender with 20 MB
# to write: the receive queue fills (~114 KB of a 128 KB rcvbuf on
# loopback, the window closing with less than an MSS free), the
# receiver advertises a zero window, the sender's data waits in its
# send buffer and it sends zero-window probes on the persist timer
# (0.2, 0.4, 0.8 s, ...: the only segments, so the only tcp_probe
# samples, either side gets). SIGUSR1 makes the receiver read: the 20 MB
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
	assert_eq "$sent" 200 "nstat TcpOutRsts"
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
		(.evidence.fraction - .evidence.retrans / .evidence.segs |
		 if . < 0 then -. else . end) < 0.01' "rate, fraction = retrans/segs"
	check "${d:-$rec}" ".evidence.retrans <= $total and .evidence.segs <= $segs" \
		"windowed counts within the sender's totals (ss: retrans $total, data_segs_out $segs)"

	nsx nft delete table inet twloss
	rec=$(wait_finding retransmit_hotspot resolved ".id == $(jstr "$id")" 15)
	took "$t0" "$rec" resolution >/dev/null
	kill -0 "$(pid_of cli)" || fail "the sender stopped: $(cat "$DIR/cli.out")"
	not_listed retransmit_hotspot "$id"
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
