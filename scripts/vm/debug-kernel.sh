#!/usr/bin/env bash
# Build a debug kernel for `make vmtest-debug` from Debian's
# linux-source-6.1: x86_64_defconfig plus what the test VM needs (9p
# root, virtio, netns, modules) and the checkers a module under load
# wants: lockdep, RCU and atomic-sleep debugging, KASAN, debug objects,
# the lockup and hung-task detectors. Everything the VM needs is built
# in, so the initramfs needs no modules. Cached in $B/linux-debug: a
# rebuild only recompiles what changed.
#
#   scripts/vm/debug-kernel.sh      prints the tree's path when done
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
mkdir -p "$B"
B=$(cd "$B" && pwd)
src=/usr/src/linux-source-6.1.tar.xz
tree=$B/linux-debug

[[ -f $src ]] || { echo "debug-kernel: no $src (apt-get install linux-source-6.1)" >&2; exit 1; }
if [[ ! -f $tree/Makefile ]]; then
	mkdir -p "$tree"
	tar -xf "$src" -C "$tree" --strip-components=1
fi
cd "$tree"
[[ -f .config ]] || make -s x86_64_defconfig
o=(
# the test VM: 9p root, virtio, devtmpfs, namespaces, cgroup2
-e NET_9P -e NET_9P_VIRTIO -e 9P_FS -e 9P_FS_POSIX_ACL
-e VIRTIO -e VIRTIO_PCI -e DEVTMPFS -e DEVTMPFS_MOUNT -e TMPFS
-e NAMESPACES -e NET_NS -e CGROUPS -e BLK_DEV_INITRD
-e INET_DIAG -e INET_TCP_DIAG
-e IPV6 -e MODULES -e MODULE_UNLOAD -e MODULE_FORCE_UNLOAD
-d MODULE_SIG_FORCE -e MAGIC_SYSRQ -e SERIAL_8250_CONSOLE
-e FTRACE -e ENABLE_DEFAULT_TRACERS -e TRACEPOINTS -e EVENT_TRACING
-e PREEMPT_DYNAMIC -e PREEMPT_VOLUNTARY
# the checkers
-e DEBUG_KERNEL -e PROVE_LOCKING -e DEBUG_LOCKDEP -e PROVE_RCU
-e DEBUG_ATOMIC_SLEEP -e DEBUG_PREEMPT -e DEBUG_LIST
-e DEBUG_OBJECTS -e DEBUG_OBJECTS_TIMERS -e DEBUG_OBJECTS_WORK
-e DEBUG_OBJECTS_RCU_HEAD -e DEBUG_OBJECTS_FREE
-e KASAN -e KASAN_GENERIC -e KASAN_OUTLINE -e KASAN_VMALLOC
-e SOFTLOCKUP_DETECTOR -e DETECT_HUNG_TASK -e WQ_WATCHDOG
-e RCU_CPU_STALL_CPUTIME -e DEBUG_INFO_NONE -d DEBUG_INFO_BTF
)
# Idempotent: an unchanged .config rebuilds nothing.
scripts/config "${o[@]}"
make -s olddefconfig
nice -n 10 make -s -j"$(nproc)" bzImage modules_prepare >build.log 2>&1 ||
	{ tail -n 30 build.log >&2; exit 1; }
# modules_prepare leaves no Module.symvers: build it from vmlinux so
# out-of-tree modules link (make modules would build every module).
[[ -f Module.symvers ]] || nice -n 10 make -s -j"$(nproc)" modules >>build.log 2>&1 ||
	{ tail -n 30 build.log >&2; exit 1; }
echo "$tree"
