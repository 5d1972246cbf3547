# SPDX-License-Identifier: GPL-2.0
# The socket's cgroup: every record of a connection names the cgroup v2
# its socket was made in, including the transitions that run in softirq
# and the accepted child (which has its listener's), for a cgroup made
# after the daemon started (resolved on first use) and for sockets older
# than the daemon (sock_diag). run --cgroup keeps one subtree in the
# kernel.

PORT=8090

# cg_records COOKIE: "OLD>NEW@CGROUP" (or KIND@CGROUP) for every record
cg_records() {
	events | jq -r --argjson c "$1" 'select(.cookie == $c) |
		"\(if .type == "state" then "\(.old)>\(.new)" else .type end)@\(.cgroup)"' |
		tr '\n' ' ' | sed 's/ $//'
}

# every_record COOKIE CGROUP WHAT: at least one record, all with CGROUP
every_record() {
	local all
	all=$(cg_records "$1")
	[[ -n $all ]] || fail "$3: no records"
	[[ -z $(tr ' ' '\n' <<< "$all" | grep -v "@$2\$") ]] ||
		fail "$3: a record without cgroup $2: $all"
	echo "  $3: $all"
}

# one_conn SRV_CGROUP CLI_CGROUP: a server and a client that sends 100
# bytes and closes, each in its cgroup; sets sport (the client's port).
one_conn() {
	bg srv cg_run "$1" "$TCPX" server $PORT
	wait_for srv listening
	cg_run "$2" "$TCPX" client -s 100 $PORT > "$DIR/cli.out"
	wait "$JOB_srv"
	settle
	sport=$(field_of cli connected)
}

# A server and a client in two cgroups made after the daemon started.
test_cgroup_both_ends() {
	tw_start
	local A B sport c s l
	cg_new A srv
	cg_new B cli
	one_conn "$A" "$B"
	c=$(cookie_of "$sport" $PORT)
	s=$(cookie_of $PORT "$sport")
	l=$(events | jq -r 'select(.new == "LISTEN") | .cookie' | head -1)
	[[ -n $c && -n $s && -n $l ]] || fail "no events for client ($c), server ($s) or listener ($l)"
	every_record "$c" "$B" "client"
	every_record "$s" "$A" "accepted child"
	every_record "$l" "$A" "listener"
	# the softirq side: handshake completion, FIN received, TIME_WAIT
	[[ $(cg_records "$c") == *"SYN_SENT>ESTABLISHED@$B"*"FIN_WAIT2>TIME_WAIT@$B"* ]] ||
		fail "client softirq transitions: $(cg_records "$c")"
	[[ $(cg_records "$s") == *"LISTEN>SYN_RECV@$A"*"ESTABLISHED>CLOSE_WAIT@$A"* ]] ||
		fail "server softirq transitions: $(cg_records "$s")"
	# the id is the cgroup directory's inode, the same on every record
	assert_eq "$(events | jq -r --argjson c "$c" 'select(.cookie == $c) | .cgroup_id' | sort -u)" \
		"$(stat -c %i "$CGROOT$B")" "client cgroup_id"
	# the table: ls --cgroup, the column, JSON
	assert_eq "$(tw ls -j --cgroup "$B" | jq -r '"\(.state) \(.sport) \(.cgroup)"')" \
		"TIME_WAIT $sport $B" "ls --cgroup: the client only"
	assert_eq "$(tw ls --cgroup "$CGROOT$A" | tail -n +2 | wc -l)" 0 \
		"ls --cgroup with the mount prefix: the server side is gone"
	tw ls --sport "$sport" | grep -q -- " $B\$" ||
		fail "ls: no cgroup column: $(tw ls --sport "$sport")"
	assert_ge "$(stat_of .cgroups.resolved)" 2 "stats: ids resolved on first use"
}

# run --cgroup: the kernel side keeps one subtree (the client's parent):
# the BPF programs, or the module loaded with cgroup=.
test_cgroup_filter() {
	local A B Bsub sport
	cg_new A srv
	cg_new B cli
	cg_new Bsub cli/sub
	kmod_params "cgroup=$B"
	tw_start --cgroup "$B" --reconcile-s 1
	one_conn "$A" "$Bsub"
	assert_eq "$(events | jq -r 'select(.type == "state") | .cgroup' | sort -u)" \
		"$Bsub" "every record from the subtree"
	[[ -n $(cookie_of "$sport" $PORT) ]] || fail "no client records"
	assert_eq "$(events | jq -r --argjson p $PORT 'select(.sport == $p) | .type' | wc -l)" 0 \
		"no server-side records"
	# filtered in the kernel: the server's events never came
	assert_eq "$(stat_of .events.state)" 5 "state events received (client only)"
	! grep -q "filter is" "$DIR/daemon.err" ||
		fail "the daemon saw a module filter differ: $(cat "$DIR/daemon.err")"
	# a reconcile keeps the client's TIME_WAIT: sock_diag gives a
	# timewait sock no cgroup, but the table tracks it
	local runs
	runs=$(stat_of .reconcile.runs)
	poll $((5 * TW_SLOWDOWN)) stat_of "select(.reconcile.runs > $runs + 1) | 1" >/dev/null ||
		fail "no periodic reconcile"
	assert_eq "$(tw ls -j --cgroup "$B" | jq -r '"\(.state) \(.sport)"')" \
		"TIME_WAIT $sport" "the client's TIME_WAIT after reconciles"
	assert_eq "$(stat_of .reconcile.removed)" 0 "nothing removed by reconcile"
	expect_event '.type == "start" and .cgroup_filter == $b' "start record names the filter" --arg b "$B"
}

# Sockets older than the daemon: the seed (sock_diag's
# INET_DIAG_CGROUP_ID, 5.7+) gives them their cgroup.
test_cgroup_seeded() {
	local A B sport
	cg_new A srv
	cg_new B cli
	bg srv cg_run "$A" "$TCPX" server --hold $PORT
	wait_for srv listening
	bg cli cg_run "$B" "$TCPX" client --hold $PORT
	wait_for cli connected
	wait_for srv accepted
	sport=$(field_of cli connected)
	tw_start
	assert_eq "$(tw ls -j --port $PORT | jq -r '"\(.state) \(.sport) \(.seeded) \(.cgroup)"' | sort)" \
		"$(printf '%s\n' "ESTABLISHED $PORT true $A" \
			"ESTABLISHED $sport true $B" "LISTEN $PORT true $A" | sort)" \
		"seeded sockets with their cgroups"
	# a later event of a seeded socket keeps it
	kill "$JOB_cli"
	wait "$JOB_cli" 2>/dev/null || true
	settle
	expect_event '.sport == $p and .new == "CLOSE_WAIT" and .cgroup == $a' \
		"CLOSE_WAIT of the seeded server socket in $A" --argjson p $PORT --arg a "$A"
}

# A CLOSE_WAIT leak names the service it runs in, not only the pid.
test_cgroup_close_wait_finding() {
	local S rec unit
	cg_new S leak.service
	unit=${S#/}
	tw_start "${WIN[@]}" --threshold close_wait_s=1
	bg srv cg_run "$S" "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	nsx "$TCPX" client -s 100 $PORT > "$DIR/cli.out"
	rec=$(wait_finding close_wait_leak opened '.subject.pid != null')
	[[ $(jq -r '"\(.subject.cgroup) \(.subject.unit) \(.subject.container)"' <<< "$rec") == \
	   "$S $unit null" ]] || fail "finding subject: $rec"
	[[ $(jq -r .summary <<< "$rec") == *"(tcpx) in $unit holds 1 socket"* ]] ||
		fail "summary names the service: $(jq -r .summary <<< "$rec")"
	tw diag | grep -q "(tcpx) in $unit holds" || fail "diag text names the service: $(tw diag)"
}

# A --cgroup that does not exist is refused before anything is loaded.
test_cgroup_bad_path() {
	local out st=0
	out=$("$TCPWATCH" run --source "$SRC" --cgroup /twt$$-none -o /dev/null \
		--ctl "$DIR/ctl.sock" 2>&1) || st=$?
	assert_eq "$st" 2 "exit status"
	[[ $out == *'--cgroup: no cgroup "/twt'*'-none" under '*'No such file'* ]] ||
		fail "message: $out"
}
