# SPDX-License-Identifier: GPL-2.0
# The alerting rules (contrib/prometheus/tcpwatch-rules.yml) and the
# Grafana dashboard (contrib/grafana/tcpwatch.json), against promtool and
# a real Prometheus server that scrapes the daemon's --metrics endpoint
# every second and evaluates the rules every second, while the test's
# netns reproduces a pathology for real (the helpers: lib.sh).

RULES=contrib/prometheus/tcpwatch-rules.yml
RULE_TESTS=tests/prometheus/tcpwatch-rules.test.yml
DASHBOARD=contrib/grafana/tcpwatch.json
PORT=8080
PROM= PROM_PID=

# prom_up [TARGET]: Prometheus on a loopback port of its own choosing
# (read back from ss by its pid: no race for a free port), 1 s scrape
# and evaluation, storage in $DIR, the rules loaded, scraping TARGET
# (host:port) as job "tcpwatch". Stopped by its pid (bg) at cleanup.
prom_up() {
	local port
	cat > "$DIR/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	  evaluation_interval: 1s
	rule_files: ['$PWD/$RULES']
	scrape_configs:
	  - job_name: tcpwatch
	    static_configs:
	      - targets: ['${1:-127.0.0.1:1}']
	EOF
	command -v prometheus >/dev/null ||
		fail "prometheus not installed (scripts/install-deps.sh)"
	bg prom prometheus --config.file="$DIR/prometheus.yml" \
		--storage.tsdb.path="$DIR/tsdb" \
		--web.listen-address=127.0.0.1:0 --log.level=warn
	PROM_PID=$JOB_prom
	port=$(poll 30 prom_port) ||
		fail "prometheus did not listen: $(tail -5 "$DIR/prom.out")"
	PROM=http://127.0.0.1:$port
	poll 30 curl -fsS "$PROM/-/ready" >/dev/null ||
		fail "prometheus not ready: $(tail -5 "$DIR/prom.out")"
}

prom_port() {
	ss -Htlnp 'src 127.0.0.1' | grep -F "pid=$PROM_PID," |
		awk '{ sub(/.*:/, "", $4); print $4; exit }'
}

# api PATH [curl args]: a GET of the Prometheus HTTP API, its JSON
api() {
	curl -fsS -G "$PROM/api/v1/$1" "${@:2}"
}

# query PROMQL: the result array of an instant query ([] when empty);
# fails the test when Prometheus rejects the expression.
query() {
	local out
	out=$(curl -sS -G "$PROM/api/v1/query" --data-urlencode "query=$1") ||
		fail "query $1: curl failed"
	jq -e '.status == "success"' <<<"$out" >/dev/null ||
		fail "query $1: $(jq -r '.error // .' <<<"$out")"
	jq -c '.data.result' <<<"$out"
}

# alert NAME [JQ-COND]: the alert of that name /api/v1/alerts lists
# (pending or firing) and that satisfies COND, if any
alert() {
	api alerts | jq -c --arg n "$1" "[.data.alerts[] |
		select(.labels.alertname == \$n) | select(${2:-true})] |
		first // empty"
}

# rules_evaluated: /api/v1/rules once every rule was evaluated without error
rules_evaluated() {
	api rules | jq -c 'select(all(.data.groups[].rules[]; .health == "ok"))'
}

# The rule ids, from the rule table's sources (user/diag/rule_*.c)
rule_ids() {
	sed -nE 's/^\t\.id = "([a-z_]+)",$/\1/p' user/diag/rule_*.c
}

# rule_text ID explain|fix: that rule's words, as `tcpwatch diag` prints
# them (a C string literal without escapes other than JSON's)
rule_text() {
	awk -v id="$1" -v k="$2" '
		$0 ~ "^\t\\.id = \"" id "\",$" { on = 1; next }
		on && $0 ~ "^\t\\." k " = " { sub("^\t\\." k " = ", ""); sub(/,$/, ""); print; exit }
		/^};/ { on = 0 }' user/diag/rule_*.c | jq -r .
}

# promtool's syntax check and unit tests (tests/prometheus/), then the
# rules as Prometheus loaded them: one alert per diagnostic rule (from
# the rule table and Documentation/diagnostics.md), on tcpwatch_findings,
# whose description and fix are that rule's own words; the daemon's
# health alerts; every rule healthy.
test_alerts_rules() {
	local out id ids doc n a
	command -v promtool >/dev/null ||
		fail "promtool not installed (scripts/install-deps.sh: prometheus)"
	out=$(promtool check rules "$RULES" 2>&1) || fail "promtool check rules: $out"
	out=$(promtool test rules "$RULE_TESTS" 2>&1) || fail "promtool test rules: $out"

	ids=$(rule_ids | sort)
	doc=$(grep '^### ' Documentation/diagnostics.md | grep -oE '`[a-z_]+`' |
		tr -d '`' | sort -u)
	assert_eq "$doc" "$ids" "the rules of Documentation/diagnostics.md against user/diag/rule_*.c"
	n=$(wc -l <<<"$ids")
	assert_ge "$n" 11 "diagnostic rules in user/diag/rule_*.c"

	prom_up
	poll 10 rules_evaluated > "$DIR/rules.json" ||
		fail "rules Prometheus did not evaluate: $(api rules | jq -c \
			'[.data.groups[].rules[] | select(.health != "ok") | {name, health, lastError}]')"
	for id in $ids; do
		a=$(jq -c --arg e "tcpwatch_findings{rule=\"$id\"} > 0" \
			'[.data.groups[].rules[] | select(.type == "alerting" and .query == $e)]' \
			"$DIR/rules.json")
		assert_eq "$(jq length <<<"$a")" 1 "alerts on tcpwatch_findings{rule=\"$id\"} > 0"
		assert_eq "$(jq -r '.[0].annotations.description' <<<"$a")" \
			"$(rule_text "$id" explain)" "$id: description, the rule's explain"
		assert_eq "$(jq -r '.[0].annotations.fix' <<<"$a")" \
			"$(rule_text "$id" fix)" "$id: fix, the rule's fix"
		check "$a" '.[0].annotations | (.summary | test("\\{\\{ \\$value \\}\\}")) and
			(.evidence | test("tcpwatch diag"))' "$id: summary and evidence"
	done
	for a in TcpwatchEventsLost TcpwatchOutputDropped TcpwatchDown TcpwatchAbsent; do
		check "$(cat "$DIR/rules.json")" "[.data.groups[].rules[] | select(.name == \"$a\" and
			.labels.severity != null and .annotations.description != null and
			.annotations.fix != null)] | length == 1" "$a with a severity, description and fix"
	done
	n=$(jq '[.data.groups[].rules[]] | length' "$DIR/rules.json")
	assert_eq "$n" "$(($(wc -l <<<"$ids") + 4))" "alerts: one per rule, and the daemon's four"
}

# ---- live: the daemon's --metrics endpoint, scraped by Prometheus ----

# metrics_up [run options]: the daemon watching $NS, its metrics on a
# free loopback port ($INST, the target's instance label), and
# Prometheus scraping it; returns once Prometheus has scraped it.
metrics_up() {
	INST=127.0.0.1:$(free_port)
	tw_start --metrics "$INST" "$@"
	prom_up "$INST"
	poll 20 query_data "up{job=\"tcpwatch\",instance=\"$INST\"} == 1" >/dev/null ||
		fail "Prometheus does not scrape the daemon: $(api targets |
			jq -c '[.data.activeTargets[] | {scrapeUrl, health, lastError}]')"
}

# query_data PROMQL: the result when it holds a sample that is a number
# (not NaN), else nothing
query_data() {
	query "$1" | jq -c 'select(any(.[]; .value[1] != "NaN"))'
}

# leak: a server in $NS that accepts and never closes (nor reads), and
# three clients that send 100 bytes and close: three sockets in
# CLOSE_WAIT (test_diag_close_wait.sh). Sets SPID, the server's pid.
leak() {
	bg srv nsx "$TCPX" server --hold -n 0 $PORT
	wait_for srv listening
	SPID=$(pid_of srv)
	for i in 1 2 3; do
		nsx "$TCPX" client -s 100 $PORT > "$DIR/cli$i.out"
	done
	assert_eq "$(nsx ss -tanH state close-wait | wc -l)" 3 "ss: CLOSE-WAIT"
}

# since T0 WHAT: print the time from T0 (mono) to now
since() {
	awk -v d="$(($(mono) - $1))" -v w="$2" \
		'BEGIN { printf "  time to %s: %.2f s\n", w, d / 1e9 }' >&2
}

no_alert() {	# no_alert NAME: prints "none" while no such alert is listed
	[[ -n $(alert "$1") ]] || echo none
}

no_close_wait() {
	[[ -n $(nsx ss -tanH state close-wait) ]] || echo none
}

# A CLOSE_WAIT leak with close_wait_s=1: the alert fires in
# /api/v1/alerts, with the finding's labels and the rule's words, and
# clears once the leak is fixed (the server closes its sockets: killed);
# then the daemon stops and TcpwatchDown is raised (pending: it fires
# after its 1 minute, which the promtool tests check).
test_alerts_close_wait() {
	local t0 a d
	metrics_up "${WIN[@]}" --threshold close_wait_s=1
	# every family the rules use is in the scrape, with every rule id
	for a in $(api rules | jq -r '.data.groups[].rules[].query' |
		   grep -oE 'tcpwatch_[a-z_]+' | sort -u); do
		[[ -n $(query_data "count($a)") ]] || fail "the rules use $a, which the daemon does not serve"
	done
	assert_eq "$(query 'group by (rule) (tcpwatch_findings)' | jq -r '.[].metric.rule' | sort)" \
		"$(rule_ids | sort)" "the rules of tcpwatch_findings"
	assert_eq "$(query 'tcpwatch_findings{rule="close_wait_leak"}' | jq -c 'map(.value[1])')" \
		'["0","0","0"]' "close_wait_leak findings scraped before the leak (info, warning, critical)"
	[[ -z $(alert TcpwatchCloseWaitLeak) ]] || fail "an alert before any leak: $(alert TcpwatchCloseWaitLeak)"
	t0=$(mono)
	leak
	a=$(poll 30 alert TcpwatchCloseWaitLeak '.state == "firing"') ||
		fail "TcpwatchCloseWaitLeak not firing in 30 s; alerts: $(api alerts | jq -c .data.alerts)"
	since "$t0" "alert firing"
	check "$a" ".labels == {alertname: \"TcpwatchCloseWaitLeak\", instance: \"$INST\",
		job: \"tcpwatch\", rule: \"close_wait_leak\", severity: \"warning\"}" "the alert's labels"
	check "$a" ".annotations.summary == \"$INST: 1 process(es) leave sockets in CLOSE_WAIT: the peer closed, the process never did (warning)\"" \
		"the summary, rendered"
	check "$a" ".annotations.description == $(jq -R . <<<"$(rule_text close_wait_leak explain)")" \
		"the description, the rule's explain"
	# the daemon's own view: the one finding the alert counts
	d=$(diag close_wait_leak ".subject.pid == $SPID")
	[[ -n $d ]] || fail "diag lists no close_wait_leak finding for pid $SPID"
	assert_eq "$(tw diag -j | jq -s 'map(select(.rule == "close_wait_leak")) | length')" 1 \
		"open close_wait_leak findings (the alert's value)"

	t0=$(mono)
	kill "$SPID"
	poll 10 no_close_wait >/dev/null || fail "CLOSE-WAIT sockets left after the server died"
	poll 30 no_alert TcpwatchCloseWaitLeak >/dev/null ||
		fail "TcpwatchCloseWaitLeak still listed 30 s after the fix: $(alert TcpwatchCloseWaitLeak)"
	since "$t0" "alert cleared"
	wait_finding close_wait_leak resolved >/dev/null
	not_listed close_wait_leak "$(ev "$d" .id)"

	[[ -z $(alert TcpwatchDown) ]] || fail "TcpwatchDown while the daemon runs"
	kill -TERM "$DPID"	# tw_cleanup reaps it and checks its status
	a=$(poll 20 alert TcpwatchDown) || fail "no TcpwatchDown 20 s after the daemon stopped"
	check "$a" ".labels.instance == \"$INST\" and .labels.severity == \"critical\" and
		.state == \"pending\"" "TcpwatchDown for this target, pending its 1 minute"
}

# The dashboard's JSON model as Grafana reads it: a Prometheus datasource
# variable that every panel and query uses, unique panel ids, panels on
# the 24-column grid without overlap, every query with a refId and an
# expression, no template variable but the dashboard's and Grafana's.
dashboard_model() {
	local vars
	jq -e . "$DASHBOARD" >/dev/null || fail "$DASHBOARD is not JSON"
	dcheck '(.uid | length > 0) and (.title | length > 0) and
		.schemaVersion >= 36 and (.panels | length > 0)' "uid, title, schemaVersion, panels"
	dcheck '[.templating.list[] | select(.type == "datasource" and
		.query == "prometheus" and .name == "datasource")] | length == 1' \
		"a Prometheus datasource variable named datasource"
	assert_eq "$(jq -r '.panels[] | select(.type != "row") |
		select((.datasource == {type: "prometheus", uid: "${datasource}"} and
		    (.targets | length > 0) and
		    all(.targets[]; .datasource.uid == "${datasource}" and
			(.expr | length > 0) and (.refId | length > 0)) and
		    ([.targets[].refId] | length == (unique | length))) | not) |
		.title' "$DASHBOARD")" "" \
		"panels not all on \${datasource}, or a query without a refId or expression"
	assert_eq "$(jq -r '.panels[].targets[]?.expr | select(test("instance=~\"\\$instance\"") | not)' \
		"$DASHBOARD")" "" "queries not on the hosts chosen (instance=~\"\$instance\")"
	dcheck '[.panels[].id] | length == (unique | length)' "unique panel ids"
	assert_eq "$(jq -c '[.panels[] | {title, g: .gridPos}] | . as $p |
		[range(length) as $i | $p[$i] |
		 select(.g.x < 0 or .g.w <= 0 or .g.h <= 0 or .g.x + .g.w > 24) | .title] +
		[range(length) as $i | range($i + 1; length) as $j |
		 $p[$i].g as $a | $p[$j].g as $b |
		 select($a.x < $b.x + $b.w and $b.x < $a.x + $a.w and
			$a.y < $b.y + $b.h and $b.y < $a.y + $a.h) |
		 "\($p[$i].title) / \($p[$j].title)"]' "$DASHBOARD")" "[]" \
		"panels outside the 24-column grid or overlapping"
	vars=$(jq -r '.panels[].targets[]?.expr, .templating.list[].definition // empty' "$DASHBOARD" |
		grep -oE '\$\{?[A-Za-z_]+' | tr -d '${' | sort -u |
		grep -vxE "$(jq -r '[.templating.list[].name, "__rate_interval", "__interval", "__range"] |
			join("|")' "$DASHBOARD")" || true)
	assert_eq "$vars" "" "variables the dashboard does not define"
}

dcheck() {	# dcheck JQ-COND WHAT: the dashboard satisfies COND
	jq -e "$1" "$DASHBOARD" >/dev/null || fail "$DASHBOARD: $2"
}

# The dashboard against the live Prometheus, during a CLOSE_WAIT leak
# (so that findings are open and the alert fires), after connects and a
# refused connect: every query, its variables substituted as Grafana
# does ($instance the target, regex-escaped; $__rate_interval 1m),
# parses and returns a sample; the $instance variable's query lists the
# target.
test_alerts_dashboard() {
	local e q n=0
	dashboard_model
	metrics_up "${WIN[@]}" --threshold close_wait_s=1
	leak
	nsx "$TCPX" client --loop -n 2 9 > "$DIR/refused.out"
	grep -q '^refused 2$' "$DIR/refused.out" ||
		fail "connects to a closed port: $(cat "$DIR/refused.out")"
	poll 30 alert TcpwatchCloseWaitLeak '.state == "firing"' >/dev/null ||
		fail "TcpwatchCloseWaitLeak not firing in 30 s"

	check "$(api label/instance/values --data-urlencode \
		"match[]=$(jq -r '.templating.list[] | select(.name == "instance") |
			.definition' "$DASHBOARD" | sed -E 's/^label_values\((.*), *instance\)$/\1/')")" \
		".data == [\"$INST\"]" "the \$instance variable's values"
	while IFS= read -r e; do
		q=$(grafana_expr "$e")
		query "$q" >/dev/null	# parses, or the test fails here
		poll 20 query_data "$q" >/dev/null ||
			fail "no data in 20 s for the dashboard's $e (sent as $q): $(query "$q")"
		n=$((n + 1))
	done < <(jq -r '.panels[].targets[]?.expr' "$DASHBOARD")
	assert_ge "$n" 20 "the dashboard's queries"

	# and a few show the scenario: 3 sockets in CLOSE_WAIT, the leak's
	# finding and alert, established and refused connects
	panel_until "Sockets by state" A 'any(.[]; .metric.state == "CLOSE_WAIT" and .value[1] == "3")'
	panel_until "Open findings" A '.[0].value[1] == "1"'
	panel_until "Open findings by rule" A 'map(.metric) == [{rule: "close_wait_leak", severity: "warning"}]'
	panel_until "Firing alerts" A 'any(.[]; .metric.alertname == "TcpwatchCloseWaitLeak")'
	panel_until "New connections per second" A '[.[] | select(.metric.direction == "active" and
		(.metric.result == "established" or .metric.result == "refused") and
		(.value[1] | tonumber) > 0)] | length == 2'
}

# grafana_expr EXPR: the query Grafana sends for this dashboard's EXPR,
# with $instance this test's target (as Grafana's Prometheus data source
# writes a regex value: "\\." for ".") and $__rate_interval 1m
grafana_expr() {
	local q esc
	esc=$(sed 's/[.]/\\\\./g' <<<"$INST")
	q=${1//\$__rate_interval/1m}
	printf '%s\n' "${q//\$instance/"$esc"}"
}

# panel_until TITLE REFID JQ-COND: until the result of that panel's
# query satisfies COND (10 s)
panel_until() {
	local q
	q=$(grafana_expr "$(jq -r --arg t "$1" --arg r "$2" \
		'.panels[] | select(.title == $t) | .targets[] | select(.refId == $r) | .expr' \
		"$DASHBOARD")")
	[[ -n $q ]] || fail "no query $2 in a panel \"$1\""
	poll 10 panel_check "$q" "$3" >/dev/null ||
		fail "panel \"$1\": $3 is false for $q: $(query "$q")"
}

panel_check() {
	query "$1" | jq -c "select($2)"
}
