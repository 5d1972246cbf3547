#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The packaging and service files (issue 14): tests/package/run.sh [FILTER]
#
# Prints "ok NAME" / "FAIL NAME: why" / "SKIP NAME: why" per test. Under
# CI=true nothing is skipped: a missing tool or root is a failure. Needs
# $B/tcpwatch (make all). Everything it makes is under one temp dir, the
# DKMS trees included, so it leaves no state behind and runs twice in a
# row. The DKMS-built module is left at $B/dkms/tcpwatch.ko for the VM.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
filter=${1:-}
bin=$B/tcpwatch
tmp=$(mktemp -d /tmp/tcpw-pkg.XXXXXX)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
status=0

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; status=1; }
skip() {	# NAME WHY: a SKIP, or a FAIL under CI=true
	if [[ ${CI:-} == true ]]; then
		fail "$1" "$2 (CI=true: nothing is skipped)"
	else
		echo "SKIP $1: $2"
	fi
}
want() { [[ -z $filter || $1 == *"$filter"* ]]; }
# need NAME TOOL...: every tool is installed, else skip/fail NAME
need() {
	local t name=$1
	shift
	for t; do
		command -v "$t" >/dev/null && continue
		skip "$name" "$t not installed (scripts/install-deps.sh)"
		return 1
	done
}

[[ -x $bin ]] || { fail setup "$bin missing: make all first"; exit 1; }
version=$(cat VERSION)

# -- what the binary says -----------------------------------------------------
# Commands from `tcpwatch --help`, options from each `COMMAND --help`:
# nothing here is a hard-coded list, so a new option fails the man page
# and completion tests until they document it.
commands=$("$bin" --help | awk '/^commands:/ { on = 1; next }
	on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
help_of() { "$bin" "$1" --help 2>/dev/null; }
# The option part of the usage line and of each option line ("  -s, --source
# bpf|kmod|auto   event source" -> "-s, --source bpf|kmod|auto"); not the
# examples, where "jq -s" is no option of ours.
opt_text() {
	help_of "$1" | awk '/^usage:/ { print; next }
		/^ +-/ { sub(/^ +/, ""); sub(/  .*/, ""); print }'
}
long_opts() { opt_text "$1" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u; }
short_opts() {
	opt_text "$1" | grep -oE -- '(^|[][ |,])-[A-Za-z0-9]([],| ]|$)' |
		grep -oE -- '-[A-Za-z0-9]' | sort -u
}
thresholds() { help_of run | sed -nE 's/^    ([a-z_]+)=.*/\1/p'; }

# make install into a scratch root, shared by several tests
inst=$tmp/inst
install_log=$tmp/install.log
make -s install DESTDIR="$inst" PREFIX=/usr B="$B" >"$install_log" 2>&1
install_rc=$?
installed() { (cd "$inst" && find . -type f -o -type l | sed 's|^\.||' | sort); }

# The FILES sections of the man pages, rendered: the paths they promise.
man_files() {
	local p
	for p in man/tcpwatch.8 man/tcpwatch.4; do
		LC_ALL=C MANWIDTH=200 man -l "$p" 2>/dev/null |
			awk '/^FILES/ { on = 1; next } /^[A-Z]/ { on = 0 }
			     on && /^       \// { print $1 }'
	done | sort -u
}

# -- version ----------------------------------------------------------------
t=version
if want $t; then
	bv=$("$bin" version | awk '{ print $2 }')
	cv=$(dpkg-parsechangelog -S Version 2>/dev/null || sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
	m8=$(sed -n 's/^\.TH .*"tcpwatch \([^"]*\)".*/\1/p' man/tcpwatch.8)
	m4=$(sed -n 's/^\.TH .*"tcpwatch \([^"]*\)".*/\1/p' man/tcpwatch.4)
	kv=$(sed -n 's/^MODULE_VERSION("\(.*\)").*/\1/p' kmod/main.c)
	if [[ $bv == "$version" && ${cv%-*} == "$version" && $m8 == "$version" &&
	      $m4 == "$version" && $kv == "$version" ]] &&
	   grep -q "tcpwatch\\\\-$version/" man/tcpwatch.8; then
		ok $t
	else
		fail $t "VERSION $version, binary $bv, debian/changelog $cv, tcpwatch.8 $m8, tcpwatch.4 $m4, module $kv"
	fi
fi

# -- make install -------------------------------------------------------------
t=install-prefix-usr
if want $t; then
	if ((install_rc != 0)); then
		fail $t "make install failed: $(tail -3 "$install_log")"
	else
		missing=() extra=()
		# Every path the FILES sections name (outside /run, /var, /dev,
		# /sys, /etc/mod*, and the per-kernel module) is installed ...
		while read -r f; do
			case $f in
			/run/* | /var/* | /dev/* | /sys/* | /etc/modules-load.d/* | \
			/etc/modprobe.d/* | /lib/modules/* | *VERSION* | /usr/local/*) continue ;;
			esac
			[[ -e $inst$f ]] || missing+=("$f")
		done < <(man_files)
		# ... and every installed file is in a FILES section, or under a
		# directory there (man pages themselves aside).
		files=$(man_files)
		while read -r f; do
			[[ $f == /usr/share/man/* ]] && continue
			covered=
			while read -r m; do
				[[ $f == "$m" || ($m == */ && $f == "$m"*) ]] && covered=1
			done <<<"$files"
			[[ $covered ]] || extra+=("$f")
		done < <(installed)
		if ((${#missing[@]} || ${#extra[@]})); then
			fail $t "FILES says but not installed: ${missing[*]:-none}; installed but not in FILES: ${extra[*]:-none}"
		else
			ok $t
		fi
	fi
fi

t=install-prefix-local
if want $t; then
	d=$tmp/local
	if ! make -s install DESTDIR="$d" B="$B" >"$tmp/local.log" 2>&1; then
		fail $t "make install failed: $(tail -3 "$tmp/local.log")"
	elif [[ ! -x $d/usr/local/sbin/tcpwatch ]]; then
		fail $t "no /usr/local/sbin/tcpwatch"
	elif ! grep -q '^ExecStart=/usr/local/sbin/tcpwatch run' \
		"$d/usr/local/lib/systemd/system/tcpwatch.service" 2>/dev/null; then
		fail $t "the unit in /usr/local/lib/systemd/system does not start /usr/local/sbin/tcpwatch"
	elif [[ ! -f $d/usr/local/src/tcpwatch-$version/dkms.conf ||
		! -f $d/usr/local/share/man/man8/tcpwatch.8 ]]; then
		fail $t "DKMS source or man page missing under /usr/local"
	else
		ok $t
	fi
fi

# -- systemd unit ---------------------------------------------------------------
t=systemd-verify
if want $t && need $t systemd-analyze; then
	# The installed unit, with ExecStart pointing at the installed binary
	# (verify checks that it exists) and its man:tcpwatch(8) and (4)
	# references resolved in the installed man pages.
	u=$tmp/unit/tcpwatch.service
	mkdir -p "${u%/*}"
	sed "s|^ExecStart=/usr/sbin/tcpwatch|ExecStart=$inst/usr/sbin/tcpwatch|" \
		"$inst/lib/systemd/system/tcpwatch.service" >"$u"
	if out=$(MANPATH=$inst/usr/share/man systemd-analyze verify "$u" 2>&1) && [[ -z $out ]]; then
		ok $t
	else
		fail $t "systemd-analyze verify: ${out:-exit status}"
	fi
fi

t=systemd-hardening
if want $t; then
	u=contrib/systemd/tcpwatch.service
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' $u)
	bad=()
	for k in 'ProtectSystem=strict' 'ProtectHome=yes' 'NoNewPrivileges=yes' \
		'RuntimeDirectory=tcpwatch' 'LogsDirectory=tcpwatch' \
		'EnvironmentFile=-/etc/default/tcpwatch' 'Type=notify' \
		'ExecReload=/bin/kill -HUP $MAINPID'; do
		grep -qx "$k" $u || bad+=("$k")
	done
	grep -q '^ExecStart=/usr/sbin/tcpwatch run \$TCPWATCH_OPTS$' $u || bad+=(ExecStart)
	grep -q '^TCPWATCH_OPTS=' contrib/default/tcpwatch || bad+=("TCPWATCH_OPTS in contrib/default/tcpwatch")
	# Each capability of the bounding set has its reason in the unit
	# and in Documentation/install.md.
	for c in $caps; do
		grep -q "^#.*$c" $u || bad+=("no comment for $c")
		grep -q "$c" Documentation/install.md || bad+=("$c not in Documentation/install.md")
	done
	[[ -n $caps ]] || bad+=(CapabilityBoundingSet)
	# What the daemon keeps after start-up (user/main.c keep_caps) is in
	# the bounding set and documented
	for c in $(sed -n '/^static const int keep_caps/,/};/p' user/main.c | grep -oE 'CAP_[A-Z_]+'); do
		grep -qw "$c" <<<"$caps" || bad+=("kept $c not in the bounding set")
		grep -q "| \`$c\` | .* | yes |" Documentation/install.md || bad+=("kept $c not marked kept in Documentation/install.md")
	done
	if ((${#bad[@]})); then fail $t "${bad[*]}"; else ok $t; fi
fi

# -- logrotate ------------------------------------------------------------------
t=logrotate-syntax
if want $t && need $t logrotate; then
	if out=$(logrotate -d -s "$tmp/lr.state" contrib/logrotate/tcpwatch 2>&1) &&
	   ! grep -qi 'error' <<<"$out"; then
		ok $t
	else
		fail $t "logrotate -d: $(grep -i error <<<"$out" | head -3)"
	fi
fi

t=logrotate-rotate
if want $t && need $t logrotate; then
	# The real file, pointed at a scratch log dir, its postrotate body
	# replaced by a marker: rename, no copytruncate, postrotate once.
	lr=$tmp/lr
	mkdir -p "$lr/log"
	awk -v dir="$lr/log" -v mark="$lr/postrotate" '
		/^\/var\/log\/tcpwatch\// { sub(/\/var\/log\/tcpwatch/, dir) }
		/^[[:space:]]*postrotate/ { print; print "\t\techo x >> " mark; skip = 1; next }
		/^[[:space:]]*endscript/ { skip = 0 }
		!skip { print }' contrib/logrotate/tcpwatch >"$lr/conf"
	chmod 0644 "$lr/conf"
	echo '{"type":"start"}' >"$lr/log/events.ndjson"
	echo '{"type":"start"}' >"$lr/log/other.ndjson"
	if grep -qE '^[[:space:]]*copytruncate' contrib/logrotate/tcpwatch; then
		fail $t "copytruncate loses the records written during the copy"
	elif ! out=$(logrotate -f -s "$lr/state" "$lr/conf" 2>&1); then
		fail $t "logrotate -f: $out"
	elif [[ ! -s $lr/log/events.ndjson.1 || -e $lr/log/events.ndjson ]]; then
		fail $t "events.ndjson was not renamed to events.ndjson.1 (nocreate): $(ls "$lr/log")"
	elif n=$(wc -l <"$lr/postrotate" 2>/dev/null); [[ $n != 1 ]]; then
		fail $t "postrotate ran ${n:-0} times for two files, want once (sharedscripts)"
	else
		ok $t
	fi
fi

# -- man pages --------------------------------------------------------------------
t=man-warnings
if want $t && need $t man; then
	bad=()
	for p in man/tcpwatch.8 man/tcpwatch.4; do
		MANWIDTH=80 man --warnings -l "$p" >/dev/null 2>"$tmp/man.err" || bad+=("$p: exit status")
		[[ -s $tmp/man.err ]] && bad+=("$p: $(head -3 "$tmp/man.err")")
	done
	if ((${#bad[@]})); then fail $t "${bad[*]}"; else ok $t; fi
fi

t=man-options
if want $t && need $t man; then
	page=$(LC_ALL=C MANWIDTH=200 man -l man/tcpwatch.8 2>/dev/null)
	missing=()
	has() { grep -qE -- "(^|[^A-Za-z0-9_-])$1([^A-Za-z0-9_-]|$)" <<<"$page"; }
	[[ -n $commands ]] || missing+=("(no commands in tcpwatch --help)")
	for c in $commands; do
		grep -qE "^       $c( |$)" <<<"$page" || missing+=("command $c")
		for o in $(long_opts "$c") $(short_opts "$c"); do
			[[ $o == --help || $o == -h ]] && continue
			has "$o" || missing+=("$c $o")
		done
	done
	for k in $(thresholds); do
		grep -qE "(^|[^a-z_])$k=" <<<"$page" || missing+=("threshold $k")
	done
	[[ -n $(thresholds) ]] || missing+=("(no thresholds in tcpwatch run --help)")
	if ((${#missing[@]})); then
		fail $t "in --help but not in tcpwatch(8): ${missing[*]}"
	else
		ok $t
	fi
fi

t=man-module
if want $t && need $t man; then
	page=$(LC_ALL=C MANWIDTH=200 man -l man/tcpwatch.4 2>/dev/null)
	missing=()
	for p in $(sed -nE 's/^module_param(_array)?\(([a-z_0-9]+),.*/\2/p' kmod/*.c); do
		grep -qE "^       $p " <<<"$page" || missing+=("parameter $p")
	done
	for i in $(grep -oE 'TCPW_IOC_GET_[A-Z_]+' include/uapi/tcpwatch.h | sort -u); do
		grep -q "$i" <<<"$page" || missing+=("ioctl $i")
	done
	if ((${#missing[@]})); then fail $t "not in tcpwatch(4): ${missing[*]}"; else ok $t; fi
fi

# -- bash completion --------------------------------------------------------------
# complete WORDS...: what the completion offers for the last word
complete_words() {
	bash --norc --noprofile -c '
		source contrib/bash-completion/tcpwatch || exit 1
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_tcpwatch tcpwatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' complete "$@" 2>&1
}
t=completion
if want $t && need $t bash; then
	bad=()
	[[ $(complete_words tcpwatch l) == ls ]] || bad+=("tcpwatch l: $(complete_words tcpwatch l | tr "\n" " ")")
	[[ $(complete_words tcpwatch run --so) == --source ]] ||
		bad+=("tcpwatch run --so: $(complete_words tcpwatch run --so | tr "\n" " ")")
	[[ $(complete_words tcpwatch run --source '' | sort | tr "\n" " ") == 'auto bpf kmod ' ]] ||
		bad+=("tcpwatch run --source: $(complete_words tcpwatch run --source '' | tr "\n" " ")")
	[[ $(complete_words tcpwatch ls -S CLOSE_) == CLOSE_WAIT ]] ||
		bad+=("tcpwatch ls -S CLOSE_: $(complete_words tcpwatch ls -S CLOSE_ | tr "\n" " ")")
	[[ $(complete_words tcpwatch run -T close) == close_wait_s= ]] ||
		bad+=("tcpwatch run -T close: $(complete_words tcpwatch run -T close | tr "\n" " ")")
	# Every command, option and threshold of --help is offered.
	top=$(complete_words tcpwatch '')
	for c in $commands; do
		grep -qx "$c" <<<"$top" || bad+=("command $c")
		offered=$(complete_words tcpwatch "$c" -)
		for o in $(long_opts "$c") $(short_opts "$c"); do
			grep -qx -- "$o" <<<"$offered" || bad+=("$c $o")
		done
	done
	offered=$(complete_words tcpwatch run -T '')
	for k in $(thresholds); do
		grep -qx "$k=" <<<"$offered" || bad+=("threshold $k")
	done
	if ((${#bad[@]})); then fail $t "${bad[*]}"; else ok $t; fi
fi

# -- DKMS ---------------------------------------------------------------------------
# In private trees (--sourcetree: the make install above, --dkmstree,
# --installtree; a throwaway signing key), so the host's /var/lib/dkms,
# /lib/modules and MOK are never touched. depmod runs on the private
# tree (-b) to check that the module resolves from updates/dkms.
# The kernel: $DKMS_KVER, else $TCPW_VM_KVER (the VM's), else the one
# Debian's linux-headers-amd64 points at, else the newest non-RT kernel
# with headers. (Not the RT flavour by default: kmod/dev.c's mutex
# "read_lock" clashes with PREEMPT_RT's read_lock(), so it does not build
# there yet.)
dkms_kver() {
	local v
	v=${DKMS_KVER:-${TCPW_VM_KVER:-}}
	[[ -z $v ]] && v=$(dpkg-query -W -f '${Depends}' "linux-headers-$(dpkg --print-architecture)" 2>/dev/null |
		grep -oE 'linux-headers-[^ ,]+' | head -1 | sed 's/^linux-headers-//')
	if [[ -z $v || ! -f /lib/modules/$v/build/Makefile ]]; then
		v=$(ls -d /lib/modules/*/build/Makefile 2>/dev/null | cut -d/ -f4 |
			grep -v -- '-rt-' | sort -V | tail -1)
	fi
	echo "$v"
}
t=dkms
if want $t && need $t dkms depmod modinfo; then
	kver=$(dkms_kver)
	if [[ $(id -u) -ne 0 ]]; then
		skip $t "needs root"
	elif [[ -z $kver || ! -f /lib/modules/$kver/build/Makefile ]]; then
		skip $t "no kernel headers${kver:+ for $kver} (apt-get install linux-headers-amd64)"
	elif ((install_rc != 0)); then
		fail $t "make install failed"
	else
		dk=$tmp/dkms root=$tmp/dkroot
		mkdir -p "$dk" "$root/lib/modules/$kver"
		ln -s "/lib/modules/$kver/build" "$root/lib/modules/$kver/build"
		cp /lib/modules/"$kver"/modules.{builtin,builtin.modinfo,order} \
			"$root/lib/modules/$kver/" 2>/dev/null
		args=(-m tcpwatch -v "$version" --sourcetree "$inst/usr/src"
		      --dkmstree "$dk" --installtree "$root/lib/modules")
		export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
		ko=$root/lib/modules/$kver/updates/dkms/tcpwatch.ko
		if ! out=$(dkms add "${args[@]}" 2>&1); then
			fail $t "dkms add: $out"
		elif ! out=$(dkms build "${args[@]}" -k "$kver" 2>&1); then
			fail $t "dkms build -k $kver: $(tail -5 <<<"$out"; tail -20 "$dk"/tcpwatch/"$version"/build/make.log 2>/dev/null)"
		elif ! out=$(dkms install --no-depmod "${args[@]}" -k "$kver" 2>&1); then
			fail $t "dkms install -k $kver: $(tail -5 <<<"$out")"
		elif [[ ! -f $ko ]]; then
			fail $t "no $ko after dkms install"
		elif [[ $(modinfo -F vermagic "$ko") != "$kver "* ]]; then
			fail $t "vermagic '$(modinfo -F vermagic "$ko")' is not for $kver"
		elif ! depmod -b "$root" "$kver" 2>"$tmp/depmod.err" ||
		     ! grep -q '^updates/dkms/tcpwatch.ko:' "$root/lib/modules/$kver/modules.dep"; then
			fail $t "depmod does not resolve updates/dkms/tcpwatch.ko: $(head -3 "$tmp/depmod.err")"
		elif [[ $(modinfo -F signer "$ko") != "DKMS module signing key" ]] &&
		     grep -q '^CONFIG_MODULE_SIG=y' "/lib/modules/$kver/build/.config"; then
			fail $t "DKMS did not sign the module (signer '$(modinfo -F signer "$ko")')"
		else
			mkdir -p "$B/dkms"
			cp "$ko" "$B/dkms/tcpwatch.ko"
			echo "$kver" >"$B/dkms/kver"
			if ! out=$(dkms remove "${args[@]}" --all 2>&1); then
				fail $t "dkms remove --all: $out"
			elif [[ -n $(dkms status "${args[@]:2}" 2>/dev/null) || -e $ko ]]; then
				fail $t "still registered after dkms remove --all"
			else
				ok "$t ($kver, $B/dkms/tcpwatch.ko)"
			fi
		fi
		# a failure above must not leave it registered either (private
		# trees: removing them is enough)
		unset mok_signing_key mok_certificate
	fi
fi

# -- Debian packages ------------------------------------------------------------------
t=deb
if want $t && need $t dpkg-buildpackage dh dh_dkms lintian dpkg-deb; then
	before=$(git status --porcelain 2>/dev/null)
	start=$SECONDS
	if ! out=$(make -s deb B="$B" 2>&1); then
		fail deb-build "make deb: $(tail -5 <<<"$out")"
	else
		took=$((SECONDS - start))
		deb=$(ls "$B"/deb/tcpwatch_"$version"_*.deb 2>/dev/null)
		dkmsdeb=$(ls "$B"/deb/tcpwatch-dkms_"$version"_all.deb 2>/dev/null)
		if [[ -z $deb || -z $dkmsdeb ]]; then
			fail deb-build "no tcpwatch or tcpwatch-dkms .deb in $B/deb: $(ls "$B/deb")"
		elif [[ $(git status --porcelain 2>/dev/null) != "$before" ]]; then
			fail deb-build "make deb changed the work tree: $(git status --porcelain | head -3)"
		else
			ok "deb-build (${took}s)"
		fi
	fi
	if [[ -n ${deb:-} && -n ${dkmsdeb:-} ]]; then
		# lintian: no errors (E:); warnings and infos are allowed
		out=$(lintian "$deb" "$dkmsdeb" 2>&1 | grep '^E: ')
		if [[ -z $out ]]; then ok deb-lintian; else fail deb-lintian "$out"; fi

		# every file make install installs is in a package (man pages
		# compressed by dh_compress)
		contents=$( { dpkg-deb -c "$deb"; dpkg-deb -c "$dkmsdeb"; } |
			awk '{ print $6 }' | sed 's|^\.||')
		missing=()
		while read -r f; do
			grep -qxF -e "$f" -e "$f.gz" <<<"$contents" || missing+=("$f")
		done < <(installed)
		if ((${#missing[@]})); then
			fail deb-contents "installed by make install, not in a package: ${missing[*]}"
		else
			ok deb-contents
		fi

		# control: shlibs found the libraries, dh_dkms the dkms hook,
		# dh_installsystemd the unit; /etc files are conffiles
		bad=()
		dep=$(dpkg-deb -f "$deb" Depends)
		for l in libbpf libmnl libc6; do
			grep -q "$l" <<<"$dep" || bad+=("tcpwatch Depends lacks $l: $dep")
		done
		grep -q dkms <<<"$(dpkg-deb -f "$dkmsdeb" Depends)" || bad+=("tcpwatch-dkms does not depend on dkms")
		dpkg-deb -e "$dkmsdeb" "$tmp/ctl-dkms"
		grep -q '^DKMS_NAME=tcpwatch$' "$tmp/ctl-dkms/postinst" 2>/dev/null &&
		grep -q "^DKMS_VERSION=$version\$" "$tmp/ctl-dkms/postinst" &&
		grep -q 'dkms/common.postinst' "$tmp/ctl-dkms/postinst" ||
			bad+=("tcpwatch-dkms postinst does not run dkms")
		dpkg-deb -e "$deb" "$tmp/ctl"
		grep -q 'tcpwatch.service' "$tmp/ctl/postinst" 2>/dev/null || bad+=("tcpwatch postinst does not handle the unit")
		for c in /etc/default/tcpwatch /etc/logrotate.d/tcpwatch; do
			grep -qx "$c" "$tmp/ctl/conffiles" 2>/dev/null || bad+=("$c not a conffile")
		done
		if ((${#bad[@]})); then fail deb-control "${bad[*]}"; else ok deb-control; fi

		# unpacked into a scratch root (dpkg --root --unpack runs only
		# a preinst, chrooted, and there is none):
		# the files are where the FILES sections say
		r=$tmp/root
		mkdir -p "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/info"
		: >"$r/var/lib/dpkg/status"
		if [[ -e $tmp/ctl/preinst || -e $tmp/ctl-dkms/preinst ]]; then
			fail deb-unpack "a preinst would run chrooted in the scratch root"
		elif ! out=$(dpkg --root="$r" --force-depends --force-not-root \
				--unpack "$deb" "$dkmsdeb" 2>&1); then
			fail deb-unpack "dpkg --root --unpack: $(tail -3 <<<"$out")"
		else
			missing=()
			while read -r f; do
				case $f in
				/run/* | /var/* | /dev/* | /sys/* | /etc/modules-load.d/* | \
				/etc/modprobe.d/* | /lib/modules/* | *VERSION* | /usr/local/*) continue ;;
				esac
				# conffiles stay .dpkg-new until --configure,
				# which would run the postinst
				[[ -e $r$f || ($f == /etc/* && -e $r$f.dpkg-new) ]] ||
					missing+=("$f")
			done < <(man_files)
			for f in /usr/share/man/man8/tcpwatch.8.gz /usr/share/man/man4/tcpwatch.4.gz; do
				[[ -e $r$f ]] || missing+=("$f")
			done
			if ((${#missing[@]})); then
				fail deb-unpack "not where the man page says: ${missing[*]}"
			else
				ok deb-unpack
			fi
		fi
	fi
fi

exit $status
