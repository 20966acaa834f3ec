# Helpers to run Kubo nodes on a closed network (loopback or network
# namespaces). Source this file:
#
#   . integration/kubo/node.sh
#   kubo_setup                             # sets IPFS_BIN (runs build.sh if unset)
#   kubo_init  "$dir"                      # new repo, closed-network config
#   kubo_start "$dir"                      # daemon in the background, waits for the API
#   kubo "$dir" add -Q --cid-version=1 file
#   kubo "$dir" swarm connect "$(kubo_addr "$other")"
#   kubo_stop  "$dir"                      # by PID; bounded
#
# Environment:
#   IPFS_BIN           the ipfs binary (default: built/cached by build.sh)
#   KUBO_LISTEN_IP     address the swarm listens on (default 127.0.0.1); in a
#                      network namespace use that namespace's address
#   KUBO_NETNS         if set, the daemon runs inside this network namespace
#                      (ip netns exec); API and gateway stay on its loopback,
#                      so CLI calls made through `kubo` run there too
#   KUBO_START_TIMEOUT seconds to wait for the API (default 60)
#
# Every daemon gets: no bootstrap peers, Routing.Type none, no mDNS, no
# AutoConf/AutoTLS/NAT port mapping/relays, no HTTP retrieval, no telemetry,
# no providing; swarm on TCP only at $KUBO_LISTEN_IP, port 0 (chosen by the
# kernel); API and gateway on 127.0.0.1 port 0 (the API address is read from
# $IPFS_PATH/api by the CLI); Swarm.ResourceMgr left at its defaults. Peers
# find each other only through `ipfs swarm connect` (or Peering.Peers).

# shellcheck shell=bash

_KUBO_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Never report anywhere.
export IPFS_TELEMETRY=off
export DO_NOT_TRACK=1

# kubo_setup: make sure IPFS_BIN is set (building/caching Kubo if needed).
# Call it once in the main shell; the other helpers call it too, but a call
# inside $(...) cannot keep the result.
kubo_setup() {
	if [[ -z "${IPFS_BIN:-}" ]]; then
		IPFS_BIN=$("$_KUBO_HERE/build.sh" | tail -n 1) || return 1
		export IPFS_BIN
	fi
}

# kubo_bin: print the ipfs binary path.
kubo_bin() {
	kubo_setup && echo "$IPFS_BIN"
}

# kubo DIR ARGS...: run the ipfs CLI against the repo (and daemon) in DIR.
kubo() {
	local dir=$1
	shift
	kubo_setup || return 1
	if [[ -n "${KUBO_NETNS:-}" ]]; then
		IPFS_PATH="$dir" ip netns exec "$KUBO_NETNS" "$IPFS_BIN" "$@"
	else
		IPFS_PATH="$dir" "$IPFS_BIN" "$@"
	fi
}

# kubo_init DIR: create a repo configured for a closed network.
kubo_init() {
	local dir=$1 ip=${KUBO_LISTEN_IP:-127.0.0.1}
	mkdir -p "$dir"
	kubo "$dir" init --profile=test >"$dir/init.log" 2>&1 || { cat "$dir/init.log" >&2; return 1; }
	kubo "$dir" config --json Bootstrap '[]' &&
		kubo "$dir" config Routing.Type none &&
		kubo "$dir" config --json Addresses.Swarm "[\"/ip4/$ip/tcp/0\"]" &&
		kubo "$dir" config --json Addresses.API '["/ip4/127.0.0.1/tcp/0"]' &&
		kubo "$dir" config --json Addresses.Gateway '["/ip4/127.0.0.1/tcp/0"]' &&
		kubo "$dir" config --json Addresses.Announce "[]" &&
		kubo "$dir" config --json Discovery.MDNS.Enabled false &&
		kubo "$dir" config --json AutoConf.Enabled false &&
		kubo "$dir" config --json AutoTLS.Enabled false &&
		kubo "$dir" config --json Swarm.DisableNatPortMap true &&
		kubo "$dir" config --json Swarm.RelayClient.Enabled false &&
		kubo "$dir" config --json Swarm.RelayService.Enabled false &&
		kubo "$dir" config AutoNAT.ServiceMode disabled &&
		kubo "$dir" config --json HTTPRetrieval.Enabled false &&
		kubo "$dir" config --json Provide.Enabled false &&
		kubo "$dir" config --json Plugins.Plugins.telemetry.Config '{"Mode":"off"}' ||
		return 1
}

# kubo_start DIR [EXTRA DAEMON ARGS...]: start the daemon, wait for its API
# (bounded by KUBO_START_TIMEOUT). The PID is kept in DIR/daemon.pid, the
# output in DIR/daemon.log.
kubo_start() {
	local dir=$1
	shift
	local timeout=${KUBO_START_TIMEOUT:-60} pid i
	kubo_setup || return 1
	rm -f "$dir/api"
	if [[ -n "${KUBO_NETNS:-}" ]]; then
		IPFS_PATH="$dir" ip netns exec "$KUBO_NETNS" "$IPFS_BIN" daemon --offline=false "$@" \
			>"$dir/daemon.log" 2>&1 </dev/null &
	else
		IPFS_PATH="$dir" "$IPFS_BIN" daemon --offline=false "$@" >"$dir/daemon.log" 2>&1 </dev/null &
	fi
	pid=$!
	echo "$pid" >"$dir/daemon.pid"
	for ((i = 0; i < timeout * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "kubo: daemon in $dir exited:" >&2
			tail -n 20 "$dir/daemon.log" >&2
			return 1
		fi
		if grep -qs "Daemon is ready" "$dir/daemon.log" && kubo "$dir" id >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "kubo: daemon in $dir not ready after ${timeout}s" >&2
	kubo_stop "$dir"
	return 1
}

# kubo_stop DIR: SIGTERM the daemon started by kubo_start, SIGKILL after 15 s.
kubo_stop() {
	local dir=$1 pid i
	[[ -f "$dir/daemon.pid" ]] || return 0
	pid=$(cat "$dir/daemon.pid")
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/daemon.pid"
}

# kubo_addr DIR: one dialable multiaddr of the running daemon, with /p2p/ID,
# on KUBO_LISTEN_IP (default 127.0.0.1).
kubo_addr() {
	local dir=$1 ip=${KUBO_LISTEN_IP:-127.0.0.1}
	kubo "$dir" id -f '<addrs>\n' | grep -m1 "^/ip4/$ip/tcp/"
}

# kubo_peer_id DIR
kubo_peer_id() {
	kubo "$1" id -f '<id>\n'
}
