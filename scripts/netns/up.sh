#!/usr/bin/env bash
# up.sh builds the tlsstack test topology, idempotently:
#
#   namespace P-cli  veth P-c  198.18.0.2/24  2001:2:0:1::2/64
#   namespace P-srv  veth P-s  198.18.0.1/24  2001:2:0:1::1/64  (forwarding on)
#   P-cli routes 198.19.0.0/16 and 2001:2:0:2::/64 via P-srv, where
#   tlsstack's TUN device takes them.
#
# Usage: up.sh [--prefix P] [--delay MS] [--jitter MS] [--loss PCT] [--rate MBIT] [--mtu N]
set -euo pipefail

prefix=tls delay= jitter= loss= rate= mtu=
usage() {
	echo "usage: $0 [--prefix P] [--delay MS] [--jitter MS] [--loss PCT] [--rate MBIT] [--mtu N]" >&2
	exit 2
}
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "up.sh: $1 needs a value" >&2; exit 2; }; }
number() { [[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "up.sh: $1: not a number: $2" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) need_value "$@"; prefix=$2 ;;
	--delay) need_value "$@"; number "$1" "$2"; delay=$2 ;;
	--jitter) need_value "$@"; number "$1" "$2"; jitter=$2 ;;
	--loss) need_value "$@"; number "$1" "$2"; loss=$2 ;;
	--rate) need_value "$@"; number "$1" "$2"; rate=$2 ;;
	--mtu) need_value "$@"; number "$1" "$2"; mtu=$2 ;;
	-h|--help) usage ;;
	*) echo "up.sh: unknown option: $1" >&2; usage ;;
	esac
	shift 2
done
[[ $prefix =~ ^[A-Za-z0-9_]{1,8}$ ]] || { echo "up.sh: --prefix must be 1-8 letters or digits: $prefix" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "up.sh: must run as root (needs CAP_NET_ADMIN and CAP_SYS_ADMIN)" >&2; exit 1; }
command -v ip >/dev/null || { echo "up.sh: ip not found: apt-get install -y iproute2" >&2; exit 1; }
if [ -n "$jitter" ] && [ -z "$delay" ]; then
	echo "up.sh: --jitter needs --delay" >&2
	exit 2
fi

cli=$prefix-cli srv=$prefix-srv
for ns in "$cli" "$srv"; do
	ip netns list | grep -qw "^$ns" || ip netns add "$ns"
	ip -n "$ns" link set lo up
done

if ! ip -n "$cli" link show "$prefix-c" >/dev/null 2>&1; then
	# A half-built pair from an earlier run may linger on either side.
	ip -n "$srv" link del "$prefix-s" 2>/dev/null || true
	ip link add "$prefix-c" netns "$cli" type veth peer name "$prefix-s" netns "$srv"
fi

ip netns exec "$srv" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$srv" sysctl -qw net.ipv6.conf.all.forwarding=1
for pair in "$cli $prefix-c 198.18.0.2/24 2001:2:0:1::2/64" "$srv $prefix-s 198.18.0.1/24 2001:2:0:1::1/64"; do
	set -- $pair
	ns=$1 dev=$2
	ip netns exec "$ns" sysctl -qw net.ipv6.conf."$dev".accept_dad=0
	ip -n "$ns" addr replace "$3" dev "$dev"
	ip -n "$ns" -6 addr replace "$4" dev "$dev" nodad
	if [ -n "$mtu" ]; then ip -n "$ns" link set "$dev" mtu "$mtu"; fi
	ip -n "$ns" link set "$dev" up

	# Netem and rate shaping. Deleting first keeps this idempotent, and with
	# no options any earlier shaping is gone. Rate alone uses tbf, which
	# kernels without sch_netem still have.
	ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
	netem=()
	[ -n "$delay" ] && netem+=(delay "${delay}ms")
	[ -n "$jitter" ] && netem+=("${jitter}ms")
	[ -n "$loss" ] && netem+=(loss "${loss}%")
	if [ ${#netem[@]} -gt 0 ]; then
		[ -n "$rate" ] && netem+=(rate "${rate}mbit")
		ip netns exec "$ns" tc qdisc add dev "$dev" root netem "${netem[@]}" || {
			echo "up.sh: tc netem failed on $dev: this kernel may lack sch_netem" \
				"(CONFIG_NET_SCH_NETEM); --rate alone works without it" >&2
			exit 1
		}
	elif [ -n "$rate" ]; then
		ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "${rate}mbit" \
			burst 256kb latency 50ms
	fi
done

ip -n "$cli" route replace 198.19.0.0/16 via 198.18.0.1
ip -n "$cli" -6 route replace 2001:2:0:2::/64 via 2001:2:0:1::1
echo "up.sh: $cli <-> $srv ready (client 198.18.0.2, server 198.18.0.1, stack 198.19.0.0/16)"
