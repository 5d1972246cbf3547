# SPDX-License-Identifier: GPL-2.0
# Output never holds up the loop: a stalled reader, a full disk and a
# file that refuses writes cost records (counted, reported in a "lost"
# record with "where":"output"), never the table, the control socket,
# a signal, or a whole line.

PORT=8080

churn() {	# connections in $NS until the test ends
	bg srv nsx "$TCPX" server -n 0 $PORT
	wait_for srv listening
	bg cli nsx "$TCPX" client --loop -n 0 $PORT
	CHURN_PID=${PIDS[-1]}
}

# poll SECONDS CMD...: until CMD succeeds, for SECONDS of wall time
# (a CMD that itself waits, on a daemon that does not answer, counts)
poll() {
	local end=$((SECONDS + $1))
	shift
	while ((SECONDS < end)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# start_to FILE [run options]: the daemon with stdout to FILE (a FIFO)
start_to() {
	local out=$1 i
	shift
	"$TCPWATCH" run --source "$SRC" -N "$NS" --ctl "$DIR/ctl.sock" \
		--sample-ms 0 --reconcile-s 0 "$@" > "$out" 2> "$DIR/daemon.err" &
	DPID=$!
	for ((i = 0; i < 200; i++)); do
		kill -0 "$DPID" 2>/dev/null || fail "daemon died: $(cat "$DIR/daemon.err")"
		tw stats >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "daemon did not come up"
}

# stats with a bound: today's daemon never answers while it is stuck
# in a write
stat_within() {
	timeout 10 "$TCPWATCH" stats -j --ctl "$DIR/ctl.sock" | jq -r "$1"
}

dropped() { (($(stat_within .output_dropped) > 0)); }

# stop_daemon MAX-SECONDS: SIGTERM, it must be gone within the bound
# with status 0 and a clean sanitizer log (the cleanup does not wait
# for it again).
stop_daemon() {
	local t0=$EPOCHREALTIME rc=0 took
	kill -TERM "$DPID"
	poll "$1" eval '! kill -0 $DPID 2>/dev/null' ||
		fail "daemon still running $1 s after SIGTERM"
	wait "$DPID" || rc=$?
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	echo "  time to exit after SIGTERM: $took s"
	assert_eq "$rc" 0 "exit status after SIGTERM"
	! grep -qE 'AddressSanitizer|runtime error' "$DIR/daemon.err" ||
		fail "sanitizer: $(head -20 "$DIR/daemon.err")"
	DPID=
}

# loop_free WHAT: while WHAT holds the output, the loop answers stats
# at once and still drains the ring (events are counted)
loop_free() {
	local i t0 ms max=0 ev1
	for ((i = 0; i < 5; i++)); do
		t0=$EPOCHREALTIME
		timeout 10 "$TCPWATCH" stats --ctl "$DIR/ctl.sock" >/dev/null ||
			fail "stats did not answer during $1"
		ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
		((ms > max)) && max=$ms
	done
	echo "  time to answer stats during $1: max $max ms"
	((max < 3000)) || fail "stats took $max ms during $1"
	ev1=$(stat_within .events_total)
	poll 20 eval '(($(stat_within .events_total) > ev1))' ||
		fail "no events counted during $1"
}

# caught_up WHEN FILE...: once the output flows again (WHEN), the FILEs
# (a SIGHUP's old and new one) get a lost record with "where":"output";
# with the churn over and the output caught up, a clean stop loses
# nothing more (a slow VM's output could still be behind otherwise),
# and each FILE is whole lines.
caught_up() {
	local when=$1 f files
	shift
	files=("$@")
	poll 30 eval 'cat "${files[@]}" | grep -q "\"where\":\"output\""' ||
		fail "no lost record with where=output after $when"
	kill "$CHURN_PID" 2>/dev/null
	poll 60 eval '(($(stat_within .output_pending_bytes) == 0))' ||
		fail "the output never caught up after $when"
	stop_daemon 5
	for f; do
		all_parse "$f"
	done
	cat "$@" | jq -e -s 'map(select(.type == "lost" and .where == "output")) |
		length >= 1 and all(.count > 0 and .bytes > 0 and .total >= .count)' \
		> /dev/null || fail "lost record fields"
	assert_eq "$(cat "$@" | jq -s 'map(select(.type == "stop")) | length')" 1 \
		"stop record after $when"
}

# every line is a whole JSON object
all_parse() {
	jq -c . < "$1" > /dev/null || fail "$1 has a line that is not JSON"
	[[ ! -s $1 || $(tail -c1 "$1" | od -An -c | tr -d ' ') == '\n' ]] ||
		fail "$1 ends with a cut line"
}

# A reader that stops reading under churn: the daemon keeps draining
# and answering; once the reader resumes, a lost record says how many
# records the output dropped.
test_output_stalled_reader() {
	mkfifo "$DIR/fifo"
	bash -c "while [[ ! -e $DIR/go ]]; do sleep 0.1; done; exec cat" \
		< "$DIR/fifo" > "$DIR/reader.out" &
	PIDS+=($!)
	start_to "$DIR/fifo"
	churn
	poll 60 dropped || fail "no output dropped with a stalled reader"
	loop_free "a stalled reader"
	touch "$DIR/go"
	caught_up "the reader resumed" "$DIR/reader.out"
}

# `tcpwatch run | sleep`: the reader never reads; SIGTERM and SIGINT
# still end the daemon at once.
test_output_signal_while_stalled() {
	local sig
	for sig in TERM INT; do
		mkfifo "$DIR/fifo.$sig"
		sleep 1000 < "$DIR/fifo.$sig" &
		PIDS+=($!)
		start_to "$DIR/fifo.$sig"
		[[ $sig == TERM ]] && churn
		poll 60 dropped || fail "no output dropped with a stalled reader"
		if [[ $sig == INT ]]; then
			kill -INT "$DPID"
			poll 3 eval '! kill -0 $DPID 2>/dev/null' ||
				fail "daemon still running 3 s after SIGINT"
			wait "$DPID" || fail "exit status after SIGINT"
			DPID=
		else
			stop_daemon 3
		fi
	done
}

# A full filesystem: the error is said once, the loss counted, and
# writing resumes when there is space again, with no cut line.
test_output_disk_full() {
	mkdir "$DIR/mnt"
	mount -t tmpfs -o size=64k tcpwatch-test "$DIR/mnt" || fail "mount tmpfs"
	trap 'rc=$?; umount -l "$DIR/mnt" 2>/dev/null || true; tw_cleanup $rc || exit 1' EXIT
	tw_start -o "$DIR/mnt/events.ndjson"
	churn
	poll 60 eval '(($(stat_within .output_write_errors) > 0))' ||
		fail "no write error on a full tmpfs"
	poll 30 dropped || fail "nothing dropped on a full tmpfs"
	kill -0 "$DPID" || fail "daemon ended on ENOSPC"
	assert_eq "$(grep -c 'No space left on device' "$DIR/daemon.err")" 1 \
		"ENOSPC reported once"
	mount -o remount,size=64m "$DIR/mnt" || fail "remount"
	poll 30 grep -q '"where":"output"' "$DIR/mnt/events.ndjson" ||
		fail "no lost record once space was back"
	grep -q 'writing output resumed' "$DIR/daemon.err" || fail "resume not said"
	stop_daemon 5
	all_parse "$DIR/mnt/events.ndjson"
	umount "$DIR/mnt"
}

# A file that refuses every write: the daemon keeps running and
# answering; at exit, the records it could not write make it fail.
test_output_write_error() {
	tw_start -o /proc/version
	poll 30 eval '(($(stat_within .output_write_errors) > 0))' ||
		fail "no write error counted for /proc/version"
	tw stats > /dev/null || fail "stats"
	kill -0 "$DPID" || fail "daemon ended on a write error"
	assert_eq "$(grep -c 'writing output /proc/version' "$DIR/daemon.err")" 1 \
		"error said once"
	local rc=0
	kill -TERM "$DPID"
	wait "$DPID" || rc=$?
	DPID=
	assert_eq "$rc" 1 "exit status with unwritten records"
}

# A reader that goes away ends the daemon with status 0 (`run | head`).
test_output_epipe() {
	mkfifo "$DIR/fifo"
	head -n 1 < "$DIR/fifo" > "$DIR/head.out" &
	PIDS+=($!)
	"$TCPWATCH" run --source "$SRC" -N "$NS" --ctl "$DIR/ctl.sock" \
		--sample-ms 0 > "$DIR/fifo" 2> "$DIR/daemon.err" &
	DPID=$!
	poll 20 eval '! kill -0 $DPID 2>/dev/null' || fail "daemon outlived its reader"
	local rc=0
	wait "$DPID" || rc=$?
	DPID=
	assert_eq "$rc" 0 "exit status on a closed pipe"
}

# Can this kernel write $DIR's filesystem with RWF_DONTCACHE (6.14+)?
# 0 yes, 1 no (EOPNOTSUPP), else the probe failed.
dontcache_works() {
	python3 - "$DIR/probe" <<-'PY'
	import errno, os, sys
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
	try:
	    os.pwritev(fd, [b"x"], 0, 0x80)  # RWF_DONTCACHE
	except OSError as e:
	    sys.exit(1 if e.errno == errno.EOPNOTSUPP else 2)
	PY
}

size_of() { stat -c %s "$1"; }
resident() { fincore -bno RES "$1"; }	# bytes of FILE in the page cache

# uncached_file WANT [run options]: the daemon writing $DIR/out.ndjson
# under churn; stats says whether it writes uncached (WANT), and where
# the kernel can, fincore says what stays in the page cache: 8 MiB of
# records, written back, leave at most a quarter there (uncached), or
# all of it (--output-cache).
uncached_file() {
	local want=$1 rc=0 out=$DIR/out.ndjson
	shift
	dontcache_works || rc=$?
	((rc < 2)) || fail "the RWF_DONTCACHE probe failed ($rc)"
	((rc == 0)) || want=false
	tw_start -o "$out" "$@"
	assert_eq "$(stat_of .output_uncached)" "$want" \
		"stats: output_uncached (the kernel's probe: $rc)"
	churn
	poll 120 eval '(($(size_of "$out") >= 8 << 20))' ||
		fail "8 MiB of records: $(size_of "$out") bytes"
	kill "$CHURN_PID"
	# a disk that keeps up: the writer thread is waited for, not dropped
	assert_eq "$(stat_of .output_dropped)" 0 "records dropped on a healthy disk"
	if [[ $want == true ]]; then
		poll 20 eval '(($(resident "$out") * 4 <= $(size_of "$out")))' ||
			fail "uncached: $(resident "$out") of $(size_of "$out") bytes still in the page cache"
	elif ((rc == 0)); then
		sync "$out"
		(($(resident "$out") >= $(size_of "$out"))) ||
			fail "--output-cache: $(resident "$out") of $(size_of "$out") bytes in the page cache"
	fi
	echo "  measured: $(resident "$out") of $(size_of "$out") bytes in the page cache"
	stop_daemon 5
	all_parse "$out"
}

# The NDJSON file does not fill the host's page cache.
test_output_uncached() { uncached_file true; }
test_output_cache_kept() { uncached_file false --output-cache; }

# A disk that holds every write (fsfreeze; a stalled network or cloud
# volume is the same to the daemon): the file's writer thread waits,
# the loop does not. The control socket answers, the ring is drained
# (no event lost in the kernel), records are dropped and counted, and
# once the disk thaws a lost record says so, with no cut line. A SIGHUP
# while frozen does not hold the loop either.
test_output_frozen_disk() {
	local img=$DIR/disk.img
	# outside $DIR, which the cleanup removes before the unmount
	FROZEN=$(mktemp -d /tmp/tcpwatch-frozen.XXXXXX)
	local mnt=$FROZEN
	truncate -s 1G "$img"	# sparse: what the churn writes, ~100 MB
	mkfs.ext4 -q "$img" || fail "mkfs.ext4"
	# a write to a frozen fs can't be interrupted: thaw before anything
	trap 'rc=$?; fsfreeze -u "$FROZEN" 2>/dev/null || true
		tw_cleanup $rc && rc=0 || rc=1
		umount "$FROZEN" 2>/dev/null || true
		rmdir "$FROZEN"; exit $rc' EXIT
	mount -o loop "$img" "$mnt" || fail "mount a loop ext4"
	tw_start -o "$mnt/events.ndjson"
	churn
	poll 30 eval '(($(stat_within .events_total) > 1000))' || fail "no churn"
	# logrotate renamed the file (a rename waits for a thaw too)
	mv "$mnt/events.ndjson" "$mnt/events.ndjson.1"
	fsfreeze -f "$mnt" || fail "fsfreeze"
	poll 30 dropped || fail "nothing dropped on a frozen disk (or no answer)"
	loop_free "a frozen disk"
	# and its SIGHUP: creating the new file waits for the thaw (it
	# takes the frozen superblock's write access), on a thread
	kill -HUP "$DPID"
	loop_free "a frozen disk's reopen"
	assert_eq "$(stat_within .output_reopens)" 0 "reopens while frozen"
	assert_eq "$(stat_within .lost_total)" 0 "events lost in the kernel"
	fsfreeze -u "$mnt" || fail "thaw"
	poll 30 eval '(($(stat_within .output_reopens) == 1))' ||
		fail "SIGHUP's open did not return after the thaw"
	caught_up "the disk thawed" "$mnt/events.ndjson.1" "$mnt/events.ndjson"
	! grep -q "cannot" "$DIR/daemon.err" || fail "stderr: $(cat "$DIR/daemon.err")"
}
