#!/usr/bin/env bash
# Two Kubo nodes on loopback: `ipfs add` on one, `ipfs swarm connect` and
# `ipfs cat` on the other, byte-for-byte comparison, with timings.
#
#   integration/kubo/check.sh            # 64 MiB of random bytes
#   CHECK_SIZE_MIB=256 integration/kubo/check.sh
#
# Traffic stays on 127.0.0.1. Both daemons are stopped by PID on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=integration/kubo/node.sh
. "$HERE/node.sh"

SIZE_MIB=${CHECK_SIZE_MIB:-64}
CAT_TIMEOUT=${CHECK_CAT_TIMEOUT:-300}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3m-kubo-check.XXXXXX")
A="$WORK/a"
B="$WORK/b"

cleanup() {
	kubo_stop "$A" || true
	kubo_stop "$B" || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

kubo_setup
bin=$IPFS_BIN
echo "binary: $bin ($("$bin" --version))"

t=$(now)
kubo_init "$A"
kubo_init "$B"
echo "init (2 repos):     $(since "$t") s"

t=$(now)
kubo_start "$A"
kubo_start "$B"
echo "start (2 daemons):  $(since "$t") s"

head -c "$((SIZE_MIB << 20))" /dev/urandom >"$WORK/payload"

t=$(now)
cid=$(kubo "$A" add -Q --cid-version=1 --raw-leaves "$WORK/payload")
echo "add on A:           $(since "$t") s  ($SIZE_MIB MiB, $cid)"

t=$(now)
addr=$(kubo_addr "$A")
kubo "$B" swarm connect "$addr" >/dev/null
echo "connect B -> A:     $(since "$t") s  ($addr)"

t=$(now)
timeout "$CAT_TIMEOUT" env IPFS_PATH="$B" "$bin" cat "$cid" >"$WORK/got"
secs=$(since "$t")
if cmp -s "$WORK/payload" "$WORK/got"; then
	echo "cat on B:           $secs s  ($(awk -v m="$SIZE_MIB" -v s="$secs" 'BEGIN { printf "%.1f MiB/s", m / s }')), byte-for-byte identical"
else
	echo "cat on B:           $secs s  MISMATCH" >&2
	exit 1
fi

t=$(now)
kubo_stop "$A"
kubo_stop "$B"
echo "stop (2 daemons):   $(since "$t") s"
echo "kubo check passed"
