# SPDX-License-Identifier: GPL-2.0
# The live table against the kernel's own view (ss), owners, sockets
# older than the daemon, reconcile, and the daemon's edges.

PORT=8080

# Sockets that existed before the daemon are in its table, with owners.
test_preexisting_connections() {
	bg srv nsx "$TCPX" server --hold $PORT
	wait_for srv listening
	bg cli nsx "$TCPX" client --hold $PORT
	wait_for cli connected
	wait_for srv accepted
	tw_start
	local sport
	sport=$(field_of cli connected)
	assert_eq "$(table_tuples)" "$(ss_tuples)" "table equals ss"
	assert_eq "$(tw ls -j --sport "$sport" | jq -r '"\(.state) \(.seeded) \(.pid) \(.owner)"')" \
		"ESTABLISHED true $(pid_of cli) procfs" "client: seeded, owner from /proc"
	assert_eq "$(tw ls -j --sport $PORT --dport "$sport" | jq -r '"\(.state) \(.pid)"')" \
		"ESTABLISHED $(pid_of srv)" "accepted socket's owner"
	assert_eq "$(tw ls -j -S listen | jq -r '"\(.sport) \(.pid) \(.comm)"')" \
		"$PORT $(pid_of srv) tcpx" "listener's owner"
	assert_eq "$(stat_of .seeded)" 3 "seeded count"
}

# The owner of every socket is the process holding it, even for
# transitions that ran in softirq on whatever task was interrupted.
test_owner_pids() {
	tw_start
	bg srv nsx "$TCPX" server --hold $PORT
	wait_for srv listening
	bg cli nsx "$TCPX" client --hold $PORT
	wait_for cli connected
	wait_for srv accepted
	local sport c s
	sport=$(field_of cli connected)
	c=$(cookie_of "$sport" $PORT)
	s=$(cookie_of $PORT "$sport")
	# table
	assert_eq "$(tw ls -j --sport "$sport" | jq -r .pid)" "$(pid_of cli)" \
		"client owner in the table"
	assert_eq "$(tw ls -j --sport $PORT --dport "$sport" | jq -r .pid)" \
		"$(pid_of srv)" "accepting server owner in the table"
	# events: the softirq-side transitions carry the holder too
	expect_event '.cookie == $s and .new == "ESTABLISHED" and .pid == $p' \
		"server ESTABLISHED with the server's pid" \
		--argjson s "$s" --argjson p "$(pid_of srv)"
	expect_event '.cookie == $c and .new == "ESTABLISHED" and .pid == $p' \
		"client ESTABLISHED with the client's pid" \
		--argjson c "$c" --argjson p "$(pid_of cli)"
	# and never the other side's pid
	assert_eq "$(events | jq -r --argjson s "$s" 'select(.cookie == $s) | .pid' | sort -u)" \
		"$(pid_of srv)" "every server-side record names the server"
	assert_eq "$(tw ls -j -P "$(pid_of cli)" | wc -l)" 1 "ls --pid filter"
}

# Every state ss can show, tuple by tuple: LISTEN, ESTABLISHED,
# CLOSE_WAIT / FIN_WAIT2 (a server that never closes), TIME_WAIT,
# SYN_SENT (SYNs dropped), on IPv4 and IPv6.
test_table_matches_ss() {
	tw_start
	bg hold nsx "$TCPX" server --hold 8081
	bg echo nsx "$TCPX" server -n 3 8082
	bg six nsx "$TCPX" server -6 --hold 8083
	wait_for hold listening
	wait_for echo listening
	wait_for six listening
	# ESTABLISHED pairs
	bg e1 nsx "$TCPX" client --hold 8081
	bg e2 nsx "$TCPX" client -6 --hold 8083
	wait_for e1 connected
	wait_for e2 connected
	# CLOSE_WAIT on the server, FIN_WAIT2 on the client
	nsx "$TCPX" client 8081 >/dev/null
	# TIME_WAIT: clients that close first, after the server's FIN
	nsx "$TCPX" client --wait-eof 8082 >/dev/null
	nsx "$TCPX" client --wait-eof 8082 >/dev/null
	nsx "$TCPX" client 8082 >/dev/null
	# SYN_SENT: SYNs to a port whose SYNs are dropped
	nsx nft add table inet twsyn
	nsx nft add chain inet twsyn in '{ type filter hook input priority 0; }'
	nsx nft add rule inet twsyn in tcp dport 8084 drop
	bg syn nsx "$TCPX" client -t 30 8084
	sleep 0.3
	settle_except_syn_sent
	local want got
	want=$(ss_tuples)
	got=$(table_tuples)
	if [[ $got != "$want" ]]; then
		diff <(echo "$want") <(echo "$got") | sed 's/^/    /' >&2
		fail "table differs from ss (< ss, > tcpwatch)"
	fi
	for st in LISTEN ESTABLISHED CLOSE_WAIT FIN_WAIT2 TIME_WAIT SYN_SENT; do
		grep -q "^$st " <<<"$got" || fail "no $st socket in the test"
	done
	# the table came from events alone: no corrections
	assert_eq "$(stat_of '.reconcile.runs')" 0 "no reconcile ran"
	assert_eq "$(stat_of '.seeded')" 0 "nothing seeded"
	# reconcile now agrees with the event-built table
	assert_eq "$(stat_of '.lost_total')" 0 "no events lost"
}

settle_except_syn_sent() {
	local i
	for ((i = 0; i < 60; i++)); do
		nsx ss -tanH state syn-recv state fin-wait-1 state last-ack \
			state closing 2>/dev/null | grep -q . || return 0
		sleep 0.05
	done
}

# The kernel skips TIME_WAIT past tcp_max_tw_buckets; the inference
# says TIME_WAIT, and reconcile corrects it from sock_diag.
test_reconcile_heals() {
	nsx sysctl -qw net.ipv4.tcp_max_tw_buckets=0
	tw_start --reconcile-s 1
	bg srv nsx "$TCPX" server $PORT
	wait_for srv listening
	nsx "$TCPX" client --wait-eof $PORT > "$DIR/cli.out"
	wait "$JOB_srv"
	local i
	for ((i = 0; i < 60; i++)); do
		[[ $(stat_of '.reconcile.removed') -ge 1 ]] && break
		sleep 0.1
	done
	assert_ge "$(stat_of '.reconcile.removed')" 1 "reconcile removed the phantom TIME_WAIT"
	assert_eq "$(table_tuples)" "$(ss_tuples)" "table equals ss after reconcile"
	expect_event '.type == "state" and .reason == "reconcile" and
		      .old == "TIME_WAIT" and .new == "CLOSE"' \
		"a reconcile correction record"
}

# A ring too small for a burst, a reader that is stopped: every lost
# event is counted, reported, and the table heals.
test_lost_events_counted() {
	local n=300 got lost
	kmod_params ring_bytes=4096 sample_ms=0
	tw_start --ring-size 4096 --reconcile-s 0
	burst_while_stopped $n
	sleep 0.5
	# per connection: client CLOSE>SYN_SENT>ESTABLISHED>CLOSE + reset
	# sent; server LISTEN>SYN_RECV>ESTABLISHED>CLOSE + reset received
	got=$(stat_of '.events.state + .events.reset_sent + .events.reset_recv')
	lost=$(stat_of '.lost.state + .lost.reset_sent + .lost.reset_recv')
	assert_ge "$lost" 1 "events lost to a 4 KiB ring"
	# +2: the listener's CLOSE>LISTEN and LISTEN>CLOSE
	assert_eq "$((got + lost))" "$((8 * n + 2))" "received + lost = produced"
	expect_event '.type == "lost" and .count > 0' "a lost record"
	assert_eq "$(events | jq -s '[.[] | select(.type == "lost") | .count] | add')" \
		"$(stat_of .lost_total)" "lost records add up to the counter"
	# the drop scheduled a reconcile; the table matches the kernel
	for ((i = 0; i < 40; i++)); do
		[[ $(stat_of '.reconcile.runs') -ge 1 ]] && break
		sleep 0.1
	done
	assert_ge "$(stat_of '.reconcile.runs')" 1 "reconcile after loss"
	assert_eq "$(table_tuples)" "$(ss_tuples)" "table healed"
}

# `tcpwatch run | head -1` ends the daemon cleanly.
test_closed_pipe_ends_daemon() {
	local st
	timeout 20 bash -c "\"$TCPWATCH\" run --source $SRC -N $NS --ctl $DIR/ctl.sock 2>$DIR/daemon.err | head -1 > $DIR/first"
	st=$?
	assert_eq "$st" 0 "pipeline status"
	assert_eq "$(jq -r .type "$DIR/first")" reconcile "first record"
	! grep -qE 'AddressSanitizer|runtime error' "$DIR/daemon.err" ||
		fail "sanitizer: $(cat "$DIR/daemon.err")"
	[[ ! -e $DIR/ctl.sock ]] || fail "control socket left behind"
}

# Bad input gets a clear error and a non-zero status, never a crash.
test_bad_input() {
	local out
	out=$("$TCPWATCH" run --ring-size 3000 2>&1) && fail "bad ring size accepted"
	[[ $out == *"power of two"* ]] || fail "ring size message: $out"
	out=$("$TCPWATCH" run --source foo 2>&1) && fail "bad source accepted"
	[[ $out == *"bpf, kmod or auto"* ]] || fail "source message: $out"
	out=$("$TCPWATCH" run -N no-such-ns 2>&1) && fail "bad netns accepted"
	[[ $out == *"unknown network namespace"* ]] || fail "netns message: $out"
	out=$("$TCPWATCH" ls --ctl "$DIR/none.sock" 2>&1) && fail "ls without daemon"
	[[ $out == *"is it running"* ]] || fail "no-daemon message: $out"
	out=$("$TCPWATCH" frobnicate 2>&1) && fail "unknown command accepted"
	# no privileges: say so, and what to do (the control path is one
	# nobody may lock, so that BPF is what refuses)
	local np
	np=$(mktemp -d /tmp/tcpwatch-np.XXXXXX)
	chmod 0777 "$np"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TCPWATCH" run --source bpf --ctl "$np/ctl/np.sock" -o /dev/null 2>&1) &&
		fail "BPF loaded without privileges"
	rm -rf "$np"
	[[ $out == *"BPF not permitted: run as root"* ]] || fail "no-privilege message: $out"
	tw_start
	out=$(tw ls -S nosuchstate 2>&1) && fail "bad state accepted"
	[[ $out == *"unknown state"* ]] || fail "state message: $out"
	out=$(tw ls -p 99999 2>&1) && fail "bad port accepted"
	[[ $out == *"bad filter"* ]] || fail "port message: $out"
	# a second daemon on the same control socket is refused
	out=$("$TCPWATCH" run --source "$SRC" --ctl "$DIR/ctl.sock" -o /dev/null 2>&1) &&
		fail "second daemon started"
	[[ $out == *"another daemon (pid "*") is running on $DIR/ctl.sock"* ]] || fail "second daemon message: $out"
	# raw garbage and an oversized request on the control socket
	command -v nc >/dev/null || fail "nc (netcat-openbsd) missing"
	out=$(printf 'x%.0s' {1..5000} | nc -U -N "$DIR/ctl.sock" 2>&1)
	[[ $out == "error: request too long"* ]] || fail "garbage answer: $out"
	out=$(printf 'ls state=\xff\x01\n' | nc -U -N "$DIR/ctl.sock" 2>&1)
	[[ $out == "error: bad filter"* ]] || fail "bad filter answer: $out"
	tw stats >/dev/null || fail "daemon survives garbage"
}

# --port: only sockets with that port, in events and in the table
# (filtered in the kernel, and in the sock_diag seed).
test_port_filter() {
	bg old nsx "$TCPX" server --hold 8082
	wait_for old listening
	tw_start -p 8081
	bg a nsx "$TCPX" server 8081
	bg b nsx "$TCPX" server 8083
	wait_for a listening
	wait_for b listening
	nsx "$TCPX" client 8081 >/dev/null
	nsx "$TCPX" client 8083 >/dev/null
	settle
	assert_eq "$(events | jq -r 'select(.cookie > 0) | [.sport, .dport] | map(select(. == 8081)) | length' | sort -u)" \
		1 "every socket record has port 8081"
	assert_ge "$(events | jq -r 'select(.type == "state")' | jq -s length)" 4 \
		"port 8081 traffic was seen"
	assert_eq "$(tw ls -j | jq -r '[.sport, .dport] | map(select(. == 8081)) | length' | sort -u)" \
		1 "table holds port 8081 only"
	assert_eq "$(tw ls -j -p 8082 | wc -l)" 0 "seed skipped the other port"
}
