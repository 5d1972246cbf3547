# SPDX-License-Identifier: GPL-2.0
# `tcpwatch events`: subscribers get the bytes the daemon writes to -o,
# filtered on the daemon's side; a slow one is cut off without holding
# up anything else; many at once cost the daemon little.

PORT=8080
# The subscribers' client: the plain build (100 sanitized clients would
# starve a 2-core machine; the daemon under test is the sanitized one).
EVCLI=${EVCLI:-$B/tcpwatch}

# sub NAME ARGS...: a subscriber, its records in $DIR/NAME.out
sub() {
	local name=$1
	shift
	"$EVCLI" events --ctl "$DIR/ctl.sock" "$@" > "$DIR/$name.out" \
		2> "$DIR/$name.err" &
	eval "SUB_$name=$!"
	PIDS+=($!)
}

subscribers() { "$EVCLI" stats -j --ctl "$DIR/ctl.sock" | jq -r .subscribers.now; }

# wait_subscribers N: until the daemon serves N subscribers
wait_subscribers() {
	poll 30 eval '(($(subscribers) >= '"$1"')) && echo y' >/dev/null ||
		fail "the daemon serves $(subscribers) subscribers, not $1"
}

# after_start FILE: the lines of FILE after its start record (what a
# subscriber connected before anything happened in $NS can get)
after_start() { sed '1,/"type":"start"/d' "$1"; }

# pick JQ-COND: the raw lines of stdin (not re-encoded by jq: ts_ns is
# beyond a double) whose record satisfies COND
pick() { jq -R -r "select(fromjson | $1)"; }

# stop_all: SIGTERM the daemon; its subscribers get the rest, the stop
# record and the end, and exit 0
stop_all() {
	kill -TERM "$DPID"
	wait "$DPID" || fail "daemon exit status"
	DPID=
	local n
	for n in "$@"; do
		eval "wait \$SUB_$n" || fail "subscriber $n exited with $?: $(cat "$DIR/$n.err")"
	done
}

# churn [PAUSE-MS]: connections until killed, a pause between them
# (default 1 ms: ~1000/s at most, ~6000 records/s, which every plain
# reader keeps up with on a loaded 2-core machine); 0: as fast as it goes
churn() {
	[[ -n ${JOB_srv:-} ]] || { bg srv nsx "$TCPX" server -n 0 $PORT; wait_for srv listening; }
	bg cli nsx "$TCPX" client --loop -n 0 -i "${1:-1}" $PORT
	CHURN_PID=${PIDS[-1]}
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }

# Two subscribers with different filters get exactly the records of
# the daemon's own -o file that match them, byte for byte.
test_events_filters() {
	tw_start
	sub a -f -p $PORT -t state
	sub b -f -S ESTABLISHED,time-wait
	sub c -f -p 9090 -S SYN_SENT,listen
	wait_subscribers 3
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	bg srv2 nsx "$TCPX" server -n 0 9090
	wait_for srv2 listening
	nsx "$TCPX" client --loop -n 20 $PORT > /dev/null || fail "client $PORT"
	nsx "$TCPX" client --loop -n 10 9090 > /dev/null || fail "client 9090"
	settle
	tw stats > /dev/null	# drained: the file holds everything so far
	stop_all a b c
	local want got n
	for n in a b c; do
		case $n in
		a) want=$(after_start "$DIR/events.ndjson" |
			  pick '.type == "state" and (.sport == 8080 or .dport == 8080)') ;;
		b) want=$(after_start "$DIR/events.ndjson" |
			  pick '(has("cookie") | not) or
				((.new // .state) as $s | $s == "ESTABLISHED" or $s == "TIME_WAIT")') ;;
		c) want=$(after_start "$DIR/events.ndjson" |
			  pick '(has("cookie") | not) or
				((.sport == 9090 or .dport == 9090) and
				 ((.new // .state) as $s | $s == "SYN_SENT" or $s == "LISTEN"))') ;;
		esac
		got=$(cat "$DIR/$n.out")
		echo "  subscriber $n: $(wc -l < "$DIR/$n.out") records"
		[[ $got == "$want" ]] ||
			fail "subscriber $n differs from the -o file: $(diff <(echo "$want") <(echo "$got") | head -5)"
	done
	assert_ge "$(wc -l < "$DIR/a.out")" 100 "state records on $PORT"
	assert_eq "$(grep -c '"new":"SYN_SENT"' "$DIR/c.out")" 10 "SYN_SENT records on 9090"
	grep -q '"type":"stop"' "$DIR/b.out" || fail "no stop record for b"
}

# Without -f: the records of the last seconds, then the end.
test_events_backlog() {
	tw_start
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	nsx "$TCPX" client --loop -n 30 $PORT > /dev/null || fail "client"
	settle
	tw stats > /dev/null
	"$EVCLI" events --ctl "$DIR/ctl.sock" -t state > "$DIR/bl.out" ||
		fail "events exited $?"
	local want
	want=$(pick '.type == "state"' < "$DIR/events.ndjson")
	[[ $(cat "$DIR/bl.out") == "$want" ]] ||
		fail "backlog differs from the file: $(diff <(echo "$want") "$DIR/bl.out" | head -5)"
	echo "  backlog: $(wc -l < "$DIR/bl.out") state records"
	assert_ge "$(wc -l < "$DIR/bl.out")" 150 "records in the backlog"
}

# A subscriber that stops reading under churn is cut off: a lost record
# says how many records it missed, stats count it; meanwhile the daemon
# loses no kernel event and answers stats within 100 ms.
test_events_slow_subscriber() {
	tw_start --ring-size 64M
	# its stdout a FIFO this shell opens and does not read (yet)
	mkfifo "$DIR/fifo"
	"$EVCLI" events -f --ctl "$DIR/ctl.sock" > "$DIR/fifo" 2> "$DIR/slow.err" &
	local slow=$!
	PIDS+=($slow)
	exec 3< "$DIR/fifo"
	sub fast -f -t state
	wait_subscribers 2
	churn
	# stats, timed, every 0.1 s from the start of the churn until 50
	# answers after the cut (the client's start-up is in the time: the plain
	# build's, a few ms)
	local t0 ms max=0 i cut=0 after=50 all=() limit=$((100 * TW_SLOWDOWN))
	for ((i = 0; i < 600 && after > 0; i++)); do
		t0=$EPOCHREALTIME
		"$EVCLI" stats --ctl "$DIR/ctl.sock" > "$DIR/stats.txt" || fail "stats failed"
		ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
		all+=("$ms")
		((ms > max)) && max=$ms
		cut=$(awk '$1 == "subscribers" { for (i = 2; i <= NF; i++) if ($i == "cut") print $(i - 1) }' "$DIR/stats.txt")
		((cut > 0)) && after=$((after - 1))
		sleep 0.1
	done
	((cut == 1)) || fail "the stalled subscriber was not cut off (cut: $cut)"
	echo "  stats times (ms): $(printf '%s\n' "${all[@]}" | sort -n | uniq -c | awk '{ printf "%s%sx%s", (NR > 1 ? " " : ""), $1, $2 }')"
	# Within 100 ms, the client's start-up included. On a shared,
	# loaded 2-core machine the scheduler alone holds a process that
	# long now and then, with no subscriber at all (up to 670 ms seen at
	# load 13): the median within the bound, and none over 3 s (a daemon
	# that waited on the stalled reader would never answer again).
	local over med
	over=$(printf '%s\n' "${all[@]}" | awk -v l="$limit" '$1 > l' | wc -l)
	med=$(printf '%s\n' "${all[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	echo "  time to answer stats with a stalled subscriber under churn: median $med ms, max $max ms, $over of ${#all[@]} over $limit ms"
	((med <= limit)) || fail "median stats answer $med ms"
	((max <= 30 * limit)) || fail "a stats answer took $max ms"
	kill "$CHURN_PID"
	wait "$CHURN_PID" 2>/dev/null || true
	cat <&3 > "$DIR/slow.out" &
	local rc=0
	wait "$slow" || rc=$?
	exec 3<&-
	assert_eq "$rc" 1 "exit status of a cut-off subscriber"
	grep -q 'cut short' "$DIR/slow.err" || fail "cut-off not said: $(cat "$DIR/slow.err")"
	local last missed
	last=$(tail -1 "$DIR/slow.out")
	check "$last" '.type == "lost" and .where == "subscriber" and .count > 0' \
		"the cut subscriber's last record"
	missed=$(stat_of .subscribers.missed)
	assert_eq "$missed" "$(ev "$last" .count)" "stats' missed records = the lost record's count"
	assert_eq "$(stat_of .lost_total)" 0 "kernel events lost"
	assert_eq "$(stat_of .subscribers.now)" 1 "subscribers left"
	echo "  measured: cut off after $(($(wc -l < "$DIR/slow.out") - 1)) records, missed $missed"
	# the fast one kept everything
	stop_all fast
	[[ $(cat "$DIR/fast.out") == "$(after_start "$DIR/events.ndjson" | pick '.type == "state"')" ]] ||
		fail "the fast subscriber missed records"
}

# 100 subscribers under churn: none cut off, no kernel event lost, each
# gets every record; the daemon's CPU with and without them.
test_events_100_subscribers() {
	# The daemon without sanitizers: a CPU figure, and under ASan each
	# subscriber buffer's growth and give-back per burst is a fresh
	# mmap, faulted in page by page (ASan's large allocator keeps none
	# of them): on a VM with dear page faults its loop fell 30 s behind
	# and cut the stats query short. Every other events test runs the
	# sanitizer build but test_events_throughput.
	TCPWATCH=$B/tcpwatch tw_start --ring-size 64M
	local i c0 c1 e0 e1 t0 t1 cpu0 cpu100 rate n=100 conns=3000 want
	# measure CPU_VAR: the daemon's CPU share and records/s over one
	# bounded churn (a count, not a time: 100 subscribers' files stay
	# ~10 MB each even if something stalls)
	measure() {
		c0=$(cpu_ticks) e0=$(stat_of .output_records) t0=$EPOCHREALTIME
		[[ -n ${JOB_srv:-} ]] || { bg srv nsx "$TCPX" server -n 0 $PORT; wait_for srv listening; }
		nsx "$TCPX" client --loop -n "$conns" -i 1 $PORT > /dev/null ||
			fail "churn client"
		settle
		c1=$(cpu_ticks) e1=$(stat_of .output_records) t1=$EPOCHREALTIME
		printf -v "$1" '%s' "$(awk -v c=$((c1 - c0)) -v a="$t0" -v b="$t1" \
			-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * c / hz / (b - a) }')"
		rate=$(awk -v r=$((e1 - e0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", r / (b - a) }')
	}
	measure cpu0
	echo "  measured: daemon CPU, no subscriber: $cpu0 % at $rate records/s"
	for ((i = 0; i < n; i++)); do
		sub "s$i" -f
	done
	wait_subscribers $n
	tw stats > /dev/null
	cp "$DIR/events.ndjson" "$DIR/before"
	measure cpu100
	echo "  measured: daemon CPU, $n subscribers: $cpu100 % at $rate records/s each ($((rate * n)) records/s sent)"
	assert_eq "$(stat_of .lost_total)" 0 "kernel events lost"
	assert_eq "$(stat_of .subscribers.cut)" 0 "subscribers cut off"
	local names=()
	for ((i = 0; i < n; i++)); do names+=("s$i"); done
	stop_all "${names[@]}"
	# each got every record written once they all were connected
	local k
	k=$(($(wc -l < "$DIR/events.ndjson") - $(wc -l < "$DIR/before")))
	want=$(tail -n "$k" "$DIR/events.ndjson" | md5sum)
	for ((i = 0; i < n; i++)); do
		[[ $(tail -n "$k" "$DIR/s$i.out" | md5sum) == "$want" ]] ||
			fail "subscriber s$i did not get every record"
	done
	echo "  each of $n subscribers got the same $k records as the file"
}

# Subscriber throughput (records/s), printed: one follower under churn
# as fast as it goes, and the backlog read at once (-f not given).
test_events_throughput() {
	# a rate, and no loss at it: the build that runs in production (the
	# sanitizer build's buffers are mmaps faulted in page by page, see
	# test_events_100_subscribers; with a VM on the other core it lost
	# 10,285 events here)
	TCPWATCH=$B/tcpwatch tw_start --ring-size 64M --backlog 256M
	sub f -f
	wait_subscribers 1
	local t0 t1 n cut
	churn 0
	t0=$EPOCHREALTIME
	sleep 5
	kill "$CHURN_PID"
	wait "$CHURN_PID" 2>/dev/null || true
	t1=$EPOCHREALTIME
	settle
	cut=$(stat_of .subscribers.cut)
	n=$(wc -l < "$DIR/f.out")
	echo "  measured: follower under full churn: $n records in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }') records/s, cut off: $cut"
	assert_eq "$(stat_of .lost_total)" 0 "kernel events lost"
	t0=$EPOCHREALTIME
	"$EVCLI" events --ctl "$DIR/ctl.sock" > "$DIR/bl.out" || fail "events exited $?"
	t1=$EPOCHREALTIME
	n=$(wc -l < "$DIR/bl.out")
	echo "  measured: backlog read: $n records, $(wc -c < "$DIR/bl.out") bytes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s: $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }') records/s"
	assert_ge "$n" 10000 "records in the backlog"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$DPID/status"; }

# stats_ms: how long stats takes to answer (the client's start-up in it)
stats_ms() {
	local t0=$EPOCHREALTIME
	"$EVCLI" stats --ctl "$DIR/ctl.sock" > /dev/null || fail "stats failed"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

# backlog_fill CONNS: CONNS connections in $NS as fast as they go, their
# records all in the backlog (the ring drained)
backlog_fill() {
	[[ -n ${JOB_srv:-} ]] || { bg srv nsx "$TCPX" server -n 0 $PORT; wait_for srv listening; }
	nsx "$TCPX" client --loop -n "$1" -i 0 $PORT > /dev/null || fail "client"
	settle
	tw stats > /dev/null
}

# stalled_reader: `events` (no -f) writing into a FIFO that fd 3 holds
# and nobody reads yet; its pid in $SLOW
stalled_reader() {
	mkfifo "$DIR/fifo"
	"$EVCLI" events --ctl "$DIR/ctl.sock" > "$DIR/fifo" 2> "$DIR/slow.err" &
	SLOW=$!
	PIDS+=($SLOW)
	exec 3< "$DIR/fifo"
	wait_subscribers 1
}

# the rest of the stalled reader's answer, its exit status checked
finish_reader() {
	cat <&3 >> "$DIR/slow.out"
	local rc=0
	wait "$SLOW" || rc=$?
	exec 3<&-
	assert_eq "$rc" 0 "exit status of the slow reader ($(cat "$DIR/slow.err"))"
}

# Without -f from a big backlog: a reader that stalls, then reads slowly,
# costs the daemon a bounded buffer, not the backlog's size; stats
# answers meanwhile; it gets exactly what a fast reader got, the records
# the backlog held: each once, in order, none made after its request.
test_events_backlog_slow_reader() {
	# no findings: the sweep can open one (connection_churn) between
	# the two reads, and both must get the same records
	tw_start --ring-size 64M --backlog 1G \
		--records state,reset_sent,reset_recv,retransmit,synack_retransmit,lost,start,stop
	backlog_fill 3000
	local bytes n rss0 rss max_rss=0 ms all=() i limit=$((100 * TW_SLOWDOWN))
	bytes=$(stat_of .backlog.bytes)
	assert_ge "$bytes" $((8 << 20)) "bytes in the backlog"
	"$EVCLI" events --ctl "$DIR/ctl.sock" > "$DIR/fast.out" ||
		fail "events exited $?"
	n=$(wc -l < "$DIR/fast.out")
	[[ $(tail -n "$n" "$DIR/events.ndjson") == "$(cat "$DIR/fast.out")" ]] ||
		fail "the backlog's answer is not the file's last $n records"
	assert_eq "$(sort "$DIR/fast.out" | uniq -d | wc -l)" 0 "duplicate records"
	rss0=$(rss_kb)
	stalled_reader
	# while it reads nothing, then while it reads 256 KiB every 50 ms,
	# and while the ring is drained: records it must not get
	bg more nsx "$TCPX" client --loop -n 200 -i 5 $PORT
	for ((i = 0; i < 40; i++)); do
		((i < 10)) || dd bs=256k count=1 status=none <&3 >> "$DIR/slow.out"
		ms=$(stats_ms)
		all+=("$ms")
		rss=$(rss_kb)
		((rss > max_rss)) && max_rss=$rss
		sleep 0.05
	done
	finish_reader
	wait "$JOB_more" || fail "client"
	local med max
	med=$(printf '%s\n' "${all[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	max=$(printf '%s\n' "${all[@]}" | sort -n | tail -1)
	echo "  measured: backlog $bytes bytes, $n records; daemon RSS $rss0 KiB before the slow reader, at most $max_rss KiB while it read ($((max_rss - rss0)) KiB more)"
	echo "  measured: stats while the slow reader read: median $med ms, max $max ms"
	cmp -s "$DIR/slow.out" "$DIR/fast.out" ||
		fail "the slow reader got $(wc -l < "$DIR/slow.out") records, not the $n of the fast one: $(diff "$DIR/fast.out" "$DIR/slow.out" | head -3)"
	# the old one copy of the backlog would have taken its size
	((max_rss - rss0 < 8192 && (max_rss - rss0) * 1024 < bytes / 2)) ||
		fail "the daemon's RSS grew by $((max_rss - rss0)) KiB for a slow reader"
	((med <= limit)) || fail "median stats answer $med ms"
	((max <= 30 * limit)) || fail "a stats answer took $max ms"
	assert_eq "$(stat_of .subscribers.records)" $((2 * n)) "records sent"
	assert_eq "$(stat_of .subscribers.overwritten)" 0 "records overwritten"
	echo "  measured: the slow reader got the same $n records as the fast one"
}

# Records the backlog's writer overwrites before a slow reader got them:
# one lost record where they were, with their count, the rest of the
# answer intact around it, and stats counting them.
test_events_backlog_overwritten() {
	tw_start --ring-size 64M --backlog 1M
	backlog_fill 300
	local n a l after
	"$EVCLI" events --ctl "$DIR/ctl.sock" > "$DIR/fast.out" ||
		fail "events exited $?"
	n=$(wc -l < "$DIR/fast.out")
	# its socket and pipe hold a few hundred KiB of the answer; then
	# more than the backlog's 1 MiB of new records
	stalled_reader
	backlog_fill 600
	finish_reader
	grep -c '"type":"lost"' "$DIR/slow.out" | { read -r c; assert_eq "$c" 1 "lost records"; }
	a=$(grep -n '"type":"lost"' "$DIR/slow.out" | cut -d: -f1)
	a=$((a - 1))
	local lost
	lost=$(sed -n "$((a + 1))p" "$DIR/slow.out")
	check "$lost" '.where == "backlog" and .count > 0 and .backlog_bytes == 1048576' \
		"the lost record"
	l=$(ev "$lost" .count)
	after=$(($(wc -l < "$DIR/slow.out") - a - 1))
	echo "  measured: of $n records, $a sent, then $l overwritten, then $after"
	assert_eq "$((a + l + after))" "$n" "records sent and lost"
	[[ $(head -n "$a" "$DIR/slow.out") == "$(head -n "$a" "$DIR/fast.out")" ]] ||
		fail "the records before the lost one differ"
	[[ $(tail -n "$after" "$DIR/slow.out") == "$(tail -n "$after" "$DIR/fast.out")" ]] ||
		fail "the records after the lost one differ"
	assert_eq "$(stat_of .subscribers.overwritten)" "$l" "stats: records overwritten"
	assert_eq "$(stat_of .subscribers.overrun)" 1 "stats: answers overrun"
}
