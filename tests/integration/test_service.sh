# SPDX-License-Identifier: GPL-2.0
# The daemon as a service: -o FILE reopened on SIGHUP (logrotate), the
# capabilities it keeps after start-up, the control socket's group, and
# systemd's readiness protocol.

PORT=8080
CLI=${CLI:-$B/tcpwatch}

churn() {
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	bg cli nsx "$TCPX" client --loop -n 0 -i 1 $PORT
	CHURN_PID=${PIDS[-1]}
}

# Rename, then SIGHUP, five times under churn: the files together hold
# every record exactly once, whole, in order: the same bytes a
# subscriber got, and as many as stats counted.
test_service_rotate() {
	tw_start
	"$CLI" events -f --ctl "$DIR/ctl.sock" > "$DIR/sub.out" 2> "$DIR/sub.err" &
	local sub=$! i n files=()
	PIDS+=($sub)
	poll 20 eval '(($(stat_of .subscribers.now) == 1)) && echo y' > /dev/null ||
		fail "the subscriber did not connect"
	churn
	for ((i = 1; i <= 5; i++)); do
		sleep 0.5
		mv "$DIR/events.ndjson" "$DIR/events.ndjson.$i"
		files+=("$DIR/events.ndjson.$i")
		kill -HUP "$DPID"
		poll 10 eval '[[ -e $DIR/events.ndjson ]] && echo y' > /dev/null ||
			fail "no new file after SIGHUP $i"
	done
	sleep 0.5
	kill "$CHURN_PID"
	wait "$CHURN_PID" 2>/dev/null || true
	settle
	assert_eq "$(stat_of .output_reopens)" 5 "reopens in stats"
	n=$(stat_of .output_records)
	kill -TERM "$DPID"
	wait "$DPID" || fail "daemon exit status"
	DPID=
	wait "$sub" || fail "subscriber exit status: $(cat "$DIR/sub.err")"
	files+=("$DIR/events.ndjson")
	for f in "${files[@]}"; do
		[[ ! -s $f || $(tail -c1 "$f" | od -An -c | tr -d ' ') == '\n' ]] ||
			fail "$f ends with a cut line"
		jq -c . < "$f" > /dev/null || fail "$f has a line that is not JSON"
		assert_ge "$(wc -l < "$f")" 1 "records in $f"
	done
	cat "${files[@]}" > "$DIR/all"
	echo "  measured: $(wc -l < "$DIR/all") records in ${#files[@]} files: $(for f in "${files[@]}"; do wc -l < "$f"; done | tr '\n' ' ')"
	# stats counted n before the stop record; at most a few records
	# (the stop record, a finding) came between that and SIGTERM
	local total
	total=$(wc -l < "$DIR/all")
	((total > n && total <= n + 5)) || fail "$total records in the files, stats counted $n before the stop"
	assert_eq "$(sort "$DIR/all" | uniq -d | wc -l)" 0 "records written twice"
	# what the subscriber got (from its start on) is the files' tail
	local k
	k=$(wc -l < "$DIR/sub.out")
	[[ $(tail -n "$k" "$DIR/all" | md5sum) == $(md5sum < "$DIR/sub.out") ]] ||
		fail "the files differ from the subscriber's stream"
	assert_eq "$(grep -c '"type":"start"' "$DIR/all")" 1 "start records"
}

# After start-up the daemon keeps only CAP_SYS_ADMIN (setns),
# CAP_NET_ADMIN (SO_RCVBUFFORCE), CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH
# (other users' /proc/PID/fd and ns/net), and still does everything
# that needs them: seed and reconcile another netns, find the owner of
# a socket of another user.
test_service_capabilities() {
	# a listener of user nobody, before the daemon: seeded, owner from /proc
	bg srv nsx setpriv --reuid=65534 --regid=65534 --clear-groups "$TCPX" server -n 0 $PORT
	wait_for srv listening
	# --metrics on a port below 1024: bound before the capabilities go
	local mp i
	for ((i = 0; i < 100; i++)); do
		mp=$((600 + RANDOM % 400))
		[[ -z $(ss -Htan "sport = :$mp") ]] && break
	done
	tw_start --reconcile-s 1 --metrics 127.0.0.1:$mp
	local want=0000000000281004 caps
	caps=$(awk '/^CapEff/ { print $2 }' "/proc/$DPID/status")
	assert_eq "$caps" "$want" "CapEff (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, DAC_READ_SEARCH)"
	assert_eq "$(awk '/^CapPrm/ { print $2 }' "/proc/$DPID/status")" "$want" "CapPrm"
	# every thread: the kernel worker and the HTTP server inherit the set
	local t
	for t in /proc/$DPID/task/*; do
		assert_eq "$(awk '/^CapEff/ { print $2 }' "$t/status")" "$want" "CapEff of thread ${t##*/}"
	done
	local row
	row=$(tw ls -j | jq -c "select(.sport == $PORT and .state == \"LISTEN\")")
	check "$row" ".seeded and .owner == \"procfs\" and .pid == $(pid_of srv)" "a seeded listener of user nobody"
	# reconcile rounds in the watched netns keep running
	local r0
	r0=$(stat_of .reconcile.runs)
	poll 10 eval '(($(stat_of .reconcile.runs) > r0)) && echo y' > /dev/null ||
		fail "no reconcile round after the capabilities were dropped"
	nsx "$TCPX" client --loop -n 5 $PORT > /dev/null || fail "client"
	poll 10 eval '(($(tw ls -j | jq -s "map(select(.dport == $PORT)) | length") > 0)) && echo y' > /dev/null ||
		fail "new connections not in the table"
	tw diag > /dev/null || fail "diag"
	local st=0
	curl -sSf --max-time 10 -o "$DIR/metrics.txt" "http://127.0.0.1:$mp/metrics" 2>"$DIR/curl.err" || st=$?
	grep -q '^tcpwatch_sockets{' "$DIR/metrics.txt" 2>/dev/null ||
		fail "no metrics from port $mp after the capabilities were dropped (curl: $st $(cat "$DIR/curl.err"); $(grep -c . "$DIR/metrics.txt" 2>/dev/null) lines, tcpwatch_sockets: $(grep -m3 tcpwatch_sockets "$DIR/metrics.txt" 2>/dev/null))"
	assert_eq "$(stat_of .lost_total)" 0 "events lost"
}

# The control socket is root's; --ctl-group opens it to one group. A
# user outside it is told what to do; a member can ls.
test_service_ctl_group() {
	# globals: the EXIT trap runs after this function has returned
	g=tcpwt$$ uin=tcpwi$$ uout=tcpwo$$
	trap 'rc=$?; userdel "$uin" 2>/dev/null; userdel "$uout" 2>/dev/null;
	      groupdel "$g" 2>/dev/null; tw_cleanup $rc || exit 1' EXIT
	groupadd "$g" || fail "groupadd"
	useradd -M -N -g nogroup -G "$g" -s /usr/sbin/nologin "$uin" || fail "useradd $uin"
	useradd -M -N -g nogroup -s /usr/sbin/nologin "$uout" || fail "useradd $uout"
	chmod 0755 "$DIR"
	local sock=$DIR/run/tcpwatch.sock err
	"$TCPWATCH" run --source "$SRC" -N "$NS" --ctl "$sock" --ctl-group "$g" \
		-n --sample-ms 0 --reconcile-s 0 2> "$DIR/daemon.err" &
	DPID=$!
	poll 30 eval '"$CLI" stats --ctl "$sock" > /dev/null 2>&1 && echo y' > /dev/null ||
		fail "daemon did not come up: $(cat "$DIR/daemon.err")"
	assert_eq "$(stat -c %a "$DIR/run")" 755 "the socket's directory"
	assert_eq "$(stat -c '%a %G' "$sock")" "660 $g" "the socket"
	assert_eq "$(stat -c %a "$sock.lock")" 600 "the lock file"
	err=$(runuser -u "$uout" -- "$CLI" ls --ctl "$sock" 2>&1) &&
		fail "ls worked for a user outside $g"
	[[ $err == *"permission denied; run as root or join group $g"* ]] ||
		fail "the message for a user outside the group: $err"
	runuser -u "$uin" -- "$CLI" ls --ctl "$sock" > "$DIR/ls.out" 2>&1 ||
		fail "ls failed for a member of $g: $(cat "$DIR/ls.out")"
	grep -q '^State' "$DIR/ls.out" || fail "ls output: $(cat "$DIR/ls.out")"
	runuser -u "$uin" -- "$CLI" events --ctl "$sock" > /dev/null ||
		fail "events failed for a member of $g"
	# without --ctl-group: root only, and the message says how to share it
	kill -TERM "$DPID"
	wait "$DPID" || fail "daemon exit status"
	"$TCPWATCH" run --source "$SRC" -N "$NS" --ctl "$sock" -n --sample-ms 0 \
		--reconcile-s 0 2> "$DIR/daemon.err" &
	DPID=$!
	poll 30 eval '"$CLI" stats --ctl "$sock" > /dev/null 2>&1 && echo y' > /dev/null ||
		fail "daemon did not come up again"
	assert_eq "$(stat -c %a "$sock")" 600 "the socket without --ctl-group"
	err=$(runuser -u "$uin" -- "$CLI" ls --ctl "$sock" 2>&1) &&
		fail "ls worked for a non-root user without --ctl-group"
	[[ $err == *"permission denied; run as root"* ]] || fail "the message: $err"
}

# Type=notify: READY=1 once seeded and serving (stats answers by then),
# RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 at the end.
test_service_sd_notify() {
	local ns=$DIR/notify.sock
	nc -lkuU "$ns" > "$DIR/notify.out" 2>&1 &
	PIDS+=($!)
	poll 10 eval '[[ -S $ns ]] && echo y' > /dev/null || fail "no notify socket"
	NOTIFY_SOCKET=$ns tw_start
	poll 10 grep -m1 'READY=1' "$DIR/notify.out" > /dev/null || fail "no READY=1: $(cat "$DIR/notify.out")"
	grep -q 'STATUS=serving' "$DIR/notify.out" || fail "no STATUS: $(cat "$DIR/notify.out")"
	kill -HUP "$DPID"
	poll 10 grep -m1 'RELOADING=1' "$DIR/notify.out" > /dev/null || fail "no RELOADING=1"
	poll 10 eval '(($(grep -c READY=1 "$DIR/notify.out") == 2)) && echo y' > /dev/null ||
		fail "no READY=1 after the reload: $(cat "$DIR/notify.out")"
	kill -0 "$DPID" || fail "SIGHUP stopped the daemon"
	tw stats > /dev/null || fail "stats after SIGHUP"
	kill -TERM "$DPID"
	wait "$DPID" || fail "daemon exit status"
	DPID=
	poll 10 grep -m1 'STOPPING=1' "$DIR/notify.out" > /dev/null || fail "no STOPPING=1"
}
