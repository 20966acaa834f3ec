#!/usr/bin/env bash
# WAN benchmark between two network namespaces (see netns.sh for the link).
#
#   sudo integration/wan/bench.sh
#   WAN_RATE=100mbit WAN_DELAY=40ms BENCH_SIZE_MIB=64 integration/wan/bench.sh
#
# Steps:
#   1. netns.sh up       two namespaces joined by a shaped, delayed veth link
#   2. baseline_http     plain HTTP: a file server in s3m-a, curl in s3m-b
#   3. kubo_get          reference: stock Kubo (Bitswap), add in s3m-a, cat in
#                        s3m-b; runs when the Kubo binary is cached or
#                        IPFS_BIN is set; BENCH_KUBO=1 builds it first,
#                        BENCH_KUBO=0 skips this step
#   4. s3mesh_get        s3mesh two-node GET over the same link (see below):
#                        B fetches A's object by CID over Bitswap
#   5. netns.sh down     (skipped with WAN_KEEP=1)
#
# Prints one result line per step:  RESULT <name> <bytes> <seconds> <MB/s> <Mbit/s>
# (or RESULT <name> skipped|failed), then one summary line:
#   SUMMARY rate=... delay=... rtt=...ms | http-baseline X MB/s | kubo-get Y MB/s (r x http) | s3mesh-get Z MB/s (r x http)
# Exits 0 with a "skipping" message when this machine cannot create network
# namespaces or bind an NFQUEUE (not root, sandboxed kernel, ...).
#
# Environment: everything netns.sh reads (WAN_RATE, WAN_DELAY, ...), plus
#   BENCH_SIZE_MIB=256     size of the transferred object
#   BENCH_TIMEOUT=600      upper bound in seconds for one transfer
#   BENCH_PORT=8077        port of the plain HTTP server in s3m-a
#   WAN_KEEP=1             leave the namespaces up afterwards
#   S3MESH_BIN, BENCH_S3MESH, BENCH_FETCH_TIMEOUT, BENCH_S3MESH_SAMPLE
#                          the s3mesh step (see s3mesh_get below)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS="$HERE/netns.sh"
KUBO_DIR="$(cd "$HERE/../kubo" && pwd)"
NS_A=s3m-a
NS_B=s3m-b
IP_A=10.77.0.1
IP_B=10.77.0.2
BENCH_SIZE_MIB=${BENCH_SIZE_MIB:-256}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
BENCH_PORT=${BENCH_PORT:-8077}
CACHE=${S3MESH_CACHE:-$HOME/.cache/s3mesh}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3m-wan-bench.XXXXXX")

log() { echo "bench: $*" >&2; }
skip() { echo "bench: skipping WAN benchmark: $*"; exit 0; }

PIDS=()
KUBO_REPOS=()
cleanup() {
	local pid d
	for d in "${KUBO_REPOS[@]}"; do
		kubo_stop "$d" || true
	done
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [[ "${WAN_KEEP:-0}" != 1 && "${NETNS_UP:-0}" == 1 ]]; then
		"$NETNS" down || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

# result NAME BYTES SECONDS: prints the RESULT line and keeps MB/s for the
# summary in MBPS[NAME].
declare -A MBPS=()
result() {
	local line
	line=$(awk -v n="$1" -v b="$2" -v s="$3" 'BEGIN {
		if (s <= 0) s = 1e-9
		printf "RESULT %s %d %.3f %.2f MB/s %.1f Mbit/s\n", n, b, s, b/s/1e6, b*8/s/1e6 }')
	echo "$line"
	MBPS[$1]=$(echo "$line" | awk '{ print $5 }')
}

# ratio NAME: NAME's MB/s over the plain HTTP baseline's, or "-".
ratio() {
	if [[ -n "${MBPS[$1]:-}" && -n "${MBPS[http-baseline]:-}" ]]; then
		awk -v a="${MBPS[$1]}" -v b="${MBPS[http-baseline]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
	else
		echo "-"
	fi
}

# summary: one line with the link and every step's MB/s and ratio to HTTP.
summary() {
	local n line="SUMMARY rate=${WAN_RATE:-200mbit} delay=${WAN_DELAY:-20ms} rtt=${RTT_MS:--}ms"
	for n in http-baseline kubo-get s3mesh-get; do
		line+=" | $n ${MBPS[$n]:-skipped}"
		[[ "${MBPS[$n]:-failed}" == failed ]] && continue
		line+=" MB/s"
		[[ $n != http-baseline ]] && line+=" ($(ratio "$n")x http)"
	done
	echo "$line"
}

# wait_http NS URL: bounded wait until URL answers from namespace NS.
wait_http() {
	local ns=$1 url=$2
	for _ in $(seq 100); do
		if ip netns exec "$ns" curl -sf -o /dev/null --max-time 2 "$url"; then return 0; fi
		sleep 0.1
	done
	log "no answer from $url"
	return 1
}

make_payload() {
	local f="$CACHE/wan/payload-${BENCH_SIZE_MIB}MiB"
	if [[ ! -f "$f" ]] || [[ $(stat -c %s "$f") -ne $((BENCH_SIZE_MIB << 20)) ]]; then
		mkdir -p "$CACHE/wan"
		log "creating ${BENCH_SIZE_MIB} MiB payload"
		head -c "$((BENCH_SIZE_MIB << 20))" /dev/urandom >"$f.tmp"
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# Plain HTTP baseline: what one TCP connection achieves on this link.
baseline_http() {
	local payload=$1 dir="$WORK/http" out
	mkdir -p "$dir"
	ln -s "$payload" "$dir/payload"
	command -v python3 >/dev/null || { log "python3 not found; baseline skipped"; return 0; }
	ip netns exec "$NS_A" python3 -m http.server --bind "$IP_A" --directory "$dir" "$BENCH_PORT" \
		>"$WORK/http.log" 2>&1 </dev/null &
	PIDS+=($!)
	wait_http "$NS_B" "http://$IP_A:$BENCH_PORT/" || { cat "$WORK/http.log" >&2; return 1; }
	out=$(ip netns exec "$NS_B" curl -sS -o "$WORK/got" --max-time "$BENCH_TIMEOUT" \
		-w '%{size_download} %{time_total}' "http://$IP_A:$BENCH_PORT/payload")
	cmp -s "$payload" "$WORK/got" || { log "baseline: downloaded bytes differ"; return 1; }
	rm -f "$WORK/got"
	# shellcheck disable=SC2086
	result http-baseline $out
}

# Reference point: two stock Kubo daemons, one per namespace, Bitswap over
# the link (TCP, one connection).
kubo_get() {
	local payload=$1 a="$WORK/kubo-a" b="$WORK/kubo-b" cid addr out t0 t1
	if [[ "${BENCH_KUBO:-}" == 0 ]]; then
		echo "RESULT kubo-get skipped"
		return 0
	fi
	if [[ -z "${IPFS_BIN:-}" ]]; then
		if [[ -x "$CACHE/ipfs-v0.43.1" ]]; then
			IPFS_BIN="$CACHE/ipfs-v0.43.1"
		elif [[ "${BENCH_KUBO:-0}" == 1 ]]; then
			IPFS_BIN=$("$KUBO_DIR/build.sh" | tail -n 1)
		else
			log "Kubo not built (run integration/kubo/build.sh or set BENCH_KUBO=1); skipped"
			echo "RESULT kubo-get skipped"
			return 0
		fi
	fi
	export IPFS_BIN
	# shellcheck source=integration/kubo/node.sh
	. "$KUBO_DIR/node.sh"
	KUBO_REPOS+=("$a" "$b")
	KUBO_NETNS=$NS_A KUBO_LISTEN_IP=$IP_A kubo_init "$a"
	KUBO_NETNS=$NS_B KUBO_LISTEN_IP=$IP_B kubo_init "$b"
	KUBO_NETNS=$NS_A kubo_start "$a"
	KUBO_NETNS=$NS_B kubo_start "$b"
	cid=$(KUBO_NETNS=$NS_A kubo "$a" add -Q --cid-version=1 --raw-leaves "$payload")
	addr=$(KUBO_NETNS=$NS_A KUBO_LISTEN_IP=$IP_A kubo_addr "$a")
	KUBO_NETNS=$NS_B kubo "$b" swarm connect "$addr" >/dev/null
	t0=$(date +%s.%N)
	IPFS_PATH="$b" timeout "$BENCH_TIMEOUT" ip netns exec "$NS_B" "$IPFS_BIN" cat "$cid" >"$WORK/got"
	t1=$(date +%s.%N)
	cmp -s "$payload" "$WORK/got" || { log "kubo: downloaded bytes differ"; return 1; }
	rm -f "$WORK/got"
	kubo_stop "$a"
	kubo_stop "$b"
	out=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	result kubo-get "$(stat -c %s "$payload")" "$out"
}

# ---------------------------------------------------------------------------
# s3mesh two-node GET  <<< the s3mesh part of the benchmark >>>
#
# Office A (s3m-a) holds the object; office B (s3m-b) gets it over Bitswap
# across the shaped link:
#
#   node A: s3mesh serve --data $WORK/s3m-a --listen $IP_A:9000 \
#               --p2p-listen /ip4/$IP_A/tcp/4001
#   node B: s3mesh serve --data $WORK/s3m-b --listen $IP_B:9000 \
#               --p2p-listen /ip4/$IP_B/tcp/4001 --peer <A's /ip4/$IP_A/... line>
#
# Both share S3MESH_ACCESS_KEY / S3MESH_SECRET_KEY. A bucket is created on
# each; the payload is PUT to A from inside s3m-a (A's own endpoint, does not
# cross the link, not timed) and its CID read from x-s3mesh-cid. Timed: a
# PUT on B with `x-s3mesh-cid: <CID>` and an empty body, which makes B fetch
# every block from A over Bitswap, verify and store it and compute the MD5
# before it answers; that is the `s3mesh-get` RESULT. Then the object is
# read back from B inside s3m-b and compared byte-for-byte (its time is
# logged, not part of the RESULT). B's fetch and exchange metrics are logged
# afterwards. Both nodes are stopped by PID (via PIDS).
#
# Environment:
#   S3MESH_BIN              s3mesh binary (default: go build ./cmd/s3mesh)
#   BENCH_S3MESH=0          skip this step
#   BENCH_FETCH_TIMEOUT     --fetch-timeout for both nodes (default 60s)
#   BENCH_S3MESH_SAMPLE=1   log B's received bytes every 0.5 s during the fetch
# ---------------------------------------------------------------------------
S3_PORT=9000
S3_AK=benchaccesskey
S3_SK=benchsecretkey0123456789
S3_BUCKET=wanbench

# s3req NS URL CURL-ARGS...: a signed S3 request from namespace NS.
s3req() {
	local ns=$1 url=$2
	shift 2
	ip netns exec "$ns" curl -sS --fail-with-body --max-time "$BENCH_TIMEOUT" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_AK:$S3_SK" "$@" "$url"
}

# s3mesh_build: prints the binary to use, building it into $WORK if needed.
s3mesh_build() {
	if [[ -n "${S3MESH_BIN:-}" ]]; then
		echo "$S3MESH_BIN"
		return 0
	fi
	command -v go >/dev/null || { log "go not found and S3MESH_BIN unset"; return 1; }
	log "building s3mesh"
	(cd "$HERE/../.." && go build -o "$WORK/s3mesh" ./cmd/s3mesh) >&2 || return 1
	echo "$WORK/s3mesh"
}

# s3mesh_start NAME NS IP BIN [ARGS...]: starts a node in NS, waits (bounded)
# until it is ready; its stdout is in $WORK/NAME.out, stderr in $WORK/NAME.err.
s3mesh_start() {
	local name=$1 ns=$2 ip=$3 bin=$4
	shift 4
	ip netns exec "$ns" env S3MESH_ACCESS_KEY="$S3_AK" S3MESH_SECRET_KEY="$S3_SK" \
		"$bin" serve --data "$WORK/$name" --listen "$ip:$S3_PORT" \
		--p2p-listen "/ip4/$ip/tcp/4001" --fetch-timeout "${BENCH_FETCH_TIMEOUT:-60s}" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	PIDS+=($!)
	if ! wait_http "$ns" "http://$ip:$S3_PORT/health/ready"; then
		log "$name did not become ready:"
		tail -n 20 "$WORK/$name.err" >&2
		return 1
	fi
}

# metric NS URL NAME: sum of the samples of metric NAME (any labels) at URL.
metric() {
	ip netns exec "$1" curl -sf --max-time 5 "$2" |
		awk -v n="$3" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s }'
}

# fetch_report NS URL: one log line on the block fetches a node has made.
fetch_report() {
	ip netns exec "$1" curl -sf --max-time 5 "$2" >"$WORK/metrics.txt" || return 0
	awk '
	/^s3mesh_gateway_block_fetch_duration_seconds_bucket/ {
		le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); cum[le] = $2; les[++n] = le }
	/^s3mesh_gateway_block_fetch_duration_seconds_sum/ { sum = $2 }
	/^s3mesh_gateway_block_fetch_duration_seconds_count/ { cnt = $2 }
	/^s3mesh_gateway_block_reads_total/ { r = $1; sub(/.*result="/, "", r); sub(/".*/, "", r); reads = reads " " r "=" $2 }
	/^s3mesh_exchange_blocks_received_bytes_total/ { rb = $2 }
	/^s3mesh_exchange_duplicate_blocks_received_bytes_total/ { db = $2 }
	/^s3mesh_exchange_transport_received_bytes_total/ { tb = $2 }
	END {
		if (cnt == 0) { print "no block fetches recorded"; exit }
		# median bucket: first upper bound holding half the fetches
		for (i = 1; i <= n; i++) if (cum[les[i]] >= cnt / 2) { med = les[i]; break }
		for (i = 1; i <= n; i++) if (cum[les[i]] >= cnt * 0.9) { p90 = les[i]; break }
		printf "block fetches %d, mean %.1f ms, median <= %s s, p90 <= %s s; reads:%s; Bitswap block bytes %.1f MiB (duplicate %.1f MiB), transport %.1f MiB\n",
			cnt, sum / cnt * 1000, med, p90, reads, rb / 1048576, db / 1048576, tb / 1048576
	}' "$WORK/metrics.txt"
}

s3mesh_get() {
	local payload=$1 bin peer cid size t0 t1 t2 secs sampler="" got_sha want_sha
	local url_a="http://$IP_A:$S3_PORT" url_b="http://$IP_B:$S3_PORT"
	if [[ "${BENCH_S3MESH:-}" == 0 ]]; then
		echo "RESULT s3mesh-get skipped"
		return 0
	fi
	bin=$(s3mesh_build) || { log "s3mesh: cannot build the binary; skipped"; echo "RESULT s3mesh-get skipped"; return 0; }
	size=$(stat -c %s "$payload")

	s3mesh_start s3m-a "$NS_A" "$IP_A" "$bin" || return 1
	peer=$(grep -o -- "--peer /ip4/$IP_A/tcp/4001/p2p/[[:alnum:]]*" "$WORK/s3m-a.out" | head -n 1 | cut -d' ' -f2)
	[[ -n "$peer" ]] || { log "s3mesh: node A printed no --peer line for $IP_A"; cat "$WORK/s3m-a.out" >&2; return 1; }
	s3mesh_start s3m-b "$NS_B" "$IP_B" "$bin" --peer "$peer" || return 1
	# B dials A on its own; wait (bounded) until the connection is up.
	for _ in $(seq 100); do
		[[ $(metric "$NS_B" "$url_b/metrics" s3mesh_exchange_peers_connected) -ge 1 ]] && break
		sleep 0.1
	done
	[[ $(metric "$NS_B" "$url_b/metrics" s3mesh_exchange_peers_connected) -ge 1 ]] ||
		{ log "s3mesh: B did not connect to A"; tail -n 20 "$WORK/s3m-b.err" >&2; return 1; }

	s3req "$NS_A" "$url_a/$S3_BUCKET" -X PUT -o /dev/null || { log "s3mesh: CreateBucket on A failed"; return 1; }
	s3req "$NS_B" "$url_b/$S3_BUCKET" -X PUT -o /dev/null || { log "s3mesh: CreateBucket on B failed"; return 1; }
	log "s3mesh: PUT ${BENCH_SIZE_MIB} MiB on A (inside $NS_A, not timed)"
	s3req "$NS_A" "$url_a/$S3_BUCKET/payload" -T "$payload" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -D "$WORK/put-a.h" -o "$WORK/put-a.body" ||
		{ log "s3mesh: PUT on A failed:"; cat "$WORK/put-a.body" >&2; return 1; }
	cid=$(awk 'tolower($1) == "x-s3mesh-cid:" { print $2 }' "$WORK/put-a.h" | tr -d '\r')
	[[ -n "$cid" ]] || { log "s3mesh: no x-s3mesh-cid in A's answer"; cat "$WORK/put-a.h" >&2; return 1; }
	log "s3mesh: object on A is $cid"

	if [[ "${BENCH_S3MESH_SAMPLE:-0}" == 1 ]]; then
		(
			prev=0
			for _ in $(seq $((BENCH_TIMEOUT * 2))); do
				cur=$(metric "$NS_B" "$url_b/metrics" s3mesh_exchange_blocks_received_bytes_total)
				echo "bench: s3mesh: $(date +%T.%N | cut -c1-12) B received $((cur >> 20)) MiB (+$(((cur - prev) * 16 >> 20)) Mbit/s)" >&2
				prev=$cur
				sleep 0.5
			done
		) &
		sampler=$!
		PIDS+=("$sampler")
	fi
	# Timed: B adopts the CID, fetching every block from A over the link.
	t0=$(date +%s.%N)
	s3req "$NS_B" "$url_b/$S3_BUCKET/payload" -X PUT -H "x-s3mesh-cid: $cid" -H "Content-Length: 0" \
		--data-binary "" -D "$WORK/put-b.h" -o "$WORK/put-b.body" ||
		{ log "s3mesh: PUT by CID on B failed:"; cat "$WORK/put-b.body" >&2; tail -n 20 "$WORK/s3m-b.err" >&2; return 1; }
	t1=$(date +%s.%N)
	[[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null
	grep -qi "^x-s3mesh-cid: $cid" "$WORK/put-b.h" || { log "s3mesh: B answered another CID"; cat "$WORK/put-b.h" >&2; return 1; }

	# Read it back from B (local blocks only) and compare with the original.
	s3req "$NS_B" "$url_b/$S3_BUCKET/payload" -o "$WORK/got" || { log "s3mesh: GET on B failed"; return 1; }
	t2=$(date +%s.%N)
	cmp -s "$payload" "$WORK/got" || { log "s3mesh: bytes read from B differ from the payload"; return 1; }
	got_sha=$(sha256sum <"$WORK/got" | cut -d' ' -f1)
	want_sha=$(sha256sum <"$payload" | cut -d' ' -f1)
	[[ "$got_sha" == "$want_sha" ]] || { log "s3mesh: sha256 differs"; return 1; }
	rm -f "$WORK/got"
	log "s3mesh: local GET on B $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }') s, bytes identical (sha256 ${got_sha:0:16}…)"
	log "s3mesh: B: $(fetch_report "$NS_B" "$url_b/metrics")"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	result s3mesh-get "$size" "$secs"
}

main() {
	[[ $(id -u) -eq 0 ]] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "iproute2 is not installed"
	command -v curl >/dev/null || skip "curl is not installed"
	local up=0
	"$NETNS" up || up=$?
	case $up in
	0) NETNS_UP=1 ;;
	3) skip "network namespaces or NFQUEUE unavailable on this machine" ;;
	*) log "netns.sh up failed (exit $up)"; exit "$up" ;;
	esac
	local link payload rc=0
	link=$("$NETNS" check | tail -n 1) || true
	log "link: $link"
	# "rtt min/avg/max/mdev = a/b/c/d ms": keep the average
	RTT_MS=$(echo "$link" | awk -F'= ' '/rtt/ { split($2, v, "/"); print v[2] }')
	payload=$(make_payload)
	baseline_http "$payload"
	kubo_get "$payload"
	# s3mesh_get runs as an `if` condition (errexit is off inside it), so it
	# checks every step itself.
	if s3mesh_get "$payload"; then
		[[ -n "${MBPS[s3mesh-get]:-}" ]] && log "s3mesh-get / http-baseline: $(ratio s3mesh-get)"
	else
		log "s3mesh two-node GET failed"
		echo "RESULT s3mesh-get failed"
		MBPS[s3mesh-get]=failed
		rc=1
	fi
	summary
	return "$rc"
}

main "$@"
