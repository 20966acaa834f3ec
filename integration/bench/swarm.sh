#!/usr/bin/env bash
# Distribution benchmark: one origin and N offices on an emulated WAN, all on
# this machine, as root.
#
#   sudo integration/bench/swarm.sh
#   SWARM_N=4 SWARM_SIZE_MIB=64 sudo -E integration/bench/swarm.sh
#   SWARM_ORIGIN_UP=1000mbit sudo -E integration/bench/swarm.sh     # fast origin
#   sudo integration/bench/swarm.sh clean    # remove what a killed or kept run left
#
# Layout: a switch namespace holding a bridge (br0), and one namespace per
# node (origin, office1..officeN), each joined to the bridge by a veth pair:
# s3m0 in the node's namespace (10.79.0.1 = origin, 10.79.0.(i+1) = office i)
# and p-<node> in the switch namespace. Nothing is added to the host's own
# network namespace and no traffic leaves the machine. Every namespace is
# named s3msw-<pid of this script>-<node> (switch: -sw).
#
# Each node's link, like an office's internet access:
#   * upload:   tc tbf on s3m0 egress (the node's upload rate)
#   * download: tc tbf on p-<node> egress, in the switch namespace
#   * delay:    RTT/2 on every packet a node receives, so any two nodes see
#               the round trip SWARM_RTT. With sch_netem (probed once) a netem
#               qdisc under the download tbf; without it (this kernel) the
#               NFQUEUE program of integration/wan/delay, one per node
#               namespace, on s3m0's ingress (iptables mangle/PREROUTING),
#               as integration/wan/netns.sh does (see its notes on why the
#               receiving side).
#
# One `s3mesh serve` per node namespace (S3 on <addr>:9000, libp2p on
# <addr>:4001/tcp), peered as a full mesh with static peers (peer IDs from
# `s3mesh id --data DIR` before the first start), shared root credentials
# in S3MESH_ACCESS_KEY/S3MESH_SECRET_KEY. The script waits until every node
# answers /health/ready and `s3mesh status --json` reports all N peers
# connected. The origin creates the bucket and, when the binary has the
# `bucket replicate` verb, marks it replicated; the origin then PUTs a fresh
# random object of F bytes (curl --aws-sigv4, UNSIGNED-PAYLOAD, as
# integration/wan/bench.sh does; inside the origin namespace, so it does
# not cross the origin's link).
#
# Two phases, same run, same links:
#   s3mesh         every office GETs the object from its own node, all at once
#                  (the offices' nodes fetch the blocks over Bitswap from
#                  whichever peers have them).
#                  - mode "replicated" (the verb exists): the office GETs are
#                    released the moment the origin's PUT answers; each
#                    office polls HEAD on its own node until the record has
#                    arrived (SWARM_REPL_GET=complete: until its node has
#                    every block), then GETs. Time 0 = the PUT's answer, so the
#                    time includes the namespace's replication lag and the
#                    background fetch that the bucket setting starts.
#                  - mode "on-demand" (no verb, or SWARM_MODE=on-demand): the
#                    script first waits (not timed) until every office sees
#                    the object, then releases all GETs at once; the blocks
#                    are fetched only because of the GETs.
#   client-server  every office GETs the object from the ORIGIN's S3 endpoint,
#                  all at once (one TCP connection each, over the same
#                  shaped links): the way offices fetch from one central
#                  server. The origin holds every block of the object and
#                  serves it from its own store, so whatever the office
#                  nodes cached in the first phase plays no part (their
#                  nodes are not on this path at all).
# The GETs are released together through a FIFO barrier; each office's curl
# writes to a file and its end is timestamped ($EPOCHREALTIME). Afterwards
# the sha256 of every office's file is compared with the original.
#
# Measured per phase: the time until the last office has every byte and the
# median office's; the origin's link: s3m0 tx_bytes (read inside the origin
# namespace, so Ethernet/IP/TCP/libp2p framing included) divided by F; the
# offices' link rx bytes divided by N·F (duplicates and overhead); from the
# nodes' /metrics, Bitswap block bytes the origin sent and the offices
# received and the duplicate bytes among them; the machine's CPU: busy
# share of all cores from /proc/stat, and CPU seconds (utime+stime from
# /proc/PID/stat) of the origin's s3mesh, the offices' s3mesh processes
# and the delay programs; the rest (curl, kernel: bridge, tbf, TCP,
# softirq) is "other".
#
# Bounds (payload only, for the configured rates; u = upload, d = download):
#   client-server  max(N·F/u_origin, F/d_min)
#   peer-to-peer   max(F/u_origin, F/d_min, N·F/(u_origin + Σ u_office))
# At N=8, F=64 MiB, 100 Mbit/s up, 200 Mbit/s down: 42.9 s and 5.37 s.
#
# Output: per-office lines and diagnostics on stderr ("swarm: ..."); on
# stdout a table per run (markdown) and machine-readable lines
#   RESULT swarm-s3mesh key=value ...
#   RESULT swarm-client-server key=value ...
#   RESULT swarm-speedup last=... median=...
# Exit: 0 when every phase ran and every office's bytes were verified, 1
# otherwise; 0 with "swarm: skipping: ..." when this machine cannot do it
# (not root, no network namespaces, bridge, veth, tbf or NFQUEUE).
#
# Environment (all optional):
#   SWARM_N=8              number of offices
#   SWARM_SIZE_MIB=64      object size F in MiB
#   SWARM_UP=100mbit       every office's upload rate (tc units: kbit, mbit, gbit, ...)
#   SWARM_DOWN=200mbit     every node's download rate (origin included)
#   SWARM_RTT=20ms         round-trip time between any two nodes (0: no delay)
#   SWARM_ORIGIN_UP        the origin's upload rate (default: SWARM_UP)
#   SWARM_TIMEOUT=600      bound in seconds of each phase (and of each GET)
#   SWARM_KEEP=1           leave namespaces, nodes and the work directory in
#                          place at the end (`swarm.sh clean` removes them and
#                          whatever a killed run left)
#   SWARM_MODE=auto        auto | replicated | on-demand: the s3mesh phase's mode
#                          (replicated without the CLI verb tries the admin
#                          endpoint POST /admin/v1/buckets/replicate directly)
#   SWARM_PHASES=s3mesh,client-server   which phases to run, in this order
#   SWARM_REPL_GET=now     replicated mode: an office GETs as soon as the record
#                          is visible (now), or only once its node reports the
#                          object complete in GET /admin/v1/replication
#                          (complete: the background replication alone moves
#                          the blocks; the GET then reads local blocks)
#   SWARM_SWARM_KEY=0      1: all nodes share a private-network key
#   SWARM_SERVE_ARGS       extra flags for every `s3mesh serve` (word-split)
#   SWARM_SAMPLE=0         1: log link rates and CPU once a second in each phase
#   SWARM_BURST=64kb, SWARM_LIMIT_LATENCY=100ms   tbf burst (raised to 1 ms of
#                          the rate when larger) and queue size
#   SWARM_QUEUE=79         NFQUEUE number (per namespace)
#   S3MESH_BIN             s3mesh binary (default: go build ./cmd/s3mesh, once per run)
#   S3MESH_CACHE=$HOME/.cache/s3mesh   where the delay program is built (shared
#                          with integration/wan/netns.sh)
set -euo pipefail
export LC_ALL=C # a "." in $EPOCHREALTIME and awk's numbers

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

SWARM_N=${SWARM_N:-8}
SWARM_SIZE_MIB=${SWARM_SIZE_MIB:-64}
SWARM_UP=${SWARM_UP:-100mbit}
SWARM_DOWN=${SWARM_DOWN:-200mbit}
SWARM_RTT=${SWARM_RTT:-20ms}
SWARM_ORIGIN_UP=${SWARM_ORIGIN_UP:-$SWARM_UP}
SWARM_TIMEOUT=${SWARM_TIMEOUT:-600}
SWARM_KEEP=${SWARM_KEEP:-0}
SWARM_MODE=${SWARM_MODE:-auto}
SWARM_PHASES=${SWARM_PHASES:-s3mesh,client-server}
SWARM_REPL_GET=${SWARM_REPL_GET:-now}
SWARM_SWARM_KEY=${SWARM_SWARM_KEY:-0}
SWARM_SERVE_ARGS=${SWARM_SERVE_ARGS:-}
SWARM_SAMPLE=${SWARM_SAMPLE:-0}
SWARM_BURST=${SWARM_BURST:-64kb}
SWARM_LIMIT_LATENCY=${SWARM_LIMIT_LATENCY:-100ms}
SWARM_QUEUE=${SWARM_QUEUE:-79}
CACHE=${S3MESH_CACHE:-$HOME/.cache/s3mesh}
DELAY_BIN="$CACHE/s3m-delay"

PREFIX=s3msw
RUN="$PREFIX-$$"
SW="$RUN-sw"
SUBNET=10.79.0
DEV=s3m0
S3_PORT=9000
P2P_PORT=4001
S3_AK=swarmbenchaccess
S3_SK=swarmbenchsecret0123456789
BUCKET=swarm
KEY=payload.bin

log() { echo "swarm: $*" >&2; }
skip() { echo "swarm: skipping: $*"; exit 0; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# `swarm.sh clean`: remove the namespaces of runs whose script is gone (killed
# or SWARM_KEEP=1), after stopping the processes running inside them.
# ---------------------------------------------------------------------------
clean_stale() {
	[[ $(id -u) -eq 0 ]] || { echo "swarm: clean needs root" >&2; exit 1; }
	local ns pid p cmd stale=()
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$PREFIX-[0-9]*-" || true); do
		pid=${ns#"$PREFIX"-}
		pid=${pid%%-*}
		cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
		[[ $cmd == *swarm.sh* ]] && continue # its run is still going
		stale+=("$ns")
	done
	for ns in "${stale[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -TERM "$p" 2>/dev/null || true; done
	done
	[[ ${#stale[@]} -gt 0 ]] && sleep 2
	for ns in "${stale[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null || true; done
		ip netns del "$ns" && echo "swarm: removed $ns" >&2
	done
	# Work directories of kept or killed runs (each names its run's PID).
	local d
	for d in "${TMPDIR:-/tmp}"/s3m-swarm.*; do
		[[ -f "$d/run.pid" ]] || continue
		pid=$(<"$d/run.pid")
		cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
		[[ $cmd == *swarm.sh* ]] && continue
		rm -rf "$d" && echo "swarm: removed $d" >&2
	done
	return 0
}
if [[ "${1:-}" == clean ]]; then
	clean_stale
	exit 0
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [clean]   (parameters are environment variables; see the header)" >&2
	exit 2
fi

# ---------------------------------------------------------------------------
# Parsing of rates and durations (tc syntax) for the bounds.
# ---------------------------------------------------------------------------

# rate_bps RATE: bits per second of a tc rate ("100mbit", "1gbit", "12mbps" =
# megabytes per second, a bare number = bits per second).
rate_bps() {
	awk -v r="$1" 'BEGIN {
		if (!match(r, /^[0-9]+(\.[0-9]+)?/)) exit 1
		v = substr(r, 1, RLENGTH); u = tolower(substr(r, RLENGTH + 1))
		m["bit"] = 1; m["kbit"] = 1e3; m["mbit"] = 1e6; m["gbit"] = 1e9; m["tbit"] = 1e12
		m["kibit"] = 1024; m["mibit"] = 1048576; m["gibit"] = 1073741824
		m["bps"] = 8; m["kbps"] = 8e3; m["mbps"] = 8e6; m["gbps"] = 8e9
		m[""] = 1
		if (!(u in m)) exit 1
		printf "%.0f\n", v * m[u] }'
}

# dur_us DURATION: microseconds of "20ms", "0.02s", "500us" (bare: ms).
dur_us() {
	awk -v d="$1" 'BEGIN {
		if (!match(d, /^[0-9]+(\.[0-9]+)?/)) exit 1
		v = substr(d, 1, RLENGTH); u = tolower(substr(d, RLENGTH + 1))
		m["us"] = 1; m["ms"] = 1e3; m["s"] = 1e6; m[""] = 1e3
		if (!(u in m)) exit 1
		printf "%.0f\n", v * m[u] }'
}

# size_bytes SPEC: bytes of a tc size ("64kb" = 64 KiB, "1mb", bare = bytes).
size_bytes() {
	awk -v s="$1" 'BEGIN {
		if (!match(s, /^[0-9]+/)) exit 1
		v = substr(s, 1, RLENGTH); u = tolower(substr(s, RLENGTH + 1))
		m[""] = 1; m["b"] = 1; m["k"] = 1024; m["kb"] = 1024; m["m"] = 1048576; m["mb"] = 1048576
		if (!(u in m)) exit 1
		printf "%.0f\n", v * m[u] }'
}

# tbf_burst RATE: SWARM_BURST, or 1 ms worth of RATE when that is larger
# (a 64 KiB bucket is 0.5 ms at 1 Gbit/s).
tbf_burst() {
	local bps min
	bps=$(rate_bps "$1")
	min=$(size_bytes "$SWARM_BURST")
	awk -v b="$bps" -v m="$min" 'BEGIN { x = b / 8 / 1000; if (x < m) x = m; printf "%.0f\n", x }'
}

# ---------------------------------------------------------------------------
# State and cleanup.
# ---------------------------------------------------------------------------
WORK=""
NSS=()        # namespaces created, switch first
PIDS=()       # every background process started (nodes, delay programs, jobs)
NODE_PIDS=()  # s3mesh serve, index 0 = origin
DELAY_PIDS=() # delay programs
SAMPLER=""

stop_pids() {
	local pid
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	[[ $rc == 0 ]] || log "exiting with status $rc; cleaning up"
	if [[ "$SWARM_KEEP" == 1 && ${#NSS[@]} -gt 0 ]]; then
		log "SWARM_KEEP=1: left running: namespaces ${NSS[*]}; processes ${PIDS[*]:-}; work directory $WORK"
		log "remove them with: $0 clean"
		exit "$rc"
	fi
	[[ -n "$SAMPLER" ]] && stop_pids "$SAMPLER"
	# Nodes first (they flush on SIGTERM), then the delay programs.
	[[ ${#NODE_PIDS[@]} -gt 0 ]] && stop_pids "${NODE_PIDS[@]}"
	[[ ${#PIDS[@]} -gt 0 ]] && stop_pids "${PIDS[@]}"
	# Whatever still runs inside this run's namespaces was started by it
	# (a curl whose job shell was stopped, say).
	local ns p left=()
	for ns in "${NSS[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null || true); do left+=("$p"); done
	done
	[[ ${#left[@]} -gt 0 ]] && stop_pids "${left[@]}"
	# Deleting a namespace removes its veth end (and the peer end with it),
	# its qdiscs and its iptables rules. Node namespaces first, switch last.
	for ((i = ${#NSS[@]} - 1; i >= 0; i--)); do
		ip netns del "${NSS[i]}" 2>/dev/null || log "cleanup: could not delete namespace ${NSS[i]}"
	done
	[[ -n "$WORK" ]] && rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

# ---------------------------------------------------------------------------
# Checks that turn into a clean skip.
# ---------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, tc, iptables)"
((BASH_VERSINFO[0] >= 5)) || skip "needs bash 5 (EPOCHREALTIME)"
for c in ip tc curl awk sha256sum; do
	command -v "$c" >/dev/null || skip "$c is not installed"
done
[[ "$SWARM_N" =~ ^[0-9]+$ && "$SWARM_N" -ge 1 && "$SWARM_N" -le 200 ]] || die "SWARM_N must be 1..200"
[[ "$SWARM_SIZE_MIB" =~ ^[0-9]+$ && "$SWARM_SIZE_MIB" -ge 1 ]] || die "SWARM_SIZE_MIB must be a positive integer"
[[ "$SWARM_TIMEOUT" =~ ^[0-9]+$ && "$SWARM_TIMEOUT" -ge 10 ]] || die "SWARM_TIMEOUT must be at least 10 (seconds)"
for r in "$SWARM_UP" "$SWARM_DOWN" "$SWARM_ORIGIN_UP"; do
	rate_bps "$r" >/dev/null || die "cannot read the rate $r (use tc units: 100mbit, 1gbit, ...)"
done
RTT_US=$(dur_us "$SWARM_RTT") || die "cannot read SWARM_RTT=$SWARM_RTT (e.g. 20ms)"
HALF_US=$((RTT_US / 2))
size_bytes "$SWARM_BURST" >/dev/null || die "cannot read SWARM_BURST=$SWARM_BURST"
case "$SWARM_MODE" in auto | replicated | on-demand) ;; *) die "SWARM_MODE must be auto, replicated or on-demand" ;; esac
case "$SWARM_REPL_GET" in now | complete) ;; *) die "SWARM_REPL_GET must be now or complete" ;; esac
F=$((SWARM_SIZE_MIB << 20))
N=$SWARM_N

WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3m-swarm.XXXXXX")
echo $$ >"$WORK/run.pid"

# Node i: 0 = origin, 1..N = office i.
NAMES=(origin)
for ((i = 1; i <= N; i++)); do NAMES+=("office$i"); done
ns_of() { echo "$RUN-${NAMES[$1]}"; }
ip_of() { echo "$SUBNET.$(($1 + 1))"; }
port_of() { echo "p-${NAMES[$1]}"; }
url_of() { echo "http://$(ip_of "$1"):$S3_PORT"; }

# ---------------------------------------------------------------------------
# Network.
# ---------------------------------------------------------------------------
DELAY_KIND=none
IPT=""

probe_netem() {
	# One probe in a scratch namespace: does this kernel have sch_netem?
	local p="$RUN-probe" ok=1
	ip netns add "$p" 2>/dev/null || return 1
	ip -n "$p" link set lo up
	ip netns exec "$p" tc qdisc add dev lo root netem delay 1ms 2>/dev/null || ok=0
	ip netns del "$p"
	[[ $ok == 1 ]]
}

build_delay() {
	local src="$REPO/integration/wan/delay/main.go"
	if [[ -x "$DELAY_BIN" && "$DELAY_BIN" -nt "$src" ]]; then return 0; fi
	command -v go >/dev/null || skip "go is needed to build the delay program ($src)"
	mkdir -p "$CACHE"
	log "building the delay program into $DELAY_BIN"
	(cd "$REPO" && go build -o "$DELAY_BIN.tmp.$$" ./integration/wan/delay) && mv "$DELAY_BIN.tmp.$$" "$DELAY_BIN"
}

start_delay() {
	local i=$1 ns logf
	ns=$(ns_of "$i")
	logf="$WORK/delay-${NAMES[$i]}.log"
	ip netns exec "$ns" nice -n -10 "$DELAY_BIN" -queue "$SWARM_QUEUE" -delay "${HALF_US}us" >"$logf" 2>&1 </dev/null &
	PIDS+=($!)
	DELAY_PIDS+=($!)
	for _ in $(seq 50); do
		grep -q bound "$logf" && return 0
		kill -0 "${DELAY_PIDS[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$logf" >&2
	return 1
}

# add_node I: namespace, veth to the bridge, address, shaping, delay. The
# first node's failures mean "this machine cannot": skip.
add_node() {
	local i=$1 ns port ip up fail burst_up burst_down
	ns=$(ns_of "$i")
	port=$(port_of "$i")
	ip=$(ip_of "$i")
	up=$SWARM_UP
	[[ $i == 0 ]] && up=$SWARM_ORIGIN_UP
	if [[ $i == 0 ]]; then fail=skip; else fail=die; fi
	burst_up=$(tbf_burst "$up")
	burst_down=$(tbf_burst "$SWARM_DOWN")
	ip netns add "$ns" || $fail "cannot create network namespace $ns"
	NSS+=("$ns")
	ip link add "$DEV" netns "$ns" type veth peer name "$port" netns "$SW" ||
		$fail "cannot create a veth pair between network namespaces"
	ip -n "$SW" link set "$port" master br0
	ip -n "$SW" link set "$port" up
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
	ip -n "$ns" addr add "$ip/24" dev "$DEV"
	ip -n "$ns" link set "$DEV" up
	ip netns exec "$ns" tc qdisc replace dev "$DEV" root tbf rate "$up" burst "$burst_up" latency "$SWARM_LIMIT_LATENCY" ||
		$fail "tc tbf is not available"
	ip netns exec "$SW" tc qdisc replace dev "$port" root handle 1: tbf rate "$SWARM_DOWN" burst "$burst_down" latency "$SWARM_LIMIT_LATENCY" ||
		$fail "tc tbf is not available"
	case $DELAY_KIND in
	netem)
		ip netns exec "$SW" tc qdisc add dev "$port" parent 1:1 handle 10: netem delay "${HALF_US}us" limit 100000 ||
			$fail "netem under tbf failed"
		;;
	nfqueue)
		ip netns exec "$ns" "$IPT" -t mangle -A PREROUTING -i "$DEV" -j NFQUEUE --queue-num "$SWARM_QUEUE" ||
			$fail "iptables NFQUEUE target unavailable"
		start_delay "$i" || $fail "cannot bind an NFQUEUE in a network namespace"
		;;
	esac
}

network_up() {
	ip netns add "$SW" 2>/dev/null || skip "cannot create network namespaces (ip netns add)"
	NSS+=("$SW")
	ip -n "$SW" link set lo up || skip "network namespaces unusable"
	ip -n "$SW" link add br0 type bridge 2>/dev/null || skip "cannot create a bridge in a network namespace"
	ip -n "$SW" link set br0 up
	if ((RTT_US > 0)); then
		if probe_netem; then
			DELAY_KIND=netem
		else
			DELAY_KIND=nfqueue
			if command -v iptables-legacy >/dev/null; then
				IPT=iptables-legacy
			elif command -v iptables >/dev/null; then
				IPT=iptables
			else
				skip "no sch_netem and no iptables for the NFQUEUE delay"
			fi
			build_delay
		fi
	fi
	local i
	for ((i = 0; i <= N; i++)); do add_node "$i"; done
	log "network: $((N + 1)) namespaces on bridge br0 in $SW; origin up $SWARM_ORIGIN_UP, offices up $SWARM_UP, all down $SWARM_DOWN, RTT $SWARM_RTT (delay: $DELAY_KIND, ${HALF_US} us per receiving node)"
}

# rtt_check: ping -U (user-to-user time, see integration/wan/README.md)
# from office1 to the origin.
rtt_check() {
	command -v ping >/dev/null || return 0
	local out
	out=$(ip netns exec "$(ns_of 1)" ping -U -c 5 -i 0.2 -W 2 "$(ip_of 0)" 2>&1 | tail -n 1) || true
	log "office1 -> origin: $out"
}

# ---------------------------------------------------------------------------
# s3mesh nodes.
# ---------------------------------------------------------------------------
BIN=""
build_s3mesh() {
	if [[ -n "${S3MESH_BIN:-}" ]]; then
		BIN=$S3MESH_BIN
		return 0
	fi
	command -v go >/dev/null || skip "go not found and S3MESH_BIN unset"
	log "building s3mesh"
	(cd "$REPO" && go build -o "$WORK/s3mesh" ./cmd/s3mesh) >&2 || die "go build ./cmd/s3mesh failed"
	BIN="$WORK/s3mesh"
}

# s3 NS URL CURL-ARGS...: a signed S3 request from namespace NS.
s3() {
	local ns=$1 url=$2
	shift 2
	ip netns exec "$ns" curl -sS --fail-with-body --max-time "$SWARM_TIMEOUT" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_AK:$S3_SK" "$@" "$url"
}

# admin I ARGS...: an s3mesh admin verb against node I, run in its namespace.
admin() {
	local i=$1
	shift
	ip netns exec "$(ns_of "$i")" env S3MESH_ACCESS_KEY="$S3_AK" S3MESH_SECRET_KEY="$S3_SK" \
		"$BIN" "$@" --endpoint "$(url_of "$i")"
}

# json_int FIELD: the first integer value of "FIELD" in the JSON on stdin
# (reads all of it: an early exit would fail the writer with SIGPIPE).
json_int() {
	awk -v f="\"$1\":" 'v == "" && index($0, f) { s = substr($0, index($0, f) + length(f)); sub(/^ */, "", s); if (match(s, /^[0-9]+/)) v = substr(s, 1, RLENGTH) } END { print v }'
}

start_nodes() {
	local i j ids=() addrs=() peers args key_args=()
	if [[ "$SWARM_SWARM_KEY" == 1 ]]; then
		"$BIN" swarm-key >"$WORK/swarm.key"
		key_args=(--swarm-key "$WORK/swarm.key")
	fi
	for ((i = 0; i <= N; i++)); do
		ids[i]=$("$BIN" id --data "$WORK/data-${NAMES[$i]}" | awk 'NR == 1')
		[[ -n "${ids[i]}" ]] || die "s3mesh id printed nothing"
		addrs[i]="/ip4/$(ip_of "$i")/tcp/$P2P_PORT/p2p/${ids[i]}"
	done
	for ((i = 0; i <= N; i++)); do
		peers=()
		for ((j = 0; j <= N; j++)); do [[ $j != "$i" ]] && peers+=(--peer "${addrs[j]}"); done
		args=(serve --data "$WORK/data-${NAMES[$i]}" --listen "$(ip_of "$i"):$S3_PORT"
			--p2p-listen "/ip4/$(ip_of "$i")/tcp/$P2P_PORT" --office "${NAMES[$i]}"
			--fetch-timeout 60s "${key_args[@]}" "${peers[@]}")
		# shellcheck disable=SC2206 # extra flags are word-split on purpose
		args+=($SWARM_SERVE_ARGS)
		ip netns exec "$(ns_of "$i")" env S3MESH_ACCESS_KEY="$S3_AK" S3MESH_SECRET_KEY="$S3_SK" \
			"$BIN" "${args[@]}" >"$WORK/node-${NAMES[$i]}.out" 2>"$WORK/node-${NAMES[$i]}.err" </dev/null &
		PIDS+=($!)
		NODE_PIDS+=($!)
	done
	# Ready, then all peers connected (bounded).
	local deadline=$((SECONDS + 90)) ok n
	for ((i = 0; i <= N; i++)); do
		until ip netns exec "$(ns_of "$i")" curl -sf -o /dev/null --max-time 2 "$(url_of "$i")/health/ready"; do
			kill -0 "${NODE_PIDS[i]}" 2>/dev/null || { tail -n 20 "$WORK/node-${NAMES[$i]}.err" >&2; die "${NAMES[$i]}'s node exited"; }
			((SECONDS < deadline)) || { tail -n 20 "$WORK/node-${NAMES[$i]}.err" >&2; die "${NAMES[$i]}'s node not ready within 90 s"; }
			sleep 0.2
		done
	done
	log "$((N + 1)) nodes ready (s3mesh $("$BIN" version | awk '{ print $2 }'))"
	deadline=$((SECONDS + 120))
	while :; do
		ok=0
		for ((i = 0; i <= N; i++)); do
			n=$(admin "$i" status --json 2>/dev/null | json_int peers_connected)
			[[ -n "$n" && "$n" -ge "$N" ]] && ok=$((ok + 1))
		done
		[[ $ok == $((N + 1)) ]] && break
		((SECONDS < deadline)) || die "only $ok of $((N + 1)) nodes have all $N peers connected after 120 s"
		sleep 0.5
	done
	# The namespace's pubsub topic (soft: replication also works via the
	# rebroadcast; this only keeps the first records from waiting for it).
	deadline=$((SECONDS + 30))
	while :; do
		ok=0
		for ((i = 0; i <= N; i++)); do
			n=$(admin "$i" status --json 2>/dev/null | json_int topic_peers)
			[[ -n "$n" && "$n" -ge 1 ]] && ok=$((ok + 1))
		done
		[[ $ok == $((N + 1)) ]] && break
		if ((SECONDS >= deadline)); then
			log "warning: only $ok of $((N + 1)) nodes have namespace topic peers after 30 s"
			break
		fi
		sleep 0.5
	done
	log "full mesh: every node has $N peers connected"
}

# visible_everywhere WHAT PATH BOUND: waits until every office answers 200 to
# HEAD PATH; prints the seconds it took.
visible_everywhere() {
	local what=$1 path=$2 bound=$3 t0 i pending
	t0=$EPOCHREALTIME
	local deadline=$((SECONDS + bound))
	while :; do
		pending=0
		for ((i = 1; i <= N; i++)); do
			s3 "$(ns_of "$i")" "$(url_of "$i")$path" -I -o /dev/null 2>/dev/null || pending=$((pending + 1))
		done
		[[ $pending == 0 ]] && break
		((SECONDS < deadline)) || die "$what not visible at $pending of $N offices after $bound s"
		sleep 0.1
	done
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'
}

# ---------------------------------------------------------------------------
# Replicated buckets (when this build has them).
# ---------------------------------------------------------------------------
MODE=on-demand
MODE_NOTE=""
has_replicate_verb() {
	local help
	help=$("$BIN" help 2>&1) || true
	grep -Eq '^[[:space:]]+bucket[[:space:]]' <<<"$help"
}

# mark_replicated: marks BUCKET replicated on the origin; fails when it cannot.
mark_replicated() {
	local out
	if has_replicate_verb; then
		# Flags first (Go's flag package stops at the first argument), then
		# the other order in case the verb parses NAME first.
		if out=$(admin 0 bucket replicate "$BUCKET" 2>&1) ||
			out=$(ip netns exec "$(ns_of 0)" env S3MESH_ACCESS_KEY="$S3_AK" S3MESH_SECRET_KEY="$S3_SK" \
				"$BIN" bucket replicate --endpoint "$(url_of 0)" "$BUCKET" 2>&1); then
			MODE_NOTE="marked with \`s3mesh bucket replicate $BUCKET\`"
			return 0
		fi
		log "s3mesh bucket replicate failed: $out"
		return 1
	fi
	[[ "$SWARM_MODE" == replicated ]] || return 1
	# Forced without the verb: the admin endpoint directly.
	if out=$(s3 "$(ns_of 0)" "$(url_of 0)/admin/v1/buckets/replicate?bucket=$BUCKET&on=true" -X POST 2>&1); then
		MODE_NOTE="marked with POST /admin/v1/buckets/replicate"
		return 0
	fi
	log "POST /admin/v1/buckets/replicate failed: $out"
	return 1
}

choose_mode() {
	case "$SWARM_MODE" in
	on-demand)
		MODE=on-demand
		MODE_NOTE="SWARM_MODE=on-demand"
		;;
	replicated)
		mark_replicated || die "SWARM_MODE=replicated, but the bucket could not be marked replicated"
		MODE=replicated
		;;
	auto)
		if has_replicate_verb; then
			if mark_replicated; then
				MODE=replicated
			else
				MODE=on-demand
				MODE_NOTE="\`bucket replicate\` failed; fell back to on-demand GETs"
			fi
		else
			MODE=on-demand
			MODE_NOTE="this s3mesh has no \`bucket replicate\` verb"
		fi
		;;
	esac
	[[ $MODE == replicated && $SWARM_REPL_GET == complete ]] && MODE_NOTE+="; GETs wait until the node has the whole object"
	log "s3mesh phase mode: $MODE ($MODE_NOTE)"
}

# ---------------------------------------------------------------------------
# Measurements.
# ---------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

# cpu_machine: "busy total softirq" jiffies of all CPUs (busy = total - idle
# - iowait; softirq = irq + softirq, the kernel's packet processing).
cpu_machine() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t, $7 + $8; exit }' /proc/stat
}

# cpu_children: utime+stime jiffies of this script's waited-for children
# (cutime+cstime): the office jobs' shells and their curls, and the tools
# the script runs.
cpu_children() {
	awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"
}

# cpu_pids PID...: summed utime+stime jiffies of the processes.
cpu_pids() {
	local pid s=0 v
	for pid in "$@"; do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || v=0
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

# origin_tx: bytes the origin's link has sent (s3m0 tx, read in its namespace).
origin_tx() {
	ip netns exec "$(ns_of 0)" cat "/sys/class/net/$DEV/statistics/tx_bytes"
}

# port_counters: one line per node, "rx tx" as the node sees it (read on the
# switch side: the port's tx is what the node received).
port_counters() {
	local i
	for ((i = 0; i <= N; i++)); do
		printf '%s/statistics/tx_bytes %s/statistics/rx_bytes ' "/sys/class/net/$(port_of "$i")" "/sys/class/net/$(port_of "$i")"
	done | xargs ip netns exec "$SW" cat | paste - -
}

# node_metrics I: "received duplicate sent" Bitswap block bytes of node I.
node_metrics() {
	ip netns exec "$(ns_of "$1")" curl -sf --max-time 5 "$(url_of "$1")/metrics" 2>/dev/null |
		awk '$1 == "s3mesh_exchange_blocks_received_bytes_total" { r = $2 }
			$1 == "s3mesh_exchange_duplicate_blocks_received_bytes_total" { d = $2 }
			$1 == "s3mesh_exchange_blocks_sent_bytes_total" { s = $2 }
			END { printf "%.0f %.0f %.0f\n", r, d, s }'
}

all_metrics() {
	local i
	for ((i = 0; i <= N; i++)); do node_metrics "$i"; done
}

# proc_snapshot: "pid comm jiffies owner" for every process: jiffies =
# utime+stime plus the cutime+cstime of its reaped children (so short-lived
# helpers such as compilers count under their parent); owner = run when it
# lives in one of this run's namespaces or is this script or its direct
# child, else other (other users of a shared machine, kernel threads).
proc_snapshot() {
	local ns f
	{
		for ns in "${NSS[@]}"; do echo "NS $(stat -L -c %i "/run/netns/$ns" 2>/dev/null)"; done
		stat -L -c '%n %i' /proc/[0-9]*/ns/net 2>/dev/null | awk '{ split($1, p, "/"); print "INO", p[3], $2 }'
		for f in /proc/[0-9]*/stat; do
			[[ -r $f ]] && echo "STAT $(<"$f")"
		done 2>/dev/null
	} | awk -v self=$$ '
		$1 == "NS" { ours[$2] = 1; next }
		$1 == "INO" { ino[$2] = $3; next }
		$1 == "STAT" {
			pid = $2; c = $0; sub(/^STAT [0-9]+ \(/, "", c); sub(/\) .*$/, "", c); gsub(/ /, "_", c)
			r = $0; sub(/^.*\) /, "", r); split(r, v, " ")
			own = (pid == self || v[2] == self || ((pid in ino) && (ino[pid] in ours))) ? "run" : "other"
			print pid, c, v[12] + v[13] + v[14] + v[15], own }'
}

# proc_top BEFORE AFTER OWNER: the command names of OWNER (run or other) that
# used the most CPU between two proc_snapshot files: "total: comm s, ...".
proc_top() {
	awk -v h="$CLK_TCK" -v o="$3" 'NR == FNR { b[$1] = $3; next }
		$4 == o { d = $3 - ($1 in b ? b[$1] : 0); if (d > 0) { u[$2] += d; t += d } }
		END { printf "TOTAL %.1f\n", t / h; for (c in u) printf "%s %.1f\n", c, u[c] / h }' "$1" "$2" |
		sort -k2,2gr | head -n 9 | awk 'NR == 1 { printf "%s s:", $2; next } { printf "%s %s %s s", (NR > 2 ? "," : ""), $1, $2 } END { print "" }'
}

# sampler PHASE: once a second, the origin's tx rate, the offices' summed rx
# rate and the machine's busy share, on stderr.
sampler() {
	local phase=$1 prev_o prev_r prev_b prev_t prev_w o r b t w t0=$SECONDS t0_real=$EPOCHREALTIME
	read -r prev_b prev_t _ < <(cpu_machine)
	prev_o=$(origin_tx)
	prev_r=$(port_counters | awk 'NR > 1 { s += $1 } END { printf "%.0f\n", s }')
	prev_w=$EPOCHREALTIME
	while ((SECONDS - t0 < SWARM_TIMEOUT)); do
		sleep 1
		read -r b t _ < <(cpu_machine)
		o=$(origin_tx)
		r=$(port_counters | awk 'NR > 1 { s += $1 } END { printf "%.0f\n", s }')
		w=$EPOCHREALTIME
		awk -v p="$phase" -v s="$(awk -v a="$t0_real" -v b="$w" 'BEGIN { printf "%.1f", b - a }')" -v dt="$(awk -v a="$prev_w" -v b="$w" 'BEGIN { print b - a }')" \
			-v o=$((o - prev_o)) -v r=$((r - prev_r)) -v b=$((b - prev_b)) -v t=$((t - prev_t)) \
			'BEGIN { printf "swarm: %s +%ss: origin tx %.0f Mbit/s, offices rx %.0f Mbit/s, CPU busy %.0f%%\n", p, s, o * 8 / 1e6 / dt, r * 8 / 1e6 / dt, (t > 0 ? 100 * b / t : 0) }' >&2
		prev_o=$o prev_r=$r prev_b=$b prev_t=$t prev_w=$w
	done
}

# The job one office runs for a phase, inside its namespace: wait at the
# barrier, optionally wait until the object is visible on its own node, GET
# it into a file, record "start end curl-exit http-code bytes get-start".
# shellcheck disable=SC2016 # expanded by the job's own bash
JOB='
fifo=$1 out=$2 tfile=$3 url=$4 wait_visible=$5 timeout=$6 creds=$7
exec 3<"$fifo"
: >"$tfile.ready"
read -r -t "$timeout" _ <&3
rc=$?
exec 3<&-
if ((rc > 128)); then echo "0 0 124 000 0 0" >"$tfile"; exit 1; fi
s=$EPOCHREALTIME
end=$((${s%.*} + timeout))
if [[ $wait_visible == 1 ]]; then
	until curl -sf -I -o /dev/null --max-time 5 --aws-sigv4 aws:amz:us-east-1:s3 --user "$creds" "$url"; do
		if ((${EPOCHREALTIME%.*} >= end)); then echo "$s $EPOCHREALTIME 124 000 0 0" >"$tfile"; exit 1; fi
		sleep 0.05
	done
elif [[ $wait_visible == 2 ]]; then
	# until the node reports the object complete (the only object of the
	# only replicated bucket), then GET it from local blocks
	until [[ $(curl -sf --max-time 5 --aws-sigv4 aws:amz:us-east-1:s3 --user "$creds" "${url%/*/*}/admin/v1/replication") =~ \"objects_complete\":\ *[1-9] ]]; do
		if ((${EPOCHREALTIME%.*} >= end)); then echo "$s $EPOCHREALTIME 124 000 0 0" >"$tfile"; exit 1; fi
		sleep 0.25
	done
fi
g=$EPOCHREALTIME
left=$((end - ${g%.*}))
((left > 0)) || left=1
rc=0
w=$(curl -sS --fail --max-time "$left" --aws-sigv4 aws:amz:us-east-1:s3 --user "$creds" \
	-o "$out" -w "%{http_code} %{size_download}" "$url" 2>"$tfile.err") || rc=$?
e=$EPOCHREALTIME
echo "$s $e $rc ${w:-000 0} $g" >"$tfile.tmp" && mv "$tfile.tmp" "$tfile"
'

declare -A RES=() # RES[phase.field]

# run_phase PHASE: the measured part of one phase. PHASE is s3mesh or
# client-server.
run_phase() {
	local phase=$1
	local i url wait_visible=0 fifo="$WORK/go-$phase" jobs=() t0 tx0 tx1 c0 c1
	local cpu_o0 cpu_o1 cpu_f0 cpu_f1 cpu_d0 cpu_d1 cpu_c0 cpu_c1 si0 si1 ports0 ports1 met0 met1 tot0 tot1
	rm -f "$WORK"/get-"$phase"-* "$WORK"/t-"$phase"-*
	mkfifo "$fifo"
	# Open the barrier's write end (read-write, so the jobs' opens do not
	# block); the jobs must not inherit it, or closing it would not wake them.
	exec 9<>"$fifo"
	for ((i = 1; i <= N; i++)); do
		if [[ $phase == s3mesh ]]; then
			url="$(url_of "$i")/$BUCKET/$KEY"
			if [[ $MODE == replicated ]]; then
				wait_visible=1
				[[ $SWARM_REPL_GET == complete ]] && wait_visible=2
			fi
		else
			url="$(url_of 0)/$BUCKET/$KEY"
		fi
		ip netns exec "$(ns_of "$i")" bash -c "$JOB" _ "$fifo" "$WORK/get-$phase-$i" "$WORK/t-$phase-$i" \
			"$url" "$wait_visible" "$SWARM_TIMEOUT" "$S3_AK:$S3_SK" 9>&- </dev/null &
		jobs+=($!)
		PIDS+=($!)
	done
	# Every job has opened the barrier before it is released (bounded).
	local deadline=$((SECONDS + 60)) n
	while :; do
		n=0
		for ((i = 1; i <= N; i++)); do [[ -e "$WORK/t-$phase-$i.ready" ]] && n=$((n + 1)); done
		[[ $n == "$N" ]] && break
		((SECONDS < deadline)) || die "only $n of $N office jobs reached the barrier within 60 s"
		sleep 0.05
	done
	tx0=$(origin_tx)
	ports0=$(port_counters)
	met0=$(all_metrics)
	local tput=""
	if [[ $phase == s3mesh && $MODE == replicated ]]; then
		put_object # time 0 is its answer
		tput=$EPOCHREALTIME
	fi
	proc_snapshot >"$WORK/procs-$phase-0"
	read -r c0 tot0 si0 < <(cpu_machine)
	cpu_c0=$(cpu_children)
	cpu_o0=$(cpu_pids "${NODE_PIDS[0]}")
	cpu_f0=$(cpu_pids "${NODE_PIDS[@]:1}")
	cpu_d0=$(cpu_pids "${DELAY_PIDS[@]}")
	if [[ "$SWARM_SAMPLE" == 1 ]]; then
		sampler "$phase" 9>&- &
		SAMPLER=$!
	fi
	t0=${tput:-$EPOCHREALTIME}
	exec 9>&- # release every office at once
	for i in "${jobs[@]}"; do wait "$i" || true; done
	local tend=$EPOCHREALTIME
	read -r c1 tot1 si1 < <(cpu_machine)
	cpu_c1=$(cpu_children)
	proc_snapshot >"$WORK/procs-$phase-1"
	cpu_o1=$(cpu_pids "${NODE_PIDS[0]}")
	cpu_f1=$(cpu_pids "${NODE_PIDS[@]:1}")
	cpu_d1=$(cpu_pids "${DELAY_PIDS[@]}")
	if [[ -n "$SAMPLER" ]]; then
		stop_pids "$SAMPLER"
		SAMPLER=""
	fi
	sleep 1 # late ACKs and Bitswap cancels still count as this phase's traffic
	tx1=$(origin_tx)
	ports1=$(port_counters)
	met1=$(all_metrics)
	rm -f "$fifo"

	# Per office: time, verification, link and Bitswap bytes.
	local times=() ok=0 s e rc code bytes g sum rx_all=0 line dup_all=0 recv_all=0 sent_off=0
	local r0 r1 d0 d1 s0 s1 prx0 prx1 ptx0 ptx1
	for ((i = 1; i <= N; i++)); do
		if [[ -s "$WORK/t-$phase-$i" ]]; then
			read -r s e rc code bytes g <"$WORK/t-$phase-$i"
		else
			s=0 e=0 rc=125 code=000 bytes=0 g=0
		fi
		sum=""
		if [[ $rc == 0 && -f "$WORK/get-$phase-$i" ]]; then
			sum=$(sha256sum <"$WORK/get-$phase-$i" | cut -d' ' -f1)
		fi
		read -r prx0 ptx0 < <(echo "$ports0" | sed -n "$((i + 1))p")
		read -r prx1 ptx1 < <(echo "$ports1" | sed -n "$((i + 1))p")
		read -r r0 d0 s0 < <(echo "$met0" | sed -n "$((i + 1))p")
		read -r r1 d1 s1 < <(echo "$met1" | sed -n "$((i + 1))p")
		rx_all=$((rx_all + prx1 - prx0))
		recv_all=$((recv_all + r1 - r0))
		dup_all=$((dup_all + d1 - d0))
		sent_off=$((sent_off + s1 - s0))
		local secs verdict
		secs=$(awk -v a="$t0" -v b="$e" 'BEGIN { printf "%.3f", b - a }')
		if [[ "$sum" == "$PAYLOAD_SHA" ]]; then
			verdict=ok
			ok=$((ok + 1))
			times+=("$secs")
		else
			verdict="FAILED (curl exit $rc, HTTP $code, $bytes bytes$([[ -s "$WORK/t-$phase-$i.err" ]] && echo ": $(head -c 200 "$WORK/t-$phase-$i.err")"))"
		fi
		line=$(awk -v n="${NAMES[$i]}" -v t="$secs" -v st="$(awk -v a="$t0" -v b="$g" 'BEGIN { printf "%.3f", b - a }')" \
			-v rx=$((prx1 - prx0)) -v tx=$((ptx1 - ptx0)) -v r=$((r1 - r0)) -v d=$((d1 - d0)) -v sn=$((s1 - s0)) -v v="$verdict" \
			'BEGIN { printf "%s: %s s (GET started +%s s), link rx %.1f MiB tx %.1f MiB, Bitswap recv %.1f MiB (dup %.1f) sent %.1f MiB, bytes %s",
				n, t, st, rx / 1048576, tx / 1048576, r / 1048576, d / 1048576, sn / 1048576, v }')
		log "$phase $line"
		rm -f "$WORK/get-$phase-$i"
	done
	read -r r0 d0 s0 < <(echo "$met0" | sed -n 1p)
	read -r r1 d1 s1 < <(echo "$met1" | sed -n 1p)
	local origin_bs=$((s1 - s0))

	local last median
	if ((ok > 0)); then
		last=$(printf '%s\n' "${times[@]}" | sort -g | tail -n 1)
		median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	else
		last=nan median=nan
	fi
	local wall
	wall=$(awk -v a="$t0" -v b="$tend" 'BEGIN { printf "%.3f", b - a }')
	RES[$phase.last]=$last
	RES[$phase.median]=$median
	RES[$phase.ok]=$ok
	RES[$phase.wall]=$wall
	RES[$phase.origin_tx_f]=$(awk -v x=$((tx1 - tx0)) -v f="$F" 'BEGIN { printf "%.2f", x / f }')
	RES[$phase.rx_nf]=$(awk -v x="$rx_all" -v f="$F" -v n="$N" 'BEGIN { printf "%.2f", x / (n * f) }')
	RES[$phase.origin_bs_f]=$(awk -v x="$origin_bs" -v f="$F" 'BEGIN { printf "%.2f", x / f }')
	RES[$phase.offices_bs_f]=$(awk -v x="$sent_off" -v f="$F" 'BEGIN { printf "%.2f", x / f }')
	RES[$phase.dup_pct]=$(awk -v d="$dup_all" -v r="$recv_all" 'BEGIN { printf "%.0f", (r > 0 ? 100 * d / r : 0) }')
	RES[$phase.cpu_busy]=$(awk -v b=$((c1 - c0)) -v t=$((tot1 - tot0)) 'BEGIN { printf "%.0f", (t > 0 ? 100 * b / t : 0) }')
	RES[$phase.cpu_busy_s]=$(awk -v b=$((c1 - c0)) -v h="$CLK_TCK" 'BEGIN { printf "%.1f", b / h }')
	RES[$phase.cpu_origin_s]=$(awk -v x=$((cpu_o1 - cpu_o0)) -v h="$CLK_TCK" 'BEGIN { printf "%.1f", x / h }')
	RES[$phase.cpu_offices_s]=$(awk -v x=$((cpu_f1 - cpu_f0)) -v h="$CLK_TCK" 'BEGIN { printf "%.1f", x / h }')
	RES[$phase.cpu_delay_s]=$(awk -v x=$((cpu_d1 - cpu_d0)) -v h="$CLK_TCK" 'BEGIN { printf "%.1f", x / h }')
	RES[$phase.cpu_curl_s]=$(awk -v x=$((cpu_c1 - cpu_c0)) -v h="$CLK_TCK" 'BEGIN { printf "%.1f", x / h }')
	RES[$phase.cpu_softirq_s]=$(awk -v x=$((si1 - si0)) -v h="$CLK_TCK" 'BEGIN { printf "%.1f", x / h }')
	RES[$phase.cpu_other_s]=$(awk -v b=$((c1 - c0)) -v o=$((cpu_o1 - cpu_o0 + cpu_f1 - cpu_f0 + cpu_d1 - cpu_d0 + cpu_c1 - cpu_c0)) -v h="$CLK_TCK" \
		'BEGIN { x = (b - o) / h; if (x < 0) x = 0; printf "%.1f", x }')
	log "$phase: last office ${last} s, median ${median} s, verified $ok/$N; origin link tx $(((tx1 - tx0) >> 20)) MiB (${RES[$phase.origin_tx_f]} F), Bitswap sent by the origin ${RES[$phase.origin_bs_f]} F, by the offices ${RES[$phase.offices_bs_f]} F, duplicates ${RES[$phase.dup_pct]}% of received block bytes"
	local by_run by_other
	by_run=$(proc_top "$WORK/procs-$phase-0" "$WORK/procs-$phase-1" run)
	by_other=$(proc_top "$WORK/procs-$phase-0" "$WORK/procs-$phase-1" other)
	log "$phase: CPU of this run's processes by command: $by_run"
	log "$phase: CPU of other processes by command (approximate: cutime of reaped children included): $by_other"
	# This run's CPU: its nodes, delay programs and (through this script's
	# cutime) its office jobs and curls. Everything else that kept the
	# machine busy is "not this run": other users, kernel threads, softirq
	# time not charged to a process.
	local run_j=$((cpu_o1 - cpu_o0 + cpu_f1 - cpu_f0 + cpu_d1 - cpu_d0 + cpu_c1 - cpu_c0))
	RES[$phase.cpu_run_pct]=$(awk -v x="$run_j" -v t=$((tot1 - tot0)) 'BEGIN { printf "%.0f", (t > 0 ? 100 * x / t : 0) }')
	log "$phase: CPU over ${wall} s: machine ${RES[$phase.cpu_busy]}% busy of $NCPU cores (${RES[$phase.cpu_busy_s]} CPU-s): s3mesh origin ${RES[$phase.cpu_origin_s]} s, s3mesh offices ${RES[$phase.cpu_offices_s]} s, delay programs ${RES[$phase.cpu_delay_s]} s, curl and job shells ${RES[$phase.cpu_curl_s]} s, not charged to this run's processes (kernel softirq and threads, other users) ${RES[$phase.cpu_other_s]} s; irq+softirq time ${RES[$phase.cpu_softirq_s]} s"
	[[ $ok == "$N" ]]
}

# background_cpu: the machine's busy share over 2 s with the nodes idle (other
# users of a shared machine show up here).
BACKGROUND_BUSY=""
background_cpu() {
	local b0 t0 b1 t1
	read -r b0 t0 _ < <(cpu_machine)
	sleep 2
	read -r b1 t1 _ < <(cpu_machine)
	BACKGROUND_BUSY=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", (t > 0 ? 100 * b / t : 0) }')
	log "machine busy ${BACKGROUND_BUSY}% of $NCPU cores over 2 s with the nodes idle (load average $(cut -d' ' -f1-3 /proc/loadavg))"
}

PAYLOAD=""
PAYLOAD_SHA=""
make_payload() {
	PAYLOAD="$WORK/payload"
	head -c "$F" /dev/urandom >"$PAYLOAD"
	PAYLOAD_SHA=$(sha256sum <"$PAYLOAD" | cut -d' ' -f1)
	log "payload: $SWARM_SIZE_MIB MiB of random bytes, sha256 ${PAYLOAD_SHA:0:16}…"
}

# put_object: the origin PUTs the payload to its own endpoint (inside its
# namespace: the upload does not cross its link).
put_object() {
	local t0 cid
	t0=$EPOCHREALTIME
	s3 "$(ns_of 0)" "$(url_of 0)/$BUCKET/$KEY" -T "$PAYLOAD" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		-D "$WORK/put.h" -o "$WORK/put.body" || { cat "$WORK/put.body" >&2; die "PUT on the origin failed"; }
	cid=$(awk 'tolower($1) == "x-s3mesh-cid:" { print $2 }' "$WORK/put.h" | tr -d '\r')
	log "origin PUT $SWARM_SIZE_MIB MiB in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s (local, not timed), root ${cid:-?}"
}

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
BOUND_CS=""
BOUND_P2P=""
bounds() {
	local uo uf d
	uo=$(rate_bps "$SWARM_ORIGIN_UP")
	uf=$(rate_bps "$SWARM_UP")
	d=$(rate_bps "$SWARM_DOWN")
	BOUND_CS=$(awk -v n="$N" -v f="$F" -v uo="$uo" -v d="$d" 'BEGIN {
		a = n * f * 8 / uo; b = f * 8 / d; printf "%.2f", (a > b ? a : b) }')
	BOUND_P2P=$(awk -v n="$N" -v f="$F" -v uo="$uo" -v uf="$uf" -v d="$d" 'BEGIN {
		a = f * 8 / uo; b = f * 8 / d; c = n * f * 8 / (uo + n * uf)
		m = a; if (b > m) m = b; if (c > m) m = c; printf "%.2f", m }')
}

report() {
	local p name bound ratio
	echo
	echo "swarm: N=$N offices, F=$SWARM_SIZE_MIB MiB, offices ${SWARM_UP} up / ${SWARM_DOWN} down, origin ${SWARM_ORIGIN_UP} up, RTT ${SWARM_RTT} (delay: $DELAY_KIND); s3mesh phase: $MODE ($MODE_NOTE); $NCPU cores, ${BACKGROUND_BUSY}% busy before the phases"
	echo "bounds: client-server max(N·F/u_origin, F/d_min) = ${BOUND_CS} s; peer-to-peer max(F/u_origin, F/d_min, N·F/(u_origin + Σu_office)) = ${BOUND_P2P} s"
	echo
	echo "| mode | last office (s) | median office (s) | origin link tx / F | offices link rx / N·F | bound (s) | last / P2P bound | CPU busy of ${NCPU} cores (this run) | verified |"
	echo "|---|---|---|---|---|---|---|---|---|"
	IFS=, read -r -a phases <<<"$SWARM_PHASES"
	for p in "${phases[@]}"; do
		[[ -n "${RES[$p.last]:-}" ]] || continue
		if [[ $p == s3mesh ]]; then name="s3mesh ($MODE)" bound=$BOUND_P2P; else name=client-server bound=$BOUND_CS; fi
		ratio=$(awk -v a="${RES[$p.last]}" -v b="$BOUND_P2P" 'BEGIN { if (a == "nan") print "-"; else printf "%.1fx", a / b }')
		echo "| $name | ${RES[$p.last]} | ${RES[$p.median]} | ${RES[$p.origin_tx_f]} | ${RES[$p.rx_nf]} | $bound | $ratio | ${RES[$p.cpu_busy]}% (${RES[$p.cpu_run_pct]}%) | ${RES[$p.ok]}/$N |"
	done
	local sp_last="-" sp_med="-"
	if [[ -n "${RES[s3mesh.last]:-}" && -n "${RES[client-server.last]:-}" && "${RES[s3mesh.last]}" != nan && "${RES[client-server.last]}" != nan ]]; then
		sp_last=$(awk -v a="${RES[client-server.last]}" -v b="${RES[s3mesh.last]}" 'BEGIN { printf "%.2f", a / b }')
		sp_med=$(awk -v a="${RES[client-server.median]}" -v b="${RES[s3mesh.median]}" 'BEGIN { printf "%.2f", a / b }')
		echo
		echo "speedup of s3mesh over client-server: ${sp_last}x (last office), ${sp_med}x (median office)"
	fi
	echo "CPU seconds per phase (machine busy = s3mesh origin + s3mesh offices + delay programs + curl and job shells + the rest (kernel softirq and threads, other users); irq/softirq time shown apart):"
	for p in "${phases[@]}"; do
		[[ -n "${RES[$p.last]:-}" ]] || continue
		echo "  $p: ${RES[$p.cpu_busy_s]} over ${RES[$p.wall]} s = ${RES[$p.cpu_origin_s]} + ${RES[$p.cpu_offices_s]} + ${RES[$p.cpu_delay_s]} + ${RES[$p.cpu_curl_s]} + ${RES[$p.cpu_other_s]} (softirq ${RES[$p.cpu_softirq_s]}); Bitswap: origin sent ${RES[$p.origin_bs_f]} F, offices sent ${RES[$p.offices_bs_f]} F, duplicates ${RES[$p.dup_pct]}% of received"
	done
	echo
	local common="n=$N size=$F up=$SWARM_UP down=$SWARM_DOWN origin_up=$SWARM_ORIGIN_UP rtt=$SWARM_RTT delay=$DELAY_KIND cs_bound_s=$BOUND_CS p2p_bound_s=$BOUND_P2P bg_busy_pct=$BACKGROUND_BUSY"
	for p in "${phases[@]}"; do
		[[ -n "${RES[$p.last]:-}" ]] || continue
		local extra=""
		[[ $p == s3mesh ]] && extra=" mode=$MODE"
		echo "RESULT swarm-$p $common$extra last_s=${RES[$p.last]} median_s=${RES[$p.median]} origin_tx_per_f=${RES[$p.origin_tx_f]} office_rx_per_nf=${RES[$p.rx_nf]} last_over_p2p_bound=$(awk -v a="${RES[$p.last]}" -v b="$BOUND_P2P" 'BEGIN { if (a == "nan") print "nan"; else printf "%.2f", a / b }') origin_bitswap_per_f=${RES[$p.origin_bs_f]} offices_bitswap_per_f=${RES[$p.offices_bs_f]} dup_pct=${RES[$p.dup_pct]} cpu_busy_pct=${RES[$p.cpu_busy]} cpu_s=${RES[$p.cpu_busy_s]} cpu_origin_s=${RES[$p.cpu_origin_s]} cpu_offices_s=${RES[$p.cpu_offices_s]} cpu_delay_s=${RES[$p.cpu_delay_s]} cpu_curl_s=${RES[$p.cpu_curl_s]} cpu_softirq_s=${RES[$p.cpu_softirq_s]} cpu_not_run_s=${RES[$p.cpu_other_s]} cpu_run_pct=${RES[$p.cpu_run_pct]} verified=${RES[$p.ok]}/$N"
	done
	[[ $sp_last != - ]] && echo "RESULT swarm-speedup $common last=$sp_last median=$sp_med"
	return 0
}

# ---------------------------------------------------------------------------
main() {
	local rc=0 p lag
	bounds
	network_up
	rtt_check
	build_s3mesh
	start_nodes
	make_payload
	background_cpu
	s3 "$(ns_of 0)" "$(url_of 0)/$BUCKET" -X PUT -o /dev/null || die "CreateBucket on the origin failed"
	choose_mode
	lag=$(visible_everywhere "bucket $BUCKET" "/$BUCKET" 60)
	log "bucket visible at every office after $lag s"
	IFS=, read -r -a phases <<<"$SWARM_PHASES"
	if [[ $MODE == replicated && "${phases[0]}" != s3mesh ]]; then
		die "in replicated mode the s3mesh phase must come first in SWARM_PHASES (its PUT starts the run)"
	fi
	# Unless the s3mesh phase is replicated (then its PUT is part of it), put
	# the object first and wait until every office sees it.
	if [[ ! ",$SWARM_PHASES," == *,s3mesh,* || $MODE == on-demand ]]; then
		put_object
		lag=$(visible_everywhere "object $KEY" "/$BUCKET/$KEY" 60)
		log "object record visible at every office after $lag s (not timed)"
	fi
	for p in "${phases[@]}"; do
		case $p in
		s3mesh | client-server) ;;
		*) die "unknown phase $p in SWARM_PHASES" ;;
		esac
		log "phase $p: $N offices GET $SWARM_SIZE_MIB MiB at once"
		run_phase "$p" || rc=1
		sleep 2 # let queues drain between phases
	done
	report
	return "$rc"
}

main
