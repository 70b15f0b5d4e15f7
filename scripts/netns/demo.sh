#!/usr/bin/env bash
# demo.sh shows the whole path: a TLS endpoint on tlsstack's userspace stack
# behind a TUN device, reached by curl and openssl from another namespace.
#
# It builds tlsstack, brings up the topology (up.sh), starts
# `tlsstack serve` in the server namespace with its self-signed certificate
# and the http responder, then from the client namespace: curl over
# HTTP/1.1 and h2, IPv4 and IPv6; openssl s_client; 64 MiB down and up with
# SHA-256 checked at both ends. Everything is torn down on exit, also on
# failure.
#
# Usage: demo.sh [--prefix P] [--size MIB]
set -euo pipefail

prefix=tls size_mib=64
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
	--size) size_mib=${2:?--size needs a value}; shift 2 ;;
	*) echo "demo.sh: unknown option: $1 (usage: $0 [--prefix P] [--size MIB])" >&2; exit 2 ;;
	esac
done
[[ $size_mib =~ ^[1-9][0-9]{0,4}$ ]] || { echo "demo.sh: --size: want 1 to 99999 MiB" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# Prerequisites, each with what to install.
missing=()
[ "$(id -u)" = 0 ] || { echo "demo.sh: must run as root (namespaces and a TUN device need CAP_NET_ADMIN); try: sudo $0" >&2; exit 1; }
for tool in ip:iproute2 curl:curl openssl:openssl sha256sum:coreutils go:golang; do
	command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "demo.sh: missing tools; install them with: apt-get install -y ${missing[*]}" >&2
	echo "         (Go 1.26 or newer from go.dev if the distribution's is older)" >&2
	exit 1
fi
[ -c /dev/net/tun ] || { echo "demo.sh: /dev/net/tun is missing: the kernel needs the tun driver" >&2; exit 1; }
curl --version | grep -qw HTTP2 || echo "demo.sh: note: this curl lacks HTTP/2; the h2 steps will fail" >&2

work=$(mktemp -d /tmp/tlsstack-demo.XXXXXX)
srv_pid=
cleanup() {
	status=$?
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -INT "$srv_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$srv_pid" 2>/dev/null || true
	fi
	"$here/down.sh" --prefix "$prefix" >/dev/null 2>&1 || true
	if [ $status -ne 0 ]; then
		echo "demo.sh: FAILED (status $status); server log:" >&2
		sed 's/^/  | /' "$work/server.log" >&2 2>/dev/null || true
	fi
	rm -rf "$work"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
cli() { ip netns exec "$prefix-cli" "$@"; }

step "build"
(cd "$top" && go build -o "$work/tlsstack" ./cmd/tlsstack)
"$work/tlsstack" version

step "topology"
"$here/down.sh" --prefix "$prefix" >/dev/null
"$here/up.sh" --prefix "$prefix"

step "server: tlsstack serve in $prefix-srv on TUN tls0, 198.19.0.1 and 2001:2:0:2::1, port 443"
ip netns exec "$prefix-srv" "$work/tlsstack" serve --tun tls0 \
	--addr 198.19.0.1/24 --addr 2001:2:0:2::1/64 --listen 443 >"$work/server.log" 2>&1 &
srv_pid=$!
for _ in $(seq 100); do
	grep -q 'msg=serving' "$work/server.log" && break
	kill -0 "$srv_pid" 2>/dev/null || { echo "demo.sh: the server exited" >&2; exit 1; }
	sleep 0.1
done
grep -q 'msg=serving' "$work/server.log" || { echo "demo.sh: the server did not start in 10 s" >&2; exit 1; }

step "curl: HTTP/1.1 and h2, IPv4 and IPv6"
for url in https://198.19.0.1/ 'https://[2001:2:0:2::1]/'; do
	for v in --http1.1 --http2; do
		printf '%-30s %-9s ' "$url" "$v"
		cli curl -sS -k --max-time 10 "$v" "$url"
	done
done

step "openssl s_client"
for addr in 198.19.0.1:443 '[2001:2:0:2::1]:443'; do
	cli openssl s_client -connect "$addr" -servername localhost -alpn h2,http/1.1 \
		</dev/null >"$work/s_client.txt" 2>&1 || { cat "$work/s_client.txt" >&2; exit 1; }
	proto=$(sed -n 's/^ *Protocol *: *//p' "$work/s_client.txt" | head -1)
	cipher=$(sed -n 's/^ *Cipher *: *//p' "$work/s_client.txt" | head -1)
	alpn=$(sed -n 's/^ALPN protocol: *//p' "$work/s_client.txt" | head -1)
	printf '%-22s protocol=%s cipher=%s alpn=%s\n' "$addr" "$proto" "$cipher" "$alpn"
	[ -n "$proto" ] && [ -n "$cipher" ] || { echo "demo.sh: s_client found no session" >&2; exit 1; }
done

bytes=$((size_mib * 1024 * 1024))
step "download $size_mib MiB over TLS (HTTP/1.1)"
down_speed=$(cli curl -sS -k --http1.1 --max-time 300 -o "$work/down.bin" \
	-w '%{speed_download}' "https://198.19.0.1/bytes/$bytes?sha256=1")
got=$(sha256sum "$work/down.bin" | cut -d' ' -f1)
for _ in $(seq 20); do grep -q "msg=\"bytes sent\".*bytes=$bytes " "$work/server.log" && break; sleep 0.1; done
sent=$(grep "msg=\"bytes sent\".*bytes=$bytes " "$work/server.log" | tail -1 | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p')
echo "server sent  sha256=$sent"
echo "client got   sha256=$got"
[ -n "$got" ] && [ "$got" = "$sent" ] || { echo "demo.sh: download checksum mismatch" >&2; exit 1; }

step "upload $size_mib MiB over TLS (HTTP/1.1)"
head -c "$bytes" /dev/urandom >"$work/up.bin"
want=$(sha256sum "$work/up.bin" | cut -d' ' -f1)
up_out=$(cli curl -sS -k --http1.1 --max-time 300 --data-binary @"$work/up.bin" \
	-H 'Content-Type: application/octet-stream' -w '\n%{speed_upload}' 'https://198.19.0.1/upload?sha256=1')
up_speed=$(tail -1 <<<"$up_out")
recv=$(head -1 <<<"$up_out" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
echo "client sent  sha256=$want"
echo "server got   sha256=$recv"
[ "$want" = "$recv" ] || { echo "demo.sh: upload checksum mismatch" >&2; exit 1; }

mbit() { awk -v b="$1" 'BEGIN { printf "%.0f Mbit/s", b * 8 / 1e6 }'; }
step "summary"
echo "path       client ($prefix-cli, kernel TCP) -> veth -> TUN tls0 -> gVisor TCP -> TLS (tlsstack)"
echo "protocol   $proto"
echo "cipher     $cipher"
echo "alpn       $alpn"
echo "download   $size_mib MiB  $(mbit "$down_speed")  sha256 match"
echo "upload     $size_mib MiB  $(mbit "$up_speed")  sha256 match"
echo "demo.sh: OK"
