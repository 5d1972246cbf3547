# SPDX-License-Identifier: GPL-2.0
# Packets the kernel dropped (skb:kfree_skb): `drop` records with the
# kernel's reason, the tuple from our side and a count; `stats` by
# reason; syn_unanswered and packet_drops saying this host drops them
# (user/diag/rule_connect.c, rule_drop.c; the helpers: lib.sh).

PORT=8080

# drops TUPLE-COND: the drop records matching COND, one per line
drops() {
	events | jq -c "select(.type == \"drop\") | select($1)"
}

# first_drop COND: the first drop record matching COND, if any
first_drop() {
	events | jq -c -s "map(select(.type == \"drop\") | select($1)) | first // empty"
}

# sum_counts COND: the packets the matching drop records stand for
sum_counts() {
	drops "$1" | jq -s 'map(.count) | add // 0'
}

# pending: drops the kernel folded that no record carries yet
pending() {
	stat_of .packet_drops.pending
}

# A SYN to a port in this host dropped by nft on input: records naming
# NETFILTER_DROP with our end (the listener's addr:port) as the local
# one and no socket; syn_unanswered says this host's firewall drops
# them, not the network. Every dropped SYN (nstat) is in a record's
# count or still pending. The rule removed, a connect completes and the
# finding resolves.
test_drop_netfilter_syn() {
	local t0 rec id n got
	tw_start "${WIN[@]}"
	nsx nft -f - <<-NFT
	table inet twdrop {
		chain in {
			type filter hook input priority 0;
			tcp dport $PORT tcp flags & (syn | ack) == syn drop
		}
	}
	NFT
	bg srv nsx "$TCPX" server -n 1 $PORT
	wait_for srv listening
	t0=$(mono)
	bg cli nsx "$TCPX" client -t 20 $PORT
	rec=$(poll 10 first_drop ".reason == \"NETFILTER_DROP\" and .sport == $PORT") ||
		fail "no NETFILTER_DROP drop record: $(events | grep '"drop"' | head -3)"
	took "$t0" "$rec" "drop record" >/dev/null
	check "$rec" '.nosock == true and .cookie == 0 and .syn == true and
		.count >= 1 and .family == "inet" and .saddr == "127.0.0.1" and
		.daddr == "127.0.0.1" and .dport > 0 and .reason_code > 0 and
		(.netns | type) == "number"' "drop record"
	rec=$(wait_finding syn_unanswered opened \
		".subject.dport == $PORT and .evidence.dropped_here >= 1" 15)
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	check "$rec" '.evidence.drop_reason == "NETFILTER_DROP" and
		(.summary | test("dropped by this host.s firewall: NETFILTER_DROP, [0-9]+ in [0-9]+ s"))' \
		"syn_unanswered names this host's firewall"
	assert_ge "$(stat_of '.packet_drops.by_reason.NETFILTER_DROP')" 1 \
		"stats: drops by reason"
	# the client gives up (its SYN retransmits are far apart by now),
	# the rule goes, and a new connect gets through at once
	kill "$JOB_cli"
	wait "$JOB_cli" || true
	nsx nft delete table inet twdrop
	nsx "$TCPX" client $PORT > "$DIR/cli2.out" || fail "connect after the rule went"
	wait_for srv accepted
	# every SYN nft dropped (the first client's: the SYN and its
	# retransmits) is in a record's count, or pending
	n=$(( $(mib TcpExtTCPSynRetrans) + 1 ))
	got=$(( $(sum_counts ".reason == \"NETFILTER_DROP\" and .sport == $PORT") + $(pending) ))
	assert_eq "$got" "$n" "drops counted (records + pending) vs SYNs dropped"
	rec=$(wait_finding syn_unanswered resolved ".id == $(jstr "$id")" 15)
	took "$t0" "$rec" resolution >/dev/null
	not_listed syn_unanswered "$id"
	no_finding connect_refused
}

# Segments with a wrong TCP checksum (a raw socket): TCP_CSUM records,
# counted exactly (nstat TcpInCsumErrors), and packet_drops in words.
test_drop_checksum() {
	local t0 rec id got
	tw_start "${WIN[@]}"
	t0=$(mono)
	nsx "$TCPX" badsum -n 8 -i 250 $PORT > "$DIR/bad.out"
	assert_eq "$(field_of bad sent)" 8 "segments sent"
	assert_eq "$(mib TcpInCsumErrors)" 8 "nstat TcpInCsumErrors"
	rec=$(poll 10 first_drop '.reason == "TCP_CSUM"') ||
		fail "no TCP_CSUM drop record: $(drops true | head -3) $(tw stats -j | jq -c "{packet_drops, lost, events}")"
	check "$rec" ".nosock == true and .sport == $PORT and .dport == 40000 and
		.saddr == \"127.0.0.1\" and .syn == true" "drop record"
	got=$(( $(sum_counts '.reason == "TCP_CSUM"') + $(pending) ))
	assert_eq "$got" 8 "drops counted (records + pending): $(drops true) $(tw stats -j | jq -c .packet_drops)"
	rec=$(wait_finding packet_drops opened '.subject.reason == "TCP_CSUM"')
	took "$t0" "$rec" >/dev/null
	id=$(ev "$rec" .id)
	check "$rec" ".subject.sport == $PORT and .evidence.dropped >= 3 and
		(.summary | test(\"bad checksums\"))" "packet_drops"
	rec=$(wait_finding packet_drops resolved ".id == $(jstr "$id")")
	not_listed packet_drops "$id"
}

# A SYN dropped on its way out (nft output): the packet is its socket's
# own, so the record has the socket's cookie and state and its tuple
# (our end the client's); the connect's syn_unanswered blames this host.
test_drop_output_socket() {
	local rec c
	tw_start "${WIN[@]}"
	nsx nft -f - <<-NFT
	table inet twdrop {
		chain out {
			type filter hook output priority 0;
			tcp dport $PORT tcp flags & (syn | ack) == syn drop
		}
	}
	NFT
	bg cli nsx "$TCPX" client -t 10 $PORT
	rec=$(poll 10 first_drop ".reason == \"NETFILTER_DROP\" and .dport == $PORT") ||
		fail "no NETFILTER_DROP drop record"
	c=$(events | jq -r "select(.type == \"state\" and .new == \"SYN_SENT\" and .dport == $PORT) | .cookie" | head -1)
	[[ -n $c && $c != 0 ]] || fail "no SYN_SENT record"
	check "$rec" ".cookie == $c and .state == \"SYN_SENT\" and .syn == true and
		(has(\"nosock\") | not) and .sport > 0 and .daddr == \"127.0.0.1\"" \
		"drop record of the socket"
	rec=$(wait_finding syn_unanswered opened \
		".subject.dport == $PORT and .evidence.dropped_here >= 1" 15)
	check "$rec" '.summary | test("dropped by this host.s firewall")' "summary"
	nsx nft delete table inet twdrop
}

# A flood of drop records while the reader is behind (a stopped daemon, a
# small ring): drop records take at most half the ring, so the events of
# connections made meanwhile are all kept. The drop records past that
# half are lost and counted, and no segment goes without a count.
test_drop_flood_leaves_room() {
	local n=20 flood=1000 got lost
	kmod_params ring_bytes=65536 sample_ms=0
	tw_start --ring-size 65536 --reconcile-s 0
	bg srv nsx "$TCPX" server -b 1024 -n $n $PORT
	wait_for srv listening
	kill -STOP "$DPID"
	# each a new source port: a new tuple, a record due
	nsx "$TCPX" badsum --loop -n $flood -s 100 $PORT > "$DIR/bad.out"
	nsx "$TCPX" client --linger0 -n $n $PORT >/dev/null
	server_done $n
	kill -CONT "$DPID"
	assert_eq "$(field_of bad sent)" $flood "segments sent"
	# per connection 6 state + 2 reset; +2 the listener's
	for ((i = 0; i < 50; i++)); do
		got=$(stat_of '.events.state + .events.reset_sent + .events.reset_recv')
		((got >= 8 * n + 2)) && break
		sleep 0.1
	done
	lost=$(stat_of '.lost.state + .lost.reset_sent + .lost.reset_recv')
	assert_eq "$lost" 0 "state and reset events lost"
	assert_eq "$got" "$((8 * n + 2))" "state and reset events received"
	lost=$(stat_of '.lost.drop')
	got=$(stat_of '.events.drop')
	echo "  measured: $got drop records kept, $lost lost of $flood, ring 64 KiB"
	assert_ge "$lost" 1 "drop records past half the ring lost"
	assert_eq "$((got + lost))" $flood "drop records received + lost"
	assert_eq "$(mib TcpInCsumErrors)" $flood "nstat TcpInCsumErrors"
	got=$(( $(sum_counts '.reason == "TCP_CSUM"') + $(pending) ))
	# a lost record's segments: pending in the tuple's entry, or lost
	# with the record of a new tuple (counted above)
	assert_ge "$((got + lost))" $flood "segments counted (records + pending + lost)"
	assert_eq "$(table_tuples)" "$(ss_tuples)" "table equals ss"
}
