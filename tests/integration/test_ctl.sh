# SPDX-License-Identifier: GPL-2.0
# The control socket streams answers: no deadline while the client
# reads, bounded memory per client however big the table, a clear
# error past the client limit, and a CLI that fails on a cut answer.

PORT=8080

# many_sockets N: N connections in $NS, ~N TIME_WAIT sockets (they
# stay 60 s; a few ports are reused), 75 % of them seen by the daemon
many_sockets() {
	local i
	# no reuse of TIME_WAIT ports on loopback: N stay N
	nsx sysctl -qw net.ipv4.tcp_tw_reuse=0
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	nsx "$TCPX" client --loop -n "$1" $PORT > "$DIR/loop.out" 2>&1 ||
		fail "tcpx loop: $(cat "$DIR/loop.out")"
	# 30 s, or 5 min in a slow VM (TW_SLOWDOWN)
	for ((i = 0; i < 300 * TW_SLOWDOWN; i++)); do
		(($(tw stats -j | jq .sockets) >= $1 * 3 / 4)) && return 0
		sleep 0.1
	done
	fail "the table did not reach $1 sockets"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$DPID/status"; }

# A reader slower than the old 10 s deadline still gets every row, and
# the CLI exits 0.
test_ctl_slow_reader_gets_all() {
	tw_start
	many_sockets 4000
	local fast slow st
	# the TIME_WAITs only: the last connections' server sockets may
	# still be closing (LAST_ACK) during the first answer, gone by the
	# second (a loaded machine: 2 of 3997 rows once)
	tw ls -j | jq -r 'select(.state == "TIME_WAIT") | .cookie' | sort > "$DIR/fast"
	tw ls -j | (sleep 12; cat) > "$DIR/slow.json"
	st=${PIPESTATUS[0]}
	assert_eq "$st" 0 "ls exit status with a slow reader"
	jq -r .cookie < "$DIR/slow.json" | sort > "$DIR/slow"
	fast=$(wc -l < "$DIR/fast")
	slow=$(wc -l < "$DIR/slow")
	echo "  measured: slow reader got $slow of $fast rows, $(wc -c < "$DIR/slow.json") bytes"
	assert_ge "$fast" 3000 "rows"
	# every TIME_WAIT of the fast answer (they last 60 s) is listed once
	assert_eq "$(comm -23 "$DIR/fast" "$DIR/slow" | wc -l)" 0 "rows missing"
	assert_eq "$(uniq -d "$DIR/slow" | wc -l)" 0 "rows listed twice"
}

# An answer cut short (the daemon stopped mid-answer) makes the CLI
# say so and exit non-zero.
test_ctl_cut_answer_fails() {
	tw_start
	many_sockets 4000
	local st=0 ready
	( set +e
	  tw ls -j 2> "$DIR/ls.err" | (sleep 3; cat > /dev/null)
	  echo "${PIPESTATUS[0]}" > "$DIR/ls.status" ) &
	PIDS+=($!)
	sleep 1	# the answer is under way (not an assertion)
	kill -TERM "$DPID"
	wait "$DPID" || fail "daemon exit status"
	DPID=
	for ((ready = 0; ready < 200; ready++)); do
		[[ -s $DIR/ls.status ]] && break
		sleep 0.1
	done
	st=$(cat "$DIR/ls.status")
	((st != 0)) || fail "ls exited 0 on a cut answer"
	grep -q "was cut short" "$DIR/ls.err" || fail "ls said: $(cat "$DIR/ls.err")"
}

# Ten clients that ask for ls -j and read nothing hold a bounded buffer
# each, not the whole answer.
test_ctl_stalled_clients_memory() {
	tw_start
	many_sockets 20000
	local before after i grew
	tw ls -j > /dev/null	# warm up: the first answer's allocations
	before=$(rss_kb)
	for ((i = 0; i < 10; i++)); do
		bg "stall$i" bash -c "'$TCPWATCH' ls -j --ctl '$DIR/ctl.sock' | sleep 60"
	done
	# every stalled client has been answered as far as it takes
	for ((i = 0; i < 50; i++)); do
		sleep 0.1
	done
	tw stats > /dev/null || fail "stats while 10 clients stall"
	after=$(rss_kb)
	grew=$(((after - before) / 1024))
	echo "  measured: RSS with 10 stalled ls -j clients at 20000 sockets: ${before} kB -> ${after} kB (+$grew MiB)"
	# a whole answer is ~13 MB here: 10 of them would be 130 MB
	((grew < 40)) || fail "RSS grew by $grew MiB with 10 stalled clients"
}

# Past the client limit, a client gets a clear line and a non-zero exit.
test_ctl_too_many_clients() {
	tw_start
	local i n=0 bad=0 st
	# 32 clients that connect and send nothing hold every slot (for up
	# to the 10 s request timeout)
	for ((i = 0; i < 32; i++)); do
		bg "idle$i" bash -c "sleep 30 | nc -U '$DIR/ctl.sock'"
	done
	for ((i = 0; i < 100; i++)); do
		"$TCPWATCH" stats --ctl "$DIR/ctl.sock" > /dev/null 2> "$DIR/probe.err" ||
			break
		sleep 0.05
	done
	for ((i = 0; i < 8; i++)); do
		( st=0
		  "$TCPWATCH" stats --ctl "$DIR/ctl.sock" > "$DIR/c$i.out" \
			2> "$DIR/c$i.err" || st=$?
		  echo $st > "$DIR/c$i.st" ) &
	done
	wait_all_st() {
		local j
		for ((j = 0; j < 8; j++)); do
			[[ -s $DIR/c$j.st ]] || return 1
		done
	}
	for ((i = 0; i < 200; i++)); do
		wait_all_st && break
		sleep 0.05
	done
	for ((i = 0; i < 8; i++)); do
		st=$(cat "$DIR/c$i.st")
		assert_eq "$st" 1 "client $i exit status"
		grep -q "^tcpwatch: too many clients (32); try again$" "$DIR/c$i.err" ||
			fail "client $i said: $(cat "$DIR/c$i.err")"
	done
}
