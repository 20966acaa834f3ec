#!/usr/bin/env bash
# Emulated WAN link between two network namespaces on this machine.
#
#   integration/wan/netns.sh up       # create (or re-create) the link
#   integration/wan/netns.sh check    # ping RTT across the link
#   integration/wan/netns.sh status
#   integration/wan/netns.sh down     # remove everything `up` created
#
# Layout: namespaces s3m-a and s3m-b, joined by one veth pair
# (s3m-va in s3m-a = 10.77.0.1/24, s3m-vb in s3m-b = 10.77.0.2/24). The
# addresses exist only inside these namespaces; nothing is added to the
# host's own network namespace, and no traffic leaves the machine.
#
# Each direction is shaped like a real link, serialisation then propagation:
#   * rate:  tc tbf on the sender's veth egress (WAN_RATE, default 200mbit)
#   * delay: on the receiver, iptables mangle/PREROUTING sends the packets
#            arriving on the veth to an NFQUEUE served by the `delay` program
#            (integration/wan/delay), which holds each packet for WAN_DELAY
#            (default 20ms) and releases it in order. The kernel has no
#            sch_netem, hence user space.
# So the round-trip time is about 2 x WAN_DELAY.
#
# Why the receiver side: a packet held on the sender's egress is still
# charged to its TCP socket, and TCP Small Queues then allow only ~1 ms of
# data in flight below the socket, which caps a 40 ms link at a few Mbit/s.
# Once a packet has crossed the veth it belongs to no socket.
# Consequence for ping: it reports the kernel's receive timestamp, taken
# before PREROUTING, so plain `ping` shows only one delay; `ping -U` (user
# to user time, used by `check`) shows the true round trip.
#
# Environment (all optional):
#   WAN_RATE=200mbit   WAN_DELAY=20ms   (0 or 0ms: no delay, no NFQUEUE)
#   WAN_BURST=64kb     WAN_LIMIT_LATENCY=100ms   (tbf burst and queue size)
#   WAN_QUEUE=77       NFQUEUE number used in both namespaces
#   WAN_STATE=/tmp/s3m-wan   pid files and logs
#   S3MESH_CACHE=$HOME/.cache/s3mesh   where the delay binary is built
#
# Exit codes: 0 ok; 3 network namespaces or NFQUEUE are unavailable here
# (callers such as bench.sh treat 3 as "skip"); anything else is an error.
set -euo pipefail

NS_A=s3m-a
NS_B=s3m-b
DEV_A=s3m-va
DEV_B=s3m-vb
IP_A=10.77.0.1
IP_B=10.77.0.2
WAN_RATE=${WAN_RATE:-200mbit}
WAN_DELAY=${WAN_DELAY:-20ms}
WAN_BURST=${WAN_BURST:-64kb}
WAN_LIMIT_LATENCY=${WAN_LIMIT_LATENCY:-100ms}
WAN_QUEUE=${WAN_QUEUE:-77}
WAN_STATE=${WAN_STATE:-/tmp/s3m-wan}
CACHE=${S3MESH_CACHE:-$HOME/.cache/s3mesh}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DELAY_BIN="$CACHE/s3m-delay"

log() { echo "netns: $*" >&2; }
unavailable() { log "unavailable: $*"; exit 3; }

delay_enabled() {
	case "$WAN_DELAY" in 0 | 0ms | 0s | 0us | "") return 1 ;; esac
	return 0
}

# Go duration for the delay program: tc-style "20ms" is already valid; a
# bare number is taken as milliseconds.
go_delay() {
	if [[ "$WAN_DELAY" =~ ^[0-9]+$ ]]; then echo "${WAN_DELAY}ms"; else echo "$WAN_DELAY"; fi
}

need_root() {
	[[ $(id -u) -eq 0 ]] || unavailable "must run as root (network namespaces, tc, iptables)"
}

# iptables: prefer the legacy (xtables) backend. The nft backend may turn
# NFQUEUE into nftables' native `queue` expression, which needs
# CONFIG_NFT_QUEUE; the xtables NFQUEUE target is the widely available one.
# apt_install PKG: idempotent best-effort install (Debian/Ubuntu).
apt_install() {
	command -v apt-get >/dev/null || return 0
	log "installing $1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; } ||
		true
}

IPT=""
find_iptables() {
	if ! command -v iptables-legacy >/dev/null && ! command -v iptables >/dev/null; then
		apt_install iptables
	fi
	if command -v iptables-legacy >/dev/null; then
		IPT=iptables-legacy
	elif command -v iptables >/dev/null; then
		IPT=iptables
	else
		unavailable "iptables is not installed"
	fi
}

build_delay() {
	local src="$HERE/delay/main.go"
	if [[ -x "$DELAY_BIN" && "$DELAY_BIN" -nt "$src" ]]; then return 0; fi
	command -v go >/dev/null || unavailable "go is needed to build the delay program"
	mkdir -p "$CACHE"
	log "building delay program"
	(cd "$REPO" && go build -o "$DELAY_BIN.tmp" ./integration/wan/delay) && mv "$DELAY_BIN.tmp" "$DELAY_BIN"
}

stop_delay() {
	local pidf=$1 pid
	[[ -f "$pidf" ]] || return 0
	pid=$(cat "$pidf")
	# Only signal the process this script started (checked by its command line).
	if [[ -n "$pid" ]] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "s3m-delay"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidf"
}

start_delay() {
	local ns=$1
	local pidf="$WAN_STATE/delay-$ns.pid" logf="$WAN_STATE/delay-$ns.log"
	stop_delay "$pidf"
	: >"$logf"
	ip netns exec "$ns" nice -n -10 "$DELAY_BIN" -queue "$WAN_QUEUE" -delay "$(go_delay)" >>"$logf" 2>&1 </dev/null &
	echo $! >"$pidf"
	for _ in $(seq 50); do
		if grep -q "bound" "$logf"; then return 0; fi
		kill -0 "$(cat "$pidf")" 2>/dev/null || break
		sleep 0.1
	done
	cat "$logf" >&2
	return 1
}

down() {
	stop_delay "$WAN_STATE/delay-$NS_A.pid"
	stop_delay "$WAN_STATE/delay-$NS_B.pid"
	# Deleting a namespace removes its veth end, qdiscs and iptables rules.
	for ns in "$NS_A" "$NS_B"; do
		if ip netns list 2>/dev/null | grep -qw "^$ns"; then ip netns del "$ns"; fi
	done
}

setup_ns() {
	local ns=$1 dev=$2 addr=$3
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true
	ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf \
		rate "$WAN_RATE" burst "$WAN_BURST" latency "$WAN_LIMIT_LATENCY"
	if delay_enabled; then
		ip netns exec "$ns" "$IPT" -t mangle -A PREROUTING -i "$dev" \
			-j NFQUEUE --queue-num "$WAN_QUEUE"
	fi
}

up() {
	need_root
	command -v ip >/dev/null || unavailable "iproute2 (ip) is not installed"
	command -v tc >/dev/null || unavailable "tc is not installed"
	command -v ping >/dev/null || apt_install iputils-ping
	mkdir -p "$WAN_STATE"
	down
	# Probe: can this sandbox create network namespaces at all?
	ip netns add "$NS_A" 2>/dev/null || unavailable "cannot create network namespaces"
	ip netns add "$NS_B"
	ip link add "$DEV_A" netns "$NS_A" type veth peer name "$DEV_B" netns "$NS_B" ||
		{ down; unavailable "cannot create a veth pair"; }
	if delay_enabled; then
		find_iptables
		build_delay
	fi
	setup_ns "$NS_A" "$DEV_A" "$IP_A" || { down; unavailable "cannot configure the link (tc tbf / iptables NFQUEUE)"; }
	setup_ns "$NS_B" "$DEV_B" "$IP_B" || { down; unavailable "cannot configure the link (tc tbf / iptables NFQUEUE)"; }
	if delay_enabled; then
		if ! start_delay "$NS_A" || ! start_delay "$NS_B"; then down; unavailable "cannot bind an NFQUEUE"; fi
	fi
	log "up: $NS_A($IP_A) <-> $NS_B($IP_B), rate $WAN_RATE each way, delay ${WAN_DELAY} each way"
}

check() {
	local out
	out=$(ip netns exec "$NS_A" ping -U -c 5 -i 0.2 -W 2 "$IP_B") || { echo "$out"; return 1; }
	echo "$out" | tail -n 2
}

status() {
	for ns in "$NS_A" "$NS_B"; do
		echo "== $ns"
		ip -n "$ns" -br addr 2>/dev/null || { echo "(absent)"; continue; }
		ip netns exec "$ns" tc qdisc show 2>/dev/null | grep -v noqueue || true
		if [[ -n "$IPT" ]] || command -v iptables-legacy >/dev/null || command -v iptables >/dev/null; then
			[[ -n "$IPT" ]] || IPT=$(command -v iptables-legacy || command -v iptables)
			ip netns exec "$ns" "$IPT" -t mangle -S PREROUTING 2>/dev/null | grep NFQUEUE || true
		fi
		local pidf="$WAN_STATE/delay-$ns.pid"
		if [[ -f "$pidf" ]] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
			echo "delay pid $(cat "$pidf")"
		fi
	done
}

case "${1:-}" in
up) up ;;
down) need_root; down; log "down" ;;
check) check ;;
status) status ;;
*) echo "usage: $0 up|down|check|status" >&2; exit 2 ;;
esac
