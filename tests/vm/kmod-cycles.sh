#!/usr/bin/env bash
# Load/unload cycles of the module under connection churn on every core,
# as root inside the test VM. Each cycle loads the module with one of a
# rotation of parameter sets, opens 0-3 readers that read for a random
# time, and races rmmod against their close(); every other cycle also
# loads and unloads with nobody reading. A hang panics the VM (the
# kernel command line has softlockup_panic and hung_task_panic), and the
# step that was running is the last "# cycle" line on the console.
#
#   tests/vm/kmod-cycles.sh [CYCLES]     default TCPW_CYCLES or 100
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
KO=${TCPW_KO:-kmod/tcpwatch.ko}
T=$B/tests/kmod_test
N=${1:-${TCPW_CYCLES:-100}}
name=${TCPW_CYCLES_NAME:-kmod/cycles}
loaded() { grep -q '^tcpwatch ' /proc/modules; }

# Churn on every core: two FIN/RST connection loops per CPU, each in its
# own netns, until killed.
ncpu=$(nproc)
churn=()
for ((c = 0; c < 2 * ncpu; c++)); do
	"$T" churn -t 100000 -p $((7600 + c)) >/dev/null 2>&1 &
	churn+=($!)
done
stop_churn() {
	kill "${churn[@]}" 2>/dev/null
	wait "${churn[@]}" 2>/dev/null
}
trap stop_churn EXIT

params=("sample_ms=10" "sample_ms=0 ring_bytes=4096" "sample_ms=1"
	"sample_ms=1000 flush_ms=1" "sample_ms=10 ring_bytes=65536 wakeup_bytes=144"
	"sample_ms=0 flush_ms=0")
t0=$SECONDS bad=0 readers_total=0 busy_total=0
for ((i = 1; i <= N; i++)); do
	p=${params[i % ${#params[@]}]}
	echo "# cycle $i: insmod $p"
	if ! insmod "$KO" $p; then
		echo "FAIL $name: cycle $i: insmod $p failed"
		bad=1
		break
	fi
	# 0-3 readers, each reading for 0-299 ms after a 0-99 ms start delay.
	readers=()
	for ((r = 0; r < RANDOM % 4; r++)); do
		(sleep "0.0$((RANDOM % 10))"
		 exec "$T" drain -g -t $((RANDOM % 300)) -n "cycle-$i-reader-$r") \
			>"$B/vm/cycle-reader.$r" 2>&1 &
		readers+=($!)
	done
	readers_total=$((readers_total + ${#readers[@]}))
	sleep "0.0$((RANDOM % 10))"
	# rmmod races the readers' close(): EBUSY while one still holds the
	# device, then it must go through.
	echo "# cycle $i: rmmod racing ${#readers[@]} readers"
	tries=0
	until rmmod tcpwatch 2>/dev/null; do
		tries=$((tries + 1))
		if ((tries > 2000)); then
			echo "FAIL $name: cycle $i: rmmod refused 2000 times"
			bad=1
			break 2
		fi
		sleep 0.005
	done
	busy_total=$((busy_total + tries))
	for r in "${readers[@]}"; do
		if ! wait "$r"; then
			echo "FAIL $name: cycle $i: a reader failed:"
			sed 's/^/#   /' "$B"/vm/cycle-reader.*
			bad=1
		fi
	done
	if ((i % 2 == 0)); then
		echo "# cycle $i: idle insmod/rmmod"
		insmod "$KO" && sleep 0.$((RANDOM % 3)) && rmmod tcpwatch || {
			echo "FAIL $name: cycle $i: idle load/unload failed"
			bad=1
			break
		}
	fi
done
stop_churn
trap - EXIT
loaded && { rmmod tcpwatch; bad=1; echo "FAIL $name: still loaded"; }
((bad)) && exit 1
echo "ok $name: $N cycles under churn on $ncpu CPUs ($((2 * ncpu)) churn loops), $readers_total readers, rmmod refused $busy_total times while open, $((SECONDS - t0)) s"
