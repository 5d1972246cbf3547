# SPDX-License-Identifier: GPL-2.0
# Prometheus metrics (--metrics, user/metrics/): a known mix of sockets
# in the test's netns, scraped by the real Prometheus server, whose
# HTTP API must give what ss and nstat say; promtool finds nothing to
# say about a scrape; a scrape of 100k sockets takes a bounded time and
# does not stall the loop.

PORT=8080

# free_port: a TCP port nobody listens on in the host netns
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 12000))
		[[ -z $(ss -tlnH "sport = :$p") ]] && { echo "$p"; return; }
	done
	fail "no free port"
}

# metrics_up ARGS...: the daemon watching $NS with --metrics on a free
# loopback port ($MPORT)
metrics_up() {
	MPORT=$(free_port)
	tw_start --metrics "$MPORT" "$@"
}

scrape() {
	curl -sf --max-time 10 "http://127.0.0.1:$MPORT/metrics"
}

# prom_up: Prometheus scraping $MPORT every second, its API on $PPORT
prom_up() {
	command -v prometheus >/dev/null || fail "prometheus not installed (scripts/install-deps.sh)"
	PPORT=$(free_port)
	cat > "$DIR/prom.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: tcpwatch
	    static_configs:
	      - targets: ['127.0.0.1:$MPORT']
	EOF
	bg prom prometheus --config.file="$DIR/prom.yml" \
		--storage.tsdb.path="$DIR/tsdb" \
		--web.listen-address="127.0.0.1:$PPORT"
	poll 60 prom_q 'up{job="tcpwatch"} == 1' >/dev/null ||
		fail "prometheus never scraped the daemon: $(tail -3 "$DIR/prom.out")"
}

# prom_q QUERY: the single value of an instant query ("" if none)
prom_q() {
	curl -sf --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" \
		--data-urlencode "query=$1" |
		jq -r '.data.result | if length == 1 then .[0].value[1] else empty end'
}

# prom_eq QUERY WANT WHAT: until Prometheus answers WANT (20 s at most)
prom_eq() {
	local got i
	for ((i = 0; i < 100; i++)); do
		got=$(prom_q "$1")
		[[ $got == "$2" ]] && return 0
		sleep 0.2
	done
	fail "$3: Prometheus says $1 = '$got', expected '$2'"
}

# ss's count per state in $NS, "STATE N" lines in the metric's names
ss_states() {
	nsx ss -tanH | awk '{
		s = $1
		sub(/^ESTAB$/, "ESTABLISHED", s); gsub(/-/, "_", s)
		sub(/^FIN_WAIT_/, "FIN_WAIT", s); sub(/^UNCONN$/, "CLOSE", s)
		n[s]++ } END { for (s in n) print s, n[s] }' | sort
}

# Prometheus's non-zero tcpwatch_sockets, in the same form
prom_states() {
	curl -sf --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" \
		--data-urlencode 'query=tcpwatch_sockets > 0' |
		jq -r '.data.result[] | "\(.metric.state) \(.value[1])"' | sort
}

# `diag -j`'s open findings and Prometheus's, "RULE SEVERITY N" lines
diag_counts() {
	tw diag -j | jq -r '"\(.rule) \(.severity)"' | sort | uniq -c |
		awk '{ print $2, $3, $1 }'
}

prom_findings() {
	curl -sf --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" \
		--data-urlencode 'query=tcpwatch_findings > 0' |
		jq -r '.data.result[] | "\(.metric.rule) \(.metric.severity) \(.value[1])"' |
		sort
}

# until_same WHAT CMD1 CMD2: until both print the same (20 s at most)
until_same() {
	local a b i
	for ((i = 0; i < 100; i++)); do
		a=$($2)
		b=$($3)
		[[ $a == "$b" ]] && return 0
		sleep 0.2
	done
	fail "$1: $2 says '$(echo $a)', $3 says '$(echo $b)'"
}

# The kernel counts a retransmit before its transmit, the tracepoint
# fires after one that worked: the failed ones are TCPRetransFail.
retrans_nstat() {
	echo $(($(mib TcpRetransSegs) - $(mib TcpExtTCPRetransFail)))
}
overflows_nstat() { mib TcpExtListenOverflows; }
overflows_prom() { prom_q tcpwatch_listen_overflows_total; }
retrans_prom() {
	prom_q 'tcpwatch_retransmits_total + tcpwatch_synack_retransmits_total'
}

# A known mix in the netns, Prometheus's view against ss and nstat.
test_metrics_prometheus() {
	local i q max ns used range
	nsx sysctl -qw net.ipv4.ip_local_port_range="40000 40999"
	metrics_up --metrics-netns
	prom_up
	# ESTABLISHED both ways: a server that holds three clients
	bg held nsx "$TCPX" server --hold -n 0 $PORT
	wait_for held listening
	for i in 1 2 3; do
		bg h$i nsx "$TCPX" client --hold $((PORT))
		wait_for h$i connected
	done
	# TIME_WAIT: four clients that close first
	bg closer nsx "$TCPX" server -n 4 $((PORT + 1))
	wait_for closer listening
	for i in 1 2 3 4; do
		nsx "$TCPX" client $((PORT + 1)) >/dev/null || fail "client $i"
	done
	# CLOSE_WAIT / FIN_WAIT2: a server that never closes
	bg cw nsx "$TCPX" server --hold -n 0 $((PORT + 2))
	wait_for cw listening
	for i in 1 2; do
		nsx "$TCPX" client $((PORT + 2)) >/dev/null || fail "cw client $i"
	done
	# three refused connects
	nsx "$TCPX" client --loop -n 3 9 > "$DIR/refused.out"
	assert_eq "$(field_of refused refused)" 3 "refused connects"
	# an accept queue of 1 that overflows: 2 queued, 2 SYNs dropped,
	# retransmitted, given up after 3 s. The first two are queued before
	# the others start: a SYN that comes while they are still requests
	# is answered, and its client is established, not timed out.
	bg full nsx "$TCPX" server --no-accept -b 1 $((PORT + 3))
	wait_for full listening
	for i in 1 2; do
		bg f$i nsx "$TCPX" client --hold -t 3 $((PORT + 3))
		wait_for f$i connected
	done
	for i in 3 4; do
		bg f$i nsx "$TCPX" client --hold -t 3 $((PORT + 3))
	done
	poll 20 bash -c "ip netns exec $NS ss -tanH state syn-sent | grep -q . || echo gone" \
		>/dev/null || fail "the SYN_SENT clients did not give up"
	settle

	until_same "sockets by state" ss_states prom_states
	# TcpRetransSegs counts the listener's SYN-ACK retransmits too (an
	# ACK that met the full accept queue is dropped and its request
	# retransmits until tcp_synack_retries: so both are read until they
	# agree, not against one reading)
	until_same "retransmits + SYN-ACK retransmits = nstat TcpRetransSegs - TCPRetransFail" \
		retrans_nstat retrans_prom
	prom_eq 'sum(tcpwatch_connections_total{direction="active"})' \
		"$(mib TcpActiveOpens)" "active opens = nstat TcpActiveOpens"
	# TcpAttemptFails counts tcp_done() in SYN_SENT (a reset, or the
	# kernel giving up), not an application's close: here the resets
	prom_eq 'tcpwatch_connections_total{direction="active",result="refused"}' \
		"$(mib TcpAttemptFails)" "refused = nstat TcpAttemptFails"
	prom_eq 'tcpwatch_connections_total{direction="active",result="refused"}' 3 \
		"refused connects"
	prom_eq 'tcpwatch_connections_total{direction="active",result="timeout"}' 2 \
		"connects given up after a SYN retransmit (tcpx -t 3)"
	prom_eq 'tcpwatch_connections_total{direction="passive",result="established"}' \
		"$(mib TcpPassiveOpens)" "passive opens = nstat TcpPassiveOpens"
	prom_eq 'tcpwatch_connect_duration_seconds_count' \
		"$(prom_q 'tcpwatch_connections_total{direction="active",result="established"}')" \
		"connect durations, one per established connect"
	prom_eq 'tcpwatch_transitions_total{from="SYN_SENT",to="ESTABLISHED"}' \
		"$(prom_q 'tcpwatch_connections_total{direction="active",result="established"}')" \
		"SYN_SENT -> ESTABLISHED transitions"
	prom_eq 'tcpwatch_resets_total{direction="received"}' 3 \
		"resets received: the refused connects'"
	until_same "overflows = nstat TcpExtListenOverflows" \
		overflows_nstat overflows_prom
	read -r q max < <(nsx ss -tnH state listening sport = :$((PORT + 3)) |
		awk '{ print $1, $2 }')
	assert_eq "$q $max" "2 1" "ss: the accept queue"
	prom_eq "tcpwatch_listen_queue_length{port=\"$((PORT + 3))\"}" "$q" \
		"accept queue length = ss Recv-Q"
	prom_eq "tcpwatch_listen_queue_limit{port=\"$((PORT + 3))\"}" "$max" \
		"accept queue limit = ss Send-Q"
	# ports of 40000-40999 held towards the TIME_WAIT server: 4 of 1000
	used=$(nsx ss -tanH "dport = :$((PORT + 1)) and sport >= :40000 and sport <= :40999" | wc -l)
	assert_eq "$used" 4 "ss: ports held towards :$((PORT + 1))"
	prom_eq "tcpwatch_ephemeral_ports_used_ratio{dport=\"$((PORT + 1))\"}" \
		"$(awk -v u="$used" 'BEGIN { printf "%g", u / 1000 }')" \
		"ephemeral port ratio towards :$((PORT + 1))"
	# --metrics-netns: distinct local ports of the range in the netns
	ns=$(stat -L -c %i "/run/netns/$NS")
	used=$(nsx ss -tanH "sport >= :40000 and sport <= :40999" |
		awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u | wc -l)
	range=$(awk -v u="$used" 'BEGIN { printf "%g", u / 1000 }')
	prom_eq "tcpwatch_netns_ephemeral_ports_used_ratio{netns=\"$ns\"}" "$range" \
		"distinct ports held in the netns"
	prom_eq "sum(tcpwatch_netns_sockets{netns=\"$ns\"})" \
		"$(nsx ss -tanH | wc -l)" "sockets of the netns"
	# the findings diag lists (accept_queue_overflow at least)
	poll 20 diag accept_queue_overflow >/dev/null ||
		fail "no accept_queue_overflow finding"
	until_same "open findings" diag_counts prom_findings
	assert_ge "$(prom_q 'tcpwatch_findings_opened_total{rule="accept_queue_overflow"}')" 1 \
		"accept_queue_overflow findings opened"
	prom_eq 'tcpwatch_events_lost_total{kind="state"}' 0 "no lost events"

	# the exposition format, as promtool reads it
	scrape > "$DIR/scrape.txt" || fail "scrape"
	promtool check metrics < "$DIR/scrape.txt" > "$DIR/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(head -5 "$DIR/promtool.out")"
	assert_eq "$(cat "$DIR/promtool.out")" "" "promtool check metrics says nothing"
	awk '$1 == "tcpwatch_ring_size_bytes" { s = $2 } $1 == "tcpwatch_ring_used_bytes" { u = $2 }
		END { exit !(s == 8388608 && u != "" && u >= 0 && u <= s) }' "$DIR/scrape.txt" ||
		fail "ring size and fill: $(grep '^tcpwatch_ring_' "$DIR/scrape.txt" | tr '\n' ' ')"
	echo "  time to scrape (series: $(grep -vc '^#' "$DIR/scrape.txt")): $(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$MPORT/metrics") s"
}

# The endpoint's edges: loopback only by default, 404 elsewhere, one
# daemon per port, bad addresses refused before anything is loaded.
test_metrics_endpoint() {
	local code
	metrics_up
	[[ -n $(ss -tlnH "src 127.0.0.1 and sport = :$MPORT") ]] ||
		fail "a bare port must listen on 127.0.0.1 only: $(ss -tlnH "sport = :$MPORT")"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")
	assert_eq "$code" 404 "GET /"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")
	assert_eq "$code" 405 "POST /metrics"
	curl -sfI "http://127.0.0.1:$MPORT/metrics" | grep -qi '^content-type: text/plain; version=0.0.4' ||
		fail "Content-Type is not the 0.0.4 text format"
	# the port is taken: a second daemon says so and exits 1
	"$TCPWATCH" run --source "$SRC" -n --ctl "$DIR/ctl2.sock" -N "$NS" \
		--metrics "$MPORT" > /dev/null 2> "$DIR/second.err" &&
		fail "a second daemon on the same metrics port started"
	grep -q "Address already in use" "$DIR/second.err" ||
		fail "no EADDRINUSE message: $(cat "$DIR/second.err")"
	for a in 0 65536 x 'host:1' '[::1' 1.2.3.4:; do
		"$TCPWATCH" run --metrics "$a" -n 2> "$DIR/bad.err" &&
			fail "--metrics '$a' accepted"
		grep -q -- "--metrics" "$DIR/bad.err" ||
			fail "--metrics '$a': $(cat "$DIR/bad.err")"
	done
	"$TCPWATCH" run --metrics-top 5 -n 2> "$DIR/bad.err" &&
		fail "--metrics-top without --metrics accepted"
	grep -q "need --metrics" "$DIR/bad.err" || fail "$(cat "$DIR/bad.err")"
}

# 100k TIME_WAIT sockets (8 destinations, each within its even local
# ports): a scrape walks the table a chunk a tick. The scrape's time is
# bounded, the loop's share per tick is one chunk, and churn running
# meanwhile loses no event while the control socket keeps answering.
test_metrics_scale_100k() {
	local churn t0 ms i got lost0 lost1 worst n per_tick
	nsx sysctl -qw net.ipv4.ip_local_port_range="1024 60999" \
		net.ipv4.tcp_tw_reuse=0
	churn=$(${CC:-cc} -O2 -D_GNU_SOURCE -o "$DIR/churn" tests/bench/churn.c \
		-lpthread && echo "$DIR/churn") || fail "building churn"
	metrics_up
	nsx "$churn" -t 8 -n 100000 --fin -p 61000 > "$DIR/fill.out" 2>&1 ||
		fail "churn: $(cat "$DIR/fill.out")"
	n=$(nsx ss -tanH state time-wait | wc -l)
	assert_ge "$n" 100000 "ss: TIME_WAIT sockets"
	poll 20 bash -c "curl -s http://127.0.0.1:$MPORT/metrics |
		awk '/^tcpwatch_sockets\\{state=\"TIME_WAIT\"\\}/ && \$2 >= 100000'" \
		>/dev/null || fail "tcpwatch_sockets{TIME_WAIT} never reached 100000"
	# scrapes at 100k, timed
	worst=0
	for i in 1 2 3 4 5; do
		t0=$EPOCHREALTIME
		scrape > "$DIR/scrape.txt" || fail "scrape $i"
		ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
		((ms > worst)) && worst=$ms
	done
	got=$(awk '/^tcpwatch_metrics_collect_seconds / { printf "%.2f", $2 * 1000 }' "$DIR/scrape.txt")
	n=$(awk '/^tcpwatch_metrics_collect_ticks / { print $2 }' "$DIR/scrape.txt")
	per_tick=$(awk -v g="$got" -v n="$n" 'BEGIN { printf "%.2f", g / n }')
	echo "  time to scrape 100k sockets: worst $worst ms of 5; loop: $got ms over $n ticks ($per_tick ms a tick)"
	((worst < 2000 * TW_SLOWDOWN)) || fail "a scrape at 100k took $worst ms"
	awk -v p="$per_tick" -v s="$TW_SLOWDOWN" 'BEGIN { exit !(p < 25 * s) }' ||
		fail "the loop spent $per_tick ms a tick on a snapshot"
	grep -q '^tcpwatch_ephemeral_ports_used_ratio{' "$DIR/scrape.txt" ||
		fail "no ephemeral port ratio at 100k"

	# churn alone, then churn and scrapes: nothing lost, and the
	# control socket (served by the same loop) answers as fast
	stats_under_churn 0
	stats_under_churn 1
	echo "  time to answer stats at 100k under churn: median $STATS_MED0 ms, worst $STATS_WORST0 ms without scrapes; median $STATS_MED1 ms, worst $STATS_WORST1 ms with a scrape every 0.2 s; events lost: $LOST0 and $LOST1; longest sweep $(stat_of '.diag.sweep_us_max') us"
	assert_eq "$LOST1" 0 "events lost while scraping under churn"
	# medians: a single worst case on a shared 2-core machine is the
	# scheduler's (the sweep's walk of 100k entries, churn, curl)
	((STATS_MED1 <= 2 * STATS_MED0 + 200 * TW_SLOWDOWN)) ||
		fail "stats took $STATS_MED1 ms (median) while scraping, $STATS_MED0 ms without"
}

# stats_under_churn SCRAPE(0|1): 6 s of churn, stats 25 times (and a
# scrape alongside each if SCRAPE); STATS_MED$1, STATS_WORST$1, LOST$1
stats_under_churn() {
	local lost0 i t0 ms worst=0 spid= all=()
	lost0=$(stat_of '.lost_total')
	bg load$1 nsx "$DIR/churn" -t 1 -d 6 --rst -p $((62000 + $1))
	for ((i = 0; i < 25; i++)); do
		if (($1)); then
			scrape > /dev/null &
			spid=$!
		fi
		t0=$EPOCHREALTIME
		tw stats > /dev/null || fail "stats under churn"
		ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
		((ms > worst)) && worst=$ms
		all+=("$ms")
		[[ -n $spid ]] && { wait "$spid" || fail "scrape under churn"; }
		sleep 0.2
	done
	local job=JOB_load$1
	wait "${!job}" || fail "churn: $(cat "$DIR/load$1.out")"
	printf -v "STATS_WORST$1" %d "$worst"
	printf -v "STATS_MED$1" %d "$(printf '%s\n' "${all[@]}" | sort -n | sed -n 13p)"
	printf -v "LOST$1" %d $(($(stat_of '.lost_total') - lost0))
}
