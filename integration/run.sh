#!/usr/bin/env bash
# The integration suite: real processes, real clients, heavy checks. CI runs
# it after the unit tests; run it by hand with: bash integration/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Kubo v0.43.1, the reference IPFS peer (built once, cached)"
S3MESH_KUBO=$(bash integration/kubo/build.sh | tail -n 1)
export S3MESH_KUBO

echo "== real-process, interop and heavy Go tests"
S3MESH_INTEGRATION=1 S3MESH_HEAVY=1 go test -count=1 -timeout 30m -v -run 'Process|Kubo|FlatHeap|Heavy' ./integration/ ./gateway/...

echo "== real command-line clients (aws cli, boto3, rclone, s3cmd; one fresh node per tool)"
bash integration/clients/run.sh
