#!/usr/bin/env bash
# down.sh removes what up.sh built. It succeeds when nothing is there.
# Usage: down.sh [--prefix P]
set -euo pipefail

prefix=tls
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || { echo "down.sh: --prefix needs a value" >&2; exit 2; }; prefix=$2; shift 2 ;;
	*) echo "down.sh: unknown option: $1 (usage: $0 [--prefix P])" >&2; exit 2 ;;
	esac
done
[[ $prefix =~ ^[A-Za-z0-9_]{1,8}$ ]] || { echo "down.sh: --prefix must be 1-8 letters or digits: $prefix" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "down.sh: must run as root" >&2; exit 1; }

for ns in "$prefix-cli" "$prefix-srv"; do
	if ip netns list | grep -qw "^$ns"; then
		# Processes left in the namespace would keep its devices alive.
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] && kill $pids 2>/dev/null || true
		ip netns del "$ns"
	fi
done
echo "down.sh: $prefix-cli and $prefix-srv removed"
