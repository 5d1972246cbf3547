# SPDX-License-Identifier: GPL-2.0
# Diagnostics, user/diag/rule_close_wait.c: close_wait_leak (the helpers: lib.sh).
# Each pathology reproduced for real in the test's netns; the finding
# is checked when it opens, while `diag` lists it and when it resolves.

PORT=8080

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
