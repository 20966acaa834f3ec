#!/usr/bin/env bash
# Builds Kubo (the reference IPFS implementation) and caches the binary.
#
#   integration/kubo/build.sh            # prints the binary path on its last line
#   IPFS_BIN=$(integration/kubo/build.sh | tail -n1)
#
# Environment:
#   S3MESH_CACHE        cache directory (default $HOME/.cache/s3mesh)
#   KUBO_VERSION        Kubo release to build (default v0.43.1)
#   KUBO_LIBP2P_VERSION go-libp2p version that replaces Kubo's fork (default v0.50.0)
#
# Why not `go install github.com/ipfs/kubo/cmd/ipfs@VERSION`: Kubo's go.mod
# replaces github.com/libp2p/go-libp2p with a fork that the module proxy does
# not serve, and `go install pkg@version` refuses modules with replace
# directives anyway. So the module is copied out of the module cache into its
# own directory, the replace is dropped in favour of an upstream go-libp2p
# release, and the binary is built there. The repository's own go.mod is never
# touched.
#
# go-libp2p versions tried against Kubo v0.43.1 (Go 1.26.8):
#   v0.50.0  builds and works (default): the smallest change to Kubo's own
#            module graph, only the go-libp2p line differs (quic-go stays at
#            Kubo's v0.62.0, webtransport-go at v0.13.0)
#   v0.51.0  builds and works too; tidy then also raises quic-go to v0.64.1
#            (the go-libp2p version the rest of s3mesh uses)
# Kubo itself requires v0.49.0 replaced by a fork; its go.mod says the fork
# goes once a go-libp2p release requires quic-go >= v0.62.0 and
# webtransport-go >= v0.13.0.
#
# The cached binary is reused whenever it reports the wanted Kubo version;
# delete it to rebuild (e.g. after changing KUBO_LIBP2P_VERSION). Concurrent
# runs are serialised with a lock file in the cache directory.
set -euo pipefail

KUBO_VERSION=${KUBO_VERSION:-v0.43.1}
KUBO_LIBP2P_VERSION=${KUBO_LIBP2P_VERSION:-v0.50.0}
CACHE=${S3MESH_CACHE:-$HOME/.cache/s3mesh}
BIN="$CACHE/ipfs-$KUBO_VERSION"
SRC="$CACHE/kubo-src-$KUBO_VERSION"

log() { echo "kubo-build: $*" >&2; }

want=${KUBO_VERSION#v}
cached() {
	if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "version $want\b"; then
		log "cached: $("$BIN" --version)"
		echo "$BIN"
		exit 0
	fi
}
cached

command -v go >/dev/null || { log "go not found in PATH"; exit 1; }
mkdir -p "$CACHE"
if command -v flock >/dev/null; then
	exec 9>"$CACHE/.kubo-build.lock"
	flock -w 1800 9 || { log "timed out waiting for another build"; exit 1; }
	cached
fi

# Run outside any enclosing module so `go mod download` does not consult
# (or modify) the repository's go.mod.
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export GOWORK=off
cd "$CACHE"

log "downloading github.com/ipfs/kubo@$KUBO_VERSION"
json=$(go mod download -json "github.com/ipfs/kubo@$KUBO_VERSION")
dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
if [[ -z "$dir" || ! -d "$dir" ]]; then
	log "could not locate the downloaded module:"; printf '%s\n' "$json" >&2; exit 1
fi

# Fresh, writable copy of the module source.
tmp="$SRC.tmp.$$"
rm -rf "$tmp"
cp -R "$dir" "$tmp"
chmod -R u+w "$tmp"
rm -rf "$SRC"
mv "$tmp" "$SRC"
cd "$SRC"

log "replacing the go-libp2p fork with github.com/libp2p/go-libp2p@$KUBO_LIBP2P_VERSION"
go mod edit -dropreplace github.com/libp2p/go-libp2p \
	-require "github.com/libp2p/go-libp2p@$KUBO_LIBP2P_VERSION"
log "go mod tidy"
go mod tidy

log "building cmd/ipfs (several minutes on 2 cores)"
start=$(date +%s)
go build -trimpath -o "$BIN.tmp" ./cmd/ipfs
mv "$BIN.tmp" "$BIN"
log "built in $(( $(date +%s) - start ))s: $("$BIN" --version)"

if ! "$BIN" --version | grep -q "version $want\b"; then
	log "unexpected version: $("$BIN" --version)"; exit 1
fi
echo "$BIN"
