#!/usr/bin/env bash
# Install every Debian package that building, running, testing and
# benchmarking tcpwatch need. Idempotent; silent when all is present.
#
#   scripts/install-deps.sh          build + run + test (incl. QEMU VM)
#   scripts/install-deps.sh --build  build only
#   scripts/install-deps.sh --vm-debug   and what make vmtest-debug needs
set -euo pipefail

build_pkgs=(
	make gcc clang llvm pkg-config
	libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev libmicrohttpd-dev
	libjson-c-dev libncurses-dev
	libsystemd-dev libcap-ng-dev
)
test_pkgs=(
	iproute2 nftables jq procps netcat-openbsd tmux python3 util-linux-extra
	e2fsprogs	# mkfs.ext4: test_output_frozen_disk's loop-mounted disk
	libclang-rt-14-dev
	qemu-system-x86 busybox-static cpio kmod
	linux-image-amd64 linux-headers-amd64
	linux-image-rt-amd64 linux-headers-rt-amd64
	libbpf-tools
	dkms dh-dkms debhelper dpkg-dev build-essential lintian
	systemd man-db logrotate bash-completion
	prometheus curl
)

# make vmtest-debug: a debug kernel from Debian's own source.
debug_pkgs=(
	linux-source-6.1 flex bison bc libssl-dev libelf-dev xz-utils
)

pkgs=("${build_pkgs[@]}")
case ${1:-} in
--build) ;;
--vm-debug) pkgs+=("${test_pkgs[@]}" "${debug_pkgs[@]}") ;;
*) pkgs+=("${test_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	     grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
((${#missing[@]})) || exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run as root (sudo make ...) to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when they were never fetched or an
# install fails for a stale list.
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
	apt-get update -qq
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
