#!/usr/bin/env bash
# Print the kernel messages in FILE... that fail a VM run (warnings,
# oopses, lockdep and KASAN reports, lockups, RCU stalls, hung tasks),
# and exit 0 if there was one, 1 if the logs are clean.
#
#   scripts/vm/splat.sh CONSOLE-LOG [DMESG...]
set -u
splat='WARNING:|BUG:|BUG |Oops|kernel BUG|general protection|Kernel panic|possible circular locking|inconsistent lock state|possible recursive locking|lockdep|RCU stall|rcu.*stall|rcu: INFO|self-detected stall|KASAN|UBSAN|Call Trace:|soft lockup|hard LOCKUP|blocked for more than|hung_task|refcount_t:|list_add corruption|list_del corruption|scheduling while atomic|sleeping function called from invalid context|ODEBUG'
# Not the command line that asks for the detectors, nor the kernel
# echoing their settings at boot (a debug kernel says lockdep is on).
benign='[Cc]ommand line|stall warnings timeout set|RCU lockdep checking is enabled|^\[[ 0-9.]*\] +(soft|hung)[a-z_.]*=[0-9]+$'
cat "$@" 2>/dev/null | grep -aE "$splat" | grep -avE "$benign" | sort -u | grep .
