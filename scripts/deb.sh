#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make deb: the tcpwatch and tcpwatch-dkms packages, in $B/deb.
#
# dpkg-buildpackage writes its results to the parent of the source tree
# and its own files under debian/; building from a copy in $B/deb/tcpwatch
# keeps both out of the work tree. The copy holds the files git knows
# (committed or not, ignored ones left out), or everything but $B when
# this is not a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
out=$B/deb
src=$out/tcpwatch

rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z -c -o --exclude-standard |
		while IFS= read -r -d '' f; do
			[[ -e $f ]] && printf '%s\0' "$f"	# deleted, not committed
		done |
		tar --null -T - -cf - | tar -C "$src" -xf -
else
	tar --exclude="./${B#./}" -cf - . | tar -C "$src" -xf -
fi

log=$out/build.log
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "make deb: dpkg-buildpackage failed; the whole log is $log" >&2
	exit 1
fi
rm -rf "$src"
ls "$out"/*.deb
