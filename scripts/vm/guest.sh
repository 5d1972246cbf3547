#!/bin/bash
# PID 1 of the test VM, after the initramfs switched to the host's root
# filesystem (read-only 9p). Finishes the mounts, runs the command the
# host left in the output share, writes back its output, exit status and
# dmesg, then powers off.
repo=$1
out=/run/tcpw-out

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8

mkdir -p /dev/pts /dev/shm
# devtmpfs has no /dev/fd: bash's <(...) needs it.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# The last wait runs from memory: once the power-off has begun, a binary
# read from the 9p root fails (EIO), and PID 1 exiting is a panic.
cp "$(command -v busybox)" /dev/shm/busybox 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname tcpw-vm

read -r up _ </proc/uptime
echo "$up" >"$out/boot_seconds"
echo "tcpw-vm: up after ${up}s, running $out/cmd"

cd "$repo" || exit 1
# The command's output goes to the results file and to the console.
bash "$out/cmd" 2>&1 | tee "$out/results"
rc=${PIPESTATUS[0]}

read -r up _ </proc/uptime
echo "$up" >"$out/end_seconds"
dmesg >"$out/dmesg"
echo "$rc" >"$out/status"
sync
echo "tcpw-vm: done, status $rc; powering off"
echo o >/proc/sysrq-trigger
[[ -x /dev/shm/busybox ]] && exec /dev/shm/busybox sleep 60
sleep 60
