# SPDX-License-Identifier: GPL-2.0
# tcpwatch top, used as a person would: typed into a shell in a tmux
# pane (a private tmux server per test), read back with capture-pane.
# Every wait polls the pane with a deadline.

PORT=8080

# top_term COLS ROWS: a private tmux server with one pane running a
# plain shell (prompt "tw-top$ "); killed by the cleanup.
top_term() {
	TMUX_SOCK=tw-top-$$-$RANDOM
	AT_EXIT+=('tmux -L "$TMUX_SOCK" kill-server 2>/dev/null')
	tm new-session -d -s top -x "$1" -y "$2" \
		"env PS1='tw-top\$ ' bash --norc --noprofile" ||
		fail "tmux new-session"
	on_screen '^tw-top\$' 10 "the shell's prompt"
}

tm() { tmux -L "$TMUX_SOCK" "$@"; }
type_line() { tm send-keys -t top -l "$1" && tm send-keys -t top Enter; }
pane() { tm capture-pane -p -t top; }
pane_grep() { pane | grep -E -- "$1"; }

# on_screen REGEX SECONDS WHAT: until a line of the pane matches
on_screen() {
	POLL_S=0.1 poll "$2" pane_grep "$1" > /dev/null ||
		fail "$3: no line matching '$1' within $2 s; the screen:
$(pane)"
}

# first_row: the first socket row, the line under the column header
first_row() { pane | awk 'f { print; exit } /^State /{ f = 1 }'; }
first_row_is() { first_row | grep -E -- "$1"; }

# sorted_by KEY REGEX WHAT: after KEY, until the first row matches
sorted_by() {
	tm send-keys -t top "$1"
	POLL_S=0.1 poll 10 first_row_is "$2" > /dev/null ||
		fail "$3: after '$1' the first row does not match '$2'; the screen:
$(pane)"
}

# rows_only REGEX: every socket row matches (and there is one)
rows_only() {
	pane | awk -v re="$1" '
		f && /^[A-Z_0-9]+ / { n++; if ($0 !~ re) bad++ }
		/^State / { f = 1 } /^Findings/ { f = 0 }
		END { if (n && !bad) print n }'
}

# The sockets, their owners, totals and findings, then every sort and
# filter key of the help screen, a narrow terminal, and q.
test_top_live_view() {
	local spid cw1 cw2 ns_ino
	tw_start --sample-ms 50 "${WIN[@]}" --threshold close_wait_s=1
	bg srv nsx "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	spid=$(pid_of srv)
	nsx "$TCPX" client -s 100 $PORT > "$DIR/cw1.out" || fail "client 1"
	nsx "$TCPX" client -s 300 $PORT > "$DIR/cw2.out" || fail "client 2"
	cw1=$(field_of cw1 connected)
	cw2=$(field_of cw2 connected)
	# a connection whose queues fill: the server never reads
	bg flood nsx "$TCPX" client --flood -s 65536 -i 50 $PORT
	wait_for flood '^connected '
	# another owner (comm "nc" sorts before "tcpx"), the newest socket
	bg nc nsx nc -d -4 -l 127.0.0.1 9000
	POLL_S=0.1 poll 10 nsx ss -tlnH sport = :9000 > /dev/null ||
		fail "nc did not listen"

	top_term 120 40
	type_line "$TCPWATCH top --ctl $DIR/ctl.sock -d 0.2 2> $DIR/top.err; echo top-exit=\$?"
	on_screen '^tcpwatch top - bpf|^tcpwatch top - kmod' 10 "the title"
	# the leaked CLOSE_WAIT sockets with their owner, the server
	on_screen "^CLOSE_WAIT .*127\\.0\\.0\\.1:$PORT +127\\.0\\.0\\.1:$cw1 .* $spid/tcpx" \
		10 "CLOSE_WAIT from port $cw1 owned by the server (pid $spid)"
	on_screen "^CLOSE_WAIT .*127\\.0\\.0\\.1:$cw2 .* $spid/tcpx" 10 \
		"CLOSE_WAIT from port $cw2"
	on_screen '(^|  )CLOSE_WAIT 2(  |$)' 10 "the totals: 2 in CLOSE_WAIT"
	on_screen '^LISTEN 2|  LISTEN 2(  |$)' 10 "the totals: 2 listeners"
	on_screen '^Findings: [0-9]+ open' 10 "the findings pane's count"
	on_screen "^(WARNING|CRITICAL|INFO) +close_wait_leak: " 10 \
		"the close_wait_leak finding in the findings pane"
	on_screen '^sort: retransmits ' 5 "the default order"

	# the help screen lists the keys; any key returns
	tm send-keys -t top h
	on_screen '^tcpwatch top: keys' 5 "the help screen"
	on_screen '^A +sort by age' 5 "the help screen's sort keys"
	on_screen '^s +filter by state' 5 "the help screen's filter keys"
	tm send-keys -t top x
	on_screen '^sort: ' 5 "back from the help screen"

	# sorts: oldest in state (the first listener), most queued (the
	# flooded connection), owner (nc's listener before tcpx)
	sorted_by A "^LISTEN .*127\\.0\\.0\\.1:$PORT .* $spid/tcpx" "sort by age"
	on_screen '^sort: age in state ' 5 "the sort shown"
	sorted_by Q "^ESTABLISHED +([1-9][0-9]*[KMG]? +[0-9]+[KMG]?|[0-9]+[KMG]? +[1-9][0-9]*[KMG]?) " \
		"sort by queued bytes"
	sorted_by O "^LISTEN .*127\\.0\\.0\\.1:9000 .* [0-9]+/nc " "sort by owner"
	sorted_by N "^ESTABLISHED " "sort by netns, state, ports"

	# filters: state, then port, then the netns; c clears them
	tm send-keys -t top s
	on_screen "^state \\(e\\.g\\. close-wait; empty: any\\):" 5 "the state prompt"
	type_line close-wait
	on_screen '^sort: .* filter: state CLOSE_WAIT +2 of 2 sockets' 10 \
		"the state filter"
	POLL_S=0.1 poll 5 rows_only '^CLOSE_WAIT ' > /dev/null ||
		fail "rows other than CLOSE_WAIT under the filter: $(pane)"
	tm send-keys -t top p
	type_line "$cw2"
	on_screen "filter: state CLOSE_WAIT port $cw2 +1 of 1 sockets" 10 \
		"the port filter"
	on_screen "^CLOSE_WAIT .*:$cw2 " 5 "the one CLOSE_WAIT on port $cw2"
	tm send-keys -t top p
	type_line 70000
	on_screen '^bad port "70000": a port from 1 to 65535' 5 "a bad port"
	tm send-keys -t top c
	on_screen '^sort: .* filter: none ' 10 "c clears the filters"
	ns_ino=$(stat -L -c %i "/run/netns/$NS")
	tm send-keys -t top n
	type_line "$NS"
	on_screen "filter: netns $NS +[1-9][0-9]* of [1-9][0-9]* sockets" 10 \
		"the netns filter by name"
	[[ -n $(rows_only " $ns_ino\$") ]] ||
		fail "rows of another netns than $ns_ino: $(pane)"

	# 80x24: fewer, narrower columns, every line whole, the key line last
	tm resize-window -t top -x 80 -y 24
	on_screen '^State +Queued +Local +Peer +In-state +Retr +Owner' 10 \
		"the narrow column set at 80 columns"
	on_screen "^CLOSE_WAIT .*:$PORT .* $spid/tcpx *\$" 5 \
		"a whole CLOSE_WAIT row at 80 columns"
	assert_eq "$(pane | sed -n 24p)" \
		"q quit  h help  R A Q O N sort  s p n filter  c clear" \
		"the key line, last of 24"
	assert_eq "$(pane | awk 'length > 80' | wc -l)" 0 "lines over 80 columns"

	# q: the shell comes back, the terminal as it was, exit status 0
	tm send-keys -t top q
	on_screen '^top-exit=0$' 10 "top's exit status after q"
	on_screen '^tw-top\$ *$' 5 "the shell's prompt after q"
	[[ -z $(pane_grep '^tcpwatch top - ') ]] ||
		fail "top's screen is still there after q: $(pane)"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$DIR/top.err"; then
		fail "sanitizer report from top: $(head -30 "$DIR/top.err")"
	fi
}

# No daemon: the words of every other command, before any screen, and
# exit status 1.
test_top_no_daemon() {
	local want
	want=$("$TCPWATCH" ls --ctl "$DIR/none.sock" 2>&1 >/dev/null) && fail "ls without a daemon exited 0"
	[[ $want == *"cannot reach the daemon at $DIR/none.sock"* ]] ||
		fail "ls said: $want"
	top_term 120 40
	type_line "$TCPWATCH top --ctl $DIR/none.sock; echo top-exit=\$?"
	on_screen '^top-exit=1$' 10 "top's exit status without a daemon"
	on_screen "^tcpwatch: cannot reach the daemon at $DIR/none.sock: No such file or directory\$" \
		5 "the message"
	on_screen '^  is it running\? start it with: sudo tcpwatch run$' 5 \
		"the hint"
	# the same words as ls, on stderr
	assert_eq "$("$TCPWATCH" top --ctl "$DIR/none.sock" 2>&1 >/dev/null)" \
		"$want" "top's message equals ls's"
	# bad usage: status 2, what is accepted
	assert_eq "$("$TCPWATCH" top -d 0 2>&1; echo "status $?")" \
		$'tcpwatch: --delay: out of range "0": accepted: seconds from 0.1 to 3600\nstatus 2' \
		"top -d 0"
	assert_eq "$("$TCPWATCH" top --delay 1s 2>&1; echo "status $?")" \
		$'tcpwatch: --delay: not a number "1s": accepted: seconds from 0.1 to 3600\nstatus 2' \
		"top --delay 1s"
}

# The refresh is bounded: the daemon sends the first rows in the chosen
# order and how many matched, not the table. Not in a terminal, top
# says so.
test_top_query_bounded() {
	local ans n
	tw_start --sample-ms 50
	bg srv nsx "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	for n in 1 2 3 4 5; do
		nsx "$TCPX" client -s $((n * 100)) $PORT > "$DIR/c$n.out" ||
			fail "client $n"
	done
	POLL_S=0.1 poll 10 bash -c "[[ \$('$TCPWATCH' ls --ctl '$DIR/ctl.sock' -S close-wait | wc -l) == 6 ]] && echo y" \
		> /dev/null || fail "5 CLOSE_WAIT in the table"
	ans=$(printf 'ls json=1 count=1 sort=age limit=2 end=1\n' |
		nc -U -N "$DIR/ctl.sock")
	# {"matched":N}, 2 rows, the end marker
	assert_eq "$(head -1 <<<"$ans" | jq -c .)" \
		"$(jq -c '{matched: .sockets}' <<<"$(tw stats -j)")" "the count line"
	assert_eq "$(grep -c '"cookie"' <<<"$ans")" 2 "rows with limit=2"
	assert_eq "$(sed -n 2p <<<"$ans" | jq -r .state)" LISTEN \
		"the oldest in its state first"
	ans=$(printf 'ls json=1 sort=owner limit=3 state=close-wait end=1\n' |
		nc -U -N "$DIR/ctl.sock")
	assert_eq "$(grep -c '"cookie"' <<<"$ans")" 3 "rows with a filter and limit=3"
	assert_eq "$(grep -c '"state":"CLOSE_WAIT"' <<<"$ans")" 3 "only CLOSE_WAIT"
	ans=$(printf 'ls sort=nope end=1\n' | nc -U -N "$DIR/ctl.sock")
	[[ $ans == 'error: bad filter "sort=nope"'* ]] || fail "bad sort: $ans"
	ans=$(printf 'diag sweep=0 json=1 end=1\n' | nc -U -N "$DIR/ctl.sock")
	[[ $ans == *$'\036end' ]] || fail "diag sweep=0: $ans"
	# not in a terminal: a message, status 1, nothing on stdout
	ans=$("$TCPWATCH" top --ctl "$DIR/ctl.sock" < /dev/null 2>&1 > "$DIR/top.out") &&
		fail "top without a terminal exited 0"
	[[ $ans == "tcpwatch: top needs a terminal;"* ]] ||
		fail "top without a terminal said: $ans"
	[[ ! -s $DIR/top.out ]] || fail "top wrote to a non-terminal: $(head -c 200 "$DIR/top.out")"
}

# The daemon stops under the view: the key line says so, the last
# sockets stay; it comes back: the view recovers. SIGTERM ends top as q
# does.
test_top_daemon_gone() {
	local shell_pid top_pid
	tw_start
	bg srv nsx "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	top_term 100 30
	type_line "$TCPWATCH top --ctl $DIR/ctl.sock -d 0.2 2> $DIR/top.err; echo top-exit=\$?"
	on_screen "^LISTEN .*127\\.0\\.0\\.1:$PORT " 10 "the listener"
	kill -TERM "$DPID"
	wait "$DPID" || fail "daemon exit status"
	DPID=
	on_screen "^cannot reach the daemon at $DIR/ctl\\.sock: " 10 \
		"the key line once the daemon is gone"
	on_screen "^LISTEN .*127\\.0\\.0\\.1:$PORT " 1 "the last sockets, kept"
	tw_start
	on_screen '^q quit  h help ' 10 "the key line once the daemon is back"
	on_screen "^LISTEN .*127\\.0\\.0\\.1:$PORT " 5 "the listener, from the new daemon"
	shell_pid=$(tm display-message -p -t top '#{pane_pid}')
	top_pid=$(pgrep -P "$shell_pid") || fail "no top process under the pane's shell"
	kill -TERM "$top_pid"
	on_screen '^top-exit=0$' 10 "top's exit status after SIGTERM"
	on_screen '^tw-top\$ *$' 5 "the shell's prompt after SIGTERM"
	[[ -z $(pane_grep '^tcpwatch top - ') ]] ||
		fail "top's screen is still there after SIGTERM: $(pane)"
}
