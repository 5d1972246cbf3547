#!/usr/bin/env bash
# Build the test VM's initramfs: busybox (static) + the modules that
# mount a 9p root (9p, 9pnet_virtio, virtio_pci and their dependencies
# from modules.dep) + initramfs-init as /init.
#
#   scripts/vm/mkinitramfs.sh KERNEL_VERSION|builtin OUTPUT.cpio.gz
#
# "builtin": a kernel with 9p and virtio built in (make vmtest-debug).
set -euo pipefail

kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver
busybox=$(command -v busybox || true)

die() { echo "mkinitramfs: $*" >&2; exit 1; }
[[ $kver == builtin || -f $moddir/modules.dep ]] || die "no $moddir/modules.dep (install linux-image-$kver)"
[[ -n $busybox ]] || die "no busybox (apt-get install busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	die "$busybox is not static (apt-get install busybox-static)"

stage=$(mktemp -d "${out%/*}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,modules,newroot}
cp "$busybox" "$stage/bin/busybox"
cp "$here/initramfs-init" "$stage/init"
chmod 0755 "$stage/init"
# The kernel opens /dev/console for init before devtmpfs is mounted.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

# Modules in dependency order (modules.dep lists paths relative to
# $moddir, a module's dependencies after the colon).
declare -A seen=()
order=()
add() {
	local path=$1 line dep
	[[ -n ${seen[$path]:-} ]] && return
	seen[$path]=1
	line=$(grep -m1 "^$path:" "$moddir/modules.dep") ||
		die "$path is not in $moddir/modules.dep"
	for dep in ${line#*:}; do
		add "$dep"
	done
	order+=("$path")
}
touch "$stage/modules.order"
[[ $kver == builtin ]] || for m in virtio_pci 9pnet_virtio 9p; do
	path=$(grep -m1 -E "/$m\.ko(\.[gx]z|\.zst)?:" "$moddir/modules.dep" |
	       cut -d: -f1) || true
	if [[ -z $path ]]; then
		# Built in: nothing to load.
		grep -q -E "/$m\.ko$" "$moddir/modules.builtin" ||
			die "module $m not found for $kver"
		continue
	fi
	add "$path"
done
for path in "${order[@]}"; do
	name=${path##*/}
	case $name in
	*.ko) cp "$moddir/$path" "$stage/modules/$name" ;;
	*.ko.xz) xz -dc "$moddir/$path" >"$stage/modules/${name%.xz}"; name=${name%.xz} ;;
	*.ko.gz) gzip -dc "$moddir/$path" >"$stage/modules/${name%.gz}"; name=${name%.gz} ;;
	*.ko.zst) zstd -qdc "$moddir/$path" >"$stage/modules/${name%.zst}"; name=${name%.zst} ;;
	esac
	echo "$name" >>"$stage/modules.order"
done

(cd "$stage" && find . -print0 | "$busybox" cpio -o -H newc -0 2>/dev/null) |
	gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
