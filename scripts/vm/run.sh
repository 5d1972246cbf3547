#!/usr/bin/env bash
# The QEMU VM stage: build the kernel module against Debian's installed
# kernel, boot that kernel under QEMU with this machine's root
# filesystem shared read-only over 9p (like virtme), run
# tests/vm/suite.sh in it (module tests, then the host suites with the
# kmod and the BPF source), and check the VM's dmesg for splats.
#
#   scripts/vm/run.sh [COMMAND]     COMMAND runs in the VM instead of
#                                   tests/vm/suite.sh (from the repo root)
#
# Environment:
#   B                  build directory (default: build)
#   TCPW_VM_KVER       kernel version to boot (default: the newest one
#                      with an image, modules and headers installed)
#   TCPW_VM_KVM=1      use KVM (opt-in; TCG is the default, KVM fails on
#                      some hosts)
#   TCPW_VM_TIMEOUT    seconds before the VM is killed (default 1500)
#   TCPW_VM_MEM / TCPW_VM_SMP   memory in MiB (2048) / CPUs (2)
#
# Prints one "ok NAME" / "FAIL NAME" line per test, ends with
# "N passed, N failed", exits 1 on any failure. Missing QEMU, kernel or
# headers are failures, never skips.
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

	# -- prerequisites: fail loudly --------------------------------------------
	qemu=$(command -v qemu-system-x86_64 || true)
	[[ -n $qemu ]] || fail vm-prereq "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	command -v busybox >/dev/null ||
		fail vm-prereq "busybox not found (apt-get install busybox-static)"

	kver=${TCPW_VM_KVER:-}
	if [[ -z $kver ]]; then
		for img in $(ls /boot/vmlinuz-* 2>/dev/null | sort -rV); do
			v=${img#/boot/vmlinuz-}
			if [[ -f /lib/modules/$v/modules.dep &&
			      -f /lib/modules/$v/build/Makefile ]]; then
				kver=$v
				break
			fi
		done
	fi
	kdir=/lib/modules/$kver/build
	if [[ -z $kver || ! -f /boot/vmlinuz-$kver ]]; then
		fail vm-prereq "no kernel image with modules and headers in /boot (apt-get install linux-image-amd64 linux-headers-amd64)"
	elif [[ ! -f /lib/modules/$kver/modules.dep ]]; then
		fail vm-prereq "no modules for $kver (apt-get install linux-image-$kver)"
	elif [[ ! -f $kdir/Makefile ]]; then
		fail vm-prereq "no headers for $kver in $kdir (apt-get install linux-headers-$kver)"
	fi
	((failed == 0)) || finish
	echo "# kernel $kver, $qemu"

	# -- build: the module for that kernel, the test tools ----------------------
	mkdir -p "$vm"
	if out=$(make -s kmod KDIR="$kdir" 2>&1) && [[ -f kmod/tcpwatch.ko ]]; then
		if grep -q 'warning:' <<<"$out"; then
			fail kmod-build "warnings:"
			grep 'warning:' <<<"$out" | sed 's/^/#   /'
		else
			ok kmod-build
		fi
	else
		fail kmod-build "make kmod KDIR=$kdir failed"
		tail -n 30 <<<"$out" | sed 's/^/#   /'
		finish
	fi
	modinfo_ver=$(/sbin/modinfo -F vermagic kmod/tcpwatch.ko 2>/dev/null | cut -d' ' -f1)
	if [[ $modinfo_ver != "$kver" ]]; then
		fail kmod-vermagic "module built for '$modinfo_ver', VM boots $kver"
		finish
	fi
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
	if out=$(scripts/vm/mkinitramfs.sh "$kver" "$vm/initramfs.cpio.gz" 2>&1); then
		ok vm-initramfs
	else
		fail vm-initramfs "$out"
		finish
	fi

	# -- the command, and the shares ---------------------------------------------
	rm -rf "$vm/out"
	mkdir -p "$vm/out"
	cmd=${1:-tests/vm/suite.sh}
	{
		printf 'export B=%q\n' "$B"
		for v in $(compgen -e | grep -E '^TCPW(ATCH)?_'); do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
		echo "$cmd"
	} >"$vm/out/cmd"

	# The build directory must be visible in the VM at the same path: it is
	# if it is inside the repository, else it gets a share of its own.
	build_share=()
	case $B/ in
	"$repo"/*) ;;
	*) build_share=(-virtfs "local,path=$B,mount_tag=build,security_model=none,multidevs=remap")
	   cmdline_build="tcpw.build=$B" ;;
	esac

	accel=(-accel tcg -cpu max)
	if [[ ${TCPW_VM_KVM:-0} == 1 ]]; then
		accel=(-accel kvm -cpu host)
	fi

	# No oops=panic: a splat is reported by the dmesg check below, and the
	# rest of the suite still runs.
	append="console=ttyS0 panic=-1 loglevel=4 rdinit=/init"
	append+=" tcpw.repo=$repo ${cmdline_build:-}"

	t_boot=$(date +%s.%N)
	timeout --foreground -k 10 "${TCPW_VM_TIMEOUT:-1500}" \
		"$qemu" "${accel[@]}" -smp "${TCPW_VM_SMP:-2}" -m "${TCPW_VM_MEM:-2048}" \
		-nographic -no-reboot -nic none \
		-kernel "/boot/vmlinuz-$kver" -initrd "$vm/initramfs.cpio.gz" \
		-append "$append" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$repo,mount_tag=repo,security_model=none,multidevs=remap" \
		-virtfs "local,path=$vm/out,mount_tag=out,security_model=none" \
		"${build_share[@]}" \
		</dev/null >"$vm/console.log" 2>&1
	qemu_rc=$?
	t_end=$(date +%s.%N)

	# -- results ------------------------------------------------------------------
	if [[ -f $vm/out/boot_seconds ]]; then
		ok vm-boot
		echo "# VM up (init running) $(cat "$vm/out/boot_seconds") s after kernel start"
	else
		fail vm-boot "the VM never reached its test command (qemu exit $qemu_rc)"
		tail -n 40 "$vm/console.log" | sed 's/^/#   /'
		finish
	fi

	if [[ -f $vm/out/results ]]; then
		while IFS= read -r line; do
			case $line in
			"ok "*) echo "$line"; passed=$((passed + 1)) ;;
			"FAIL "*) echo "$line"; failed=$((failed + 1)) ;;
			*) echo "# ${line#\# }" ;;
			esac
		done <"$vm/out/results"
	fi

	status=$(cat "$vm/out/status" 2>/dev/null || echo none)
	if [[ $status == 0 ]]; then
		ok vm-suite-status
	elif [[ $status == none ]]; then
		fail vm-suite-status "no exit status: the VM died or timed out (qemu exit $qemu_rc; $vm/console.log)"
		tail -n 40 "$vm/console.log" | sed 's/^/#   /'
	else
		fail vm-suite-status "the suite exited with $status"
	fi

	# Kernel splats anywhere in the run fail it.
	splat='WARNING:|BUG:|BUG |Oops|kernel BUG|general protection|possible circular locking|inconsistent lock state|possible recursive locking|RCU stall|rcu_sched self-detected|rcu: INFO|KASAN|UBSAN|Call Trace:|soft lockup|hard LOCKUP|refcount_t:|list_add corruption|list_del corruption'
	dmesg_src=$vm/out/dmesg
	[[ -f $dmesg_src ]] || dmesg_src=$vm/console.log
	if hits=$(grep -E "$splat" "$dmesg_src"); then
		fail vm-dmesg-clean "kernel splat in the VM:"
		head -n 40 <<<"$hits" | sed 's/^/#   /'
	else
		ok vm-dmesg-clean
	fi

	boot=$(cat "$vm/out/boot_seconds")
	end=$(cat "$vm/out/end_seconds" 2>/dev/null || echo "$boot")
	echo "# times: boot to test command ${boot}s (in-VM clock), suite $(elapsed "$boot" "$end")s, qemu wall $(elapsed "$t_boot" "$t_end")s, stage total $(elapsed "$t_start" "$t_end")s"
	finish
}

main "$@"
