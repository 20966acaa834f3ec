#!/usr/bin/env bash
# Real command-line S3 clients against s3mesh: for each tool (aws cli, boto3,
# rclone, s3cmd) a fresh node on a free loopback port with a fresh data dir,
# the tool's scenario (clients/<tool>.sh), then SIGTERM and a check of exit 0.
#
#   bash integration/clients/run.sh                 # every tool
#   bash integration/clients/run.sh rclone s3cmd    # some tools
#   S3MESH_CLIENTS_KEEP=1 bash integration/clients/run.sh   # keep work dir and node logs
#
# Prints one line per check ("ok", "FAIL", "xfail", "XPASS") and ends with
# exactly "N passed, N failed". Checks named in known-failures.txt report
# "xfail" when they fail and "XPASS" (counted as failed) when they pass, so
# that list stays honest. Install the tools with: bash integration/install.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

tools=("$@")
((${#tools[@]})) || tools=(aws boto3 rclone s3cmd)
CHECK_TIMEOUT=${S3MESH_CLIENTS_CHECK_TIMEOUT:-300}   # seconds any one check may take

work=$(mktemp -d "${TMPDIR:-/tmp}/s3mesh-clients.XXXXXX")
node_pid=
cleanup() {
  if [[ -n $node_pid ]]; then kill -TERM "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null; fi
  if [[ -n ${S3MESH_CLIENTS_KEEP:-} ]]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0 fail=0 xfail=0
declare -A known=()
while read -r id _; do
  [[ -n $id && $id != \#* ]] && known[$id]=1
done <"$here/known-failures.txt"

# check ID 'bash body': runs the body in a child bash (set -euo pipefail) with
# the exported helpers and variables, bounded by CHECK_TIMEOUT.
check() {
  local id=$tool.$1 body=$2 out rc t0=$EPOCHREALTIME took
  out=$(timeout -k 10 "$CHECK_TIMEOUT" bash -c "set -euo pipefail; $body" 2>&1 </dev/null); rc=$?
  took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1fs", b-a}')
  echo "$id ${took%s}" >>"$W/timings"
  ((rc == 124)) && out+=$'\n'"(timed out after ${CHECK_TIMEOUT}s)"
  if [[ -n ${known[$id]:-} ]]; then
    if ((rc == 0)); then
      fail=$((fail+1)); echo "XPASS $id (listed in known-failures.txt: remove it)"
    else
      xfail=$((xfail+1)); echo "xfail $id: $(grep -v '^\s*$' <<<"$out" | tail -1 | cut -c1-160)"
    fi
  elif ((rc == 0)); then
    pass=$((pass+1)); echo "ok    $id ($took)"
  else
    fail=$((fail+1)); echo "FAIL  $id ($took)"; grep -v '^\s*$' <<<"$out" | tail -15 | sed 's/^/      /'
  fi
}

echo "== build"
bin=$work/s3mesh
if ! go build -o "$bin" ./cmd/s3mesh; then echo "FAIL  build"; echo "0 passed, 1 failed"; exit 1; fi

# One Python that has boto3: the first python3 in PATH, else Debian's.
PY=python3
$PY -c 'import boto3' 2>/dev/null || PY=/usr/bin/python3

echo "== fixtures"
F=$work/fixtures
mkdir -p "$F"
head -c 1024 /dev/urandom >"$F/small"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$F/big"
$PY - "$F/tree" <<'PY'
import os, random, sys
# 200 files of random content in nested folders; a few awkward names, one empty file.
root, rnd = sys.argv[1], random.Random()
for i in range(200):
    d = os.path.join(root, "d%d" % (i % 4), "e%d" % (i % 3), *(["deep", "er"] if i % 10 == 0 else []))
    os.makedirs(d, exist_ok=True)
    name = {7: "with space %d.txt", 8: "plus+sign %d.bin", 9: "ümlaut-%d.dat"}.get(i % 25, "f%03d.bin") % i
    size = 0 if i == 0 else rnd.choice([rnd.randrange(1, 512), rnd.randrange(512, 65536)])
    with open(os.path.join(d, name), "wb") as f:
        f.write(os.urandom(size))
PY
echo "1 KiB, 100 MiB, tree of $(find "$F/tree" -type f | wc -l) files"

export S3MESH_ACCESS_KEY=CLIENTSUITEACCESSKEY S3MESH_SECRET_KEY=clients-suite-secret-key-0123456789abcdef
export AWS_ACCESS_KEY_ID=$S3MESH_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3MESH_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN
export F PY HERE=$here

# start_node DIR: starts a node with a fresh data dir on a free loopback port; sets EP.
start_node() {
  local dir=$1
  mkdir -p "$dir"
  "$bin" serve --data "$dir/data" --listen 127.0.0.1:0 --p2p-listen /ip4/127.0.0.1/tcp/0 >"$dir/node.out" 2>"$dir/node.err" &
  node_pid=$!
  EP=
  for _ in $(seq 1 300); do
    EP=$(grep -oE 'S3 endpoint http://[^ ]+' "$dir/node.out" | awk '{print $3}')
    [[ -n $EP ]] && curl -fs "$EP/health/ready" >/dev/null && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "node did not start"; tail -20 "$dir/node.err"; return 1
}

# stop_node: SIGTERM, bounded wait, exit status 0 is a check.
stop_node() {
  local rc
  kill -TERM "$node_pid"
  for _ in $(seq 1 400); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$node_pid" 2>/dev/null; then
    kill -KILL "$node_pid"; wait "$node_pid" 2>/dev/null
    fail=$((fail+1)); echo "FAIL  $tool.sigterm-exit-0: still running 40s after SIGTERM"
  else
    wait "$node_pid"; rc=$?
    if ((rc == 0)); then pass=$((pass+1)); echo "ok    $tool.sigterm-exit-0"
    else fail=$((fail+1)); echo "FAIL  $tool.sigterm-exit-0: exit status $rc"; tail -5 "$W/node.err" | sed 's/^/      /'; fi
  fi
  node_pid=
}

for tool in "${tools[@]}"; do
  if [[ ! -f $here/$tool.sh ]]; then echo "FAIL  $tool: no scenario $here/$tool.sh"; fail=$((fail+1)); continue; fi
  echo "== $tool"
  case $tool in
    boto3) have=$PY; "$PY" -c 'import boto3' 2>/dev/null || have= ;;
    *) have=$(command -v "$tool") ;;
  esac
  if [[ -z $have ]]; then fail=$((fail+1)); echo "FAIL  $tool: not installed (bash integration/install.sh)"; continue; fi
  export W=$work/$tool B=cli-$tool
  if ! start_node "$W"; then fail=$((fail+1)); echo "FAIL  $tool.start-node"; continue; fi
  export EP
  echo "node at $EP (data $W/data)"
  (
    # shellcheck source=/dev/null
    source "$here/$tool.sh"
    echo "$pass $fail $xfail" >"$W/counts"
  )
  read -r pass fail xfail <"$W/counts" 2>/dev/null || { fail=$((fail+1)); echo "FAIL  $tool: scenario aborted"; }
  stop_node
  if [[ -z ${S3MESH_CLIENTS_KEEP:-} ]]; then rm -rf "$W/data" "$W"/big*; fi
done

echo "($xfail known failures)"
echo "$pass passed, $fail failed"
((fail == 0))
