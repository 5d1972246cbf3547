#!/usr/bin/env bash
# The QEMU VM stage: for each Debian kernel installed with its headers
# (the stock one and the PREEMPT_RT one), build the kernel module against
# it, boot it under QEMU with this machine's root filesystem shared
# read-only over 9p (like virtme), run tests/vm/suite.sh in it (module
# tests, then the host suites with the kmod and the BPF source), and check
# the VM's console and dmesg for splats.
#
#   scripts/vm/run.sh [COMMAND]     COMMAND runs in the VM instead of
#                                   tests/vm/suite.sh (from the repo root)
#
# Environment:
#   B                  build directory (default: build)
#   TCPW_VM_KVERS      kernel versions to boot, space-separated (default:
#                      every /boot/vmlinuz-* with modules and headers)
#   TCPW_VM_TREE       also (or, with TCPW_VM_KVERS=" ", only) boot a
#                      kernel built in this tree (make vmtest-debug)
#   TCPW_VM_KVM=1      use KVM (opt-in; TCG is the default, KVM fails on
#                      some hosts)
#   TCPW_VM_TCG_THREAD single (default) or multi: TCG's threading
#   TCPW_VM_TIMEOUT    seconds before a VM is killed (default 3600)
#   TCPW_VM_MEM / TCPW_VM_SMP   memory in MiB (2048) / CPUs (2)
#   TCPW_VM_APPEND     more kernel command line
#
# Every result line names its kernel: "ok 6.1.0-57-rt-amd64/kmod/dev-mode"
# Ends with "N passed, N failed" and exits 1 on any failure. Missing QEMU,
# kernels or headers are failures, never skips.
set -uo pipefail

passed=0 failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() {
	echo "FAIL $1${2:+: $2}"
	failed=$((failed + 1))
}
finish() {
	echo "$passed passed, $failed failed"
	((failed == 0))
	exit
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# vm_kernel NAME IMAGE KDIR MODS: build the module against KDIR, boot
# IMAGE, run the command, collect its results as NAME/... MODS is the
# kernel version whose /lib/modules gives the initramfs its 9p and virtio
# modules, or "builtin" for a kernel that has them built in.
vm_kernel() {
	local t=$1 image=$2 kdir=$3 mods=$4 kver out st qemu_rc
	local t_boot t_end boot end hits

	if [[ ! -f $image ]]; then
		fail "$t/vm-prereq" "no kernel image $image"
		return
	elif [[ $mods != builtin && ! -f /lib/modules/$mods/modules.dep ]]; then
		fail "$t/vm-prereq" "no modules for $mods (apt-get install linux-image-$mods)"
		return
	elif [[ ! -f $kdir/Makefile ]]; then
		fail "$t/vm-prereq" "no headers in $kdir (apt-get install linux-headers-$t)"
		return
	fi
	kver=$mods	# Debian's headers report the upstream version instead
	[[ $mods == builtin ]] && kver=$(make -s -C "$kdir" kernelrelease 2>/dev/null)
	echo "# kernel $t: $kver, $image"

	# -- the module for this kernel -----------------------------------------
	make -s kmod-clean KDIR="$kdir" >/dev/null 2>&1
	if out=$(make -s kmod KDIR="$kdir" 2>&1) && [[ -f kmod/tcpwatch.ko ]]; then
		if grep -q 'warning:' <<<"$out"; then
			fail "$t/kmod-build" "warnings:"
			grep 'warning:' <<<"$out" | sed 's/^/#   /'
		else
			ok "$t/kmod-build"
		fi
	else
		fail "$t/kmod-build" "make kmod KDIR=$kdir failed"
		tail -n 30 <<<"$out" | sed 's/^/#   /'
		return
	fi
	local modinfo_ver
	modinfo_ver=$(/sbin/modinfo -F vermagic kmod/tcpwatch.ko 2>/dev/null | cut -d' ' -f1)
	if [[ $modinfo_ver != "$kver" ]]; then
		fail "$t/kmod-vermagic" "module built for '$modinfo_ver', VM boots $kver"
		return
	fi
	if out=$(scripts/vm/mkinitramfs.sh "$mods" "$vm/initramfs.cpio.gz" 2>&1); then
		ok "$t/vm-initramfs"
	else
		fail "$t/vm-initramfs" "$out"
		return
	fi

	rm -rf "$vm/out"
	mkdir -p "$vm/out"
	{
		printf 'export B=%q TCPW_KVER=%q\n' "$B" "$kver"
		for v in $(compgen -e | grep -E '^TCPW(ATCH)?_'); do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
		echo "$cmd"
	} >"$vm/out/cmd"

	# No oops=panic: a splat is reported by the check below, and the rest
	# of the suite still runs. But a hang panics at once, with the stacks
	# of every CPU on the console, so it fails the run in seconds instead
	# of at the timeout: a soft lockup after 2 x watchdog_thresh (20) s, a
	# task blocked for hung_task_timeout_secs, an RCU stall after
	# rcu_cpu_stall_timeout. loglevel=5 puts the traces (KERN_WARNING) on
	# the console and keeps pr_info chatter off the slow serial line.
	local append="console=ttyS0 panic=-1 loglevel=5 rdinit=/init"
	append+=" softlockup_panic=1 softlockup_all_cpu_backtrace=1"
	append+=" hung_task_panic=1 sysctl.kernel.hung_task_all_cpu_backtrace=1"
	append+=" sysctl.kernel.hung_task_timeout_secs=${TCPW_VM_HUNG_S:-120}"
	append+=" rcupdate.rcu_cpu_stall_timeout=60 sysctl.kernel.panic_on_rcu_stall=1"
	append+=" tcpw.repo=$repo ${cmdline_build:-} ${TCPW_VM_APPEND:-}"

	t_boot=$(date +%s.%N)
	timeout --foreground -k 10 "${TCPW_VM_TIMEOUT:-3600}" \
		"$qemu" "${accel[@]}" -smp "${TCPW_VM_SMP:-2}" -m "${TCPW_VM_MEM:-2048}" \
		-nographic -no-reboot -nic none \
		-kernel "$image" -initrd "$vm/initramfs.cpio.gz" \
		-append "$append" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$repo,mount_tag=repo,security_model=none,multidevs=remap" \
		-virtfs "local,path=$vm/out,mount_tag=out,security_model=none" \
		"${build_share[@]}" \
		</dev/null >"$vm/console-$t.log" 2>&1
	qemu_rc=$?
	t_end=$(date +%s.%N)

	# -- results ----------------------------------------------------------------
	if [[ -f $vm/out/boot_seconds ]]; then
		ok "$t/vm-boot"
		echo "# $t up (init running) $(cat "$vm/out/boot_seconds") s after kernel start"
	else
		fail "$t/vm-boot" "the VM never reached its test command (qemu exit $qemu_rc)"
		tail -n 40 "$vm/console-$t.log" | sed 's/^/#   /'
		return
	fi

	if [[ -f $vm/out/results ]]; then
		while IFS= read -r line; do
			case $line in
			"ok "*) ok "$t/${line#ok }" ;;
			"FAIL "*) line=${line#FAIL }; fail "$t/${line%%: *}" "${line#*: }" ;;
			*) echo "# ${line#\# }" ;;
			esac
		done <"$vm/out/results"
	fi

	st=$(cat "$vm/out/status" 2>/dev/null || echo none)
	if [[ $st == 0 ]]; then
		ok "$t/vm-suite-status"
	elif [[ $st == none ]]; then
		fail "$t/vm-suite-status" "no exit status: the VM died, hung or timed out (qemu exit $qemu_rc); the last step and the kernel's traces:"
		grep -E '^# (running|cycle)' "$vm/console-$t.log" | tail -n 2 | sed 's/^/#   /'
		grep -v '^# ' "$vm/console-$t.log" | tail -n 60 | sed 's/^/#   /'
	else
		fail "$t/vm-suite-status" "the suite exited with $st"
	fi

	# Kernel splats anywhere in the run fail it.
	# (the console holds what came after the suite's status was written,
	# and a panic's stacks)
	if hits=$(scripts/vm/splat.sh "$vm/console-$t.log" "$vm/out/dmesg"); then
		fail "$t/vm-dmesg-clean" "kernel splat in the VM:"
		head -n 40 <<<"$hits" | sed 's/^/#   /'
	else
		ok "$t/vm-dmesg-clean"
	fi
	cp "$vm/out/results" "$vm/results-$t" 2>/dev/null

	boot=$(cat "$vm/out/boot_seconds")
	end=$(cat "$vm/out/end_seconds" 2>/dev/null || echo "$boot")
	echo "# $t times: boot to test command ${boot}s (in-VM clock), suite $(elapsed "$boot" "$end")s, qemu wall $(elapsed "$t_boot" "$t_end")s"
}

# All in a function: bash has read the whole of it before it runs, so
# editing this file during a run cannot derail the run.
main() {
	cd "$(dirname "$0")/../.." || exit 1
	repo=$PWD
	B=${B:-build}
	mkdir -p "$B"
	B=$(cd "$B" && pwd)
	vm=$B/vm
	t_start=$(date +%s.%N)
	cmd=${1:-tests/vm/suite.sh}

	# -- prerequisites: fail loudly --------------------------------------------
	qemu=$(command -v qemu-system-x86_64 || true)
	[[ -n $qemu ]] || fail vm-prereq "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	command -v busybox >/dev/null ||
		fail vm-prereq "busybox not found (apt-get install busybox-static)"

	kvers=${TCPW_VM_KVERS:-}
	if [[ -z $kvers && -z ${TCPW_VM_TREE:-} ]]; then
		for img in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V); do
			v=${img#/boot/vmlinuz-}
			[[ -f /lib/modules/$v/modules.dep &&
			   -f /lib/modules/$v/build/Makefile ]] && kvers+=" $v"
		done
	fi
	[[ -n ${kvers// /}${TCPW_VM_TREE:-} ]] ||
		fail vm-prereq "no kernel image with modules and headers in /boot (apt-get install linux-image-amd64 linux-headers-amd64 linux-image-rt-amd64 linux-headers-rt-amd64)"
	# CI proves both the stock and the PREEMPT_RT kernel.
	if [[ ${CI:-} == true && -z ${TCPW_VM_KVERS:-}${TCPW_VM_TREE:-} && $kvers != *-rt-* ]]; then
		fail vm-prereq "no PREEMPT_RT kernel (apt-get install linux-image-rt-amd64 linux-headers-rt-amd64)"
	fi
	((failed == 0)) || finish
	echo "# kernels:$kvers; $qemu"

	# The splat check itself: every line of a known bad log is caught,
	# nothing of a clean boot is.
	local bad good
	bad=$(scripts/vm/splat.sh tests/vm/splat/bad.log | wc -l)
	good=$(scripts/vm/splat.sh tests/vm/splat/good.log | wc -l)
	if ((bad == $(wc -l <tests/vm/splat/bad.log) && good == 0)); then
		ok vm-splat-check
	else
		fail vm-splat-check "caught $bad of $(wc -l <tests/vm/splat/bad.log) bad lines, $good of the clean ones"
	fi

	mkdir -p "$vm"
	if out=$(make -s B="$B" "$B/tests/kmod_test" 2>&1); then
		ok vm-tools-build
	else
		fail vm-tools-build "make $B/tests/kmod_test failed"
		tail -n 30 <<<"$out" | sed 's/^/#   /'
		finish
	fi
	# The host suites run the daemon (the sanitized one by default): build
	# both if the suites are there to run.
	if [[ -x tests/run.sh && $# -eq 0 ]]; then
		if out=$(make -s B="$B" "$B/tcpwatch" "$B/san/tcpwatch" 2>&1); then
			ok vm-daemon-build
		else
			fail vm-daemon-build "make $B/tcpwatch failed; the host suites in the VM will fail"
			tail -n 30 <<<"$out" | sed 's/^/#   /'
		fi
	fi

	# The module as DKMS builds it from the installed source for the stock
	# kernel (tests/package/run.sh dkms: private trees, a throwaway signing
	# key): the VM's module tests run on it (tests/vm/suite.sh).
	if [[ $# -eq 0 ]]; then
		if out=$(B="$B" tests/package/run.sh dkms 2>&1) && grep -q '^ok dkms' <<<"$out"; then
			ok "vm-dkms-build ($(cat "$B/dkms/kver"))"
		else
			fail vm-dkms-build "$(grep -E '^(FAIL|SKIP)' <<<"$out" | head -3)"
		fi
	fi

	# The build directory must be visible in the VM at the same path: it is
	# if it is inside the repository, else it gets a share of its own.
	build_share=()
	case $B/ in
	"$repo"/*) ;;
	*) build_share=(-virtfs "local,path=$B,mount_tag=build,security_model=none,multidevs=remap")
	   cmdline_build="tcpw.build=$B" ;;
	esac

	# Single-threaded TCG: with one host thread per vCPU (MTTCG, QEMU's
	# default) QEMU 7.2 can keep running a stale translation of kernel
	# text that another vCPU has just patched (a static key or static
	# call flipped by tracepoint (un)registration, i.e. by every insmod,
	# rmmod and BPF attach); a stale int3 there is "restarted" forever by
	# kprobe_int3_handler() and the vCPU livelocks at one RIP whose
	# memory holds the new instruction. See Documentation/kmod.md.
	accel=(-accel "tcg,thread=${TCPW_VM_TCG_THREAD:-single}" -cpu max)
	if [[ ${TCPW_VM_KVM:-0} == 1 ]]; then
		accel=(-accel kvm -cpu host)
	fi

	for kver in $kvers; do
		vm_kernel "$kver" "/boot/vmlinuz-$kver" "/lib/modules/$kver/build" "$kver"
	done
	# make vmtest-debug: a kernel tree of our own, everything built in.
	if [[ -n ${TCPW_VM_TREE:-} ]]; then
		vm_kernel "debug-$(make -s -C "$TCPW_VM_TREE" kernelversion)" \
			"$TCPW_VM_TREE/arch/x86/boot/bzImage" "$TCPW_VM_TREE" builtin
	fi
	echo "# stage total $(elapsed "$t_start" "$(date +%s.%N)")s"
	finish
}

main "$@"
