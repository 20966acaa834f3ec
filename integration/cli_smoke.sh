#!/usr/bin/env bash
# Drives a freshly started "s3mesh serve" with the aws cli and boto3, as a
# user would. Prints "N passed, N failed" and exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
bin="$work/s3mesh"
go build -o "$bin" ./cmd/s3mesh || exit 1
export S3MESH_ACCESS_KEY=SMOKETESTACCESSKEY01 S3MESH_SECRET_KEY=smoke-test-secret-key-abcdefghijklmnopqrst
"$bin" serve --data "$work/data" --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  ep=$(grep -oE 'S3 endpoint http://[^ ]+' "$work/stdout" | awk '{print $3}')
  [[ -n $ep ]] && curl -fs "$ep/health/ready" >/dev/null && break
  sleep 0.1
done
[[ -n ${ep:-} ]] || { echo "node did not start"; cat "$work/stderr"; exit 1; }
echo "node at $ep"

export AWS_ACCESS_KEY_ID=$S3MESH_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3MESH_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
pass=0 fail=0
check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then pass=$((pass+1)); echo "ok   $name"
  else fail=$((fail+1)); echo "FAIL $name"; echo "$out" | sed 's/^/     /' | head -20; fi
}
aws_() { aws --endpoint-url "$ep" "$@"; }

head -c 1024 /dev/urandom >"$work/small"
head -c $((7*1024*1024+5)) /dev/urandom >"$work/big"
mkdir -p "$work/tree/a/b" "$work/tree/c"
for i in 1 2 3; do echo "file $i" >"$work/tree/a/b/f$i.txt"; echo "g $i" >"$work/tree/c/g$i"; done

check "aws s3 mb" aws_ s3 mb s3://smoke
check "aws s3 ls (buckets)" bash -c "aws --endpoint-url $ep s3 ls | grep -q smoke"
check "aws s3 cp 1 KiB up" aws_ s3 cp "$work/small" s3://smoke/small
check "aws s3 cp 7 MiB up" aws_ s3 cp "$work/big" "s3://smoke/dir/big file+x"
check "aws s3 cp down + compare" bash -c "aws --endpoint-url $ep s3 cp s3://smoke/small $work/small.out && cmp $work/small $work/small.out"
check "aws s3 cp 7 MiB down + compare" bash -c "aws --endpoint-url $ep s3 cp 's3://smoke/dir/big file+x' $work/big.out && cmp $work/big $work/big.out"
check "aws s3 sync up" aws_ s3 sync "$work/tree" s3://smoke/tree
check "aws s3 sync again transfers nothing" bash -c "test -z \"\$(aws --endpoint-url $ep s3 sync $work/tree s3://smoke/tree)\""
check "aws s3 ls --recursive" bash -c "test \$(aws --endpoint-url $ep s3 ls --recursive s3://smoke/tree/ | wc -l) -eq 6"
check "aws s3api head-object has x-s3mesh-cid" bash -c "aws --endpoint-url $ep s3api head-object --bucket smoke --key small --debug 2>&1 | grep -qi 'x-s3mesh-cid'"
check "aws s3api get-object --range" bash -c "aws --endpoint-url $ep s3api get-object --bucket smoke --key small --range bytes=10-19 $work/range.out >/dev/null && cmp <(head -c 20 $work/small | tail -c 10) $work/range.out"
check "aws s3 presign + curl" bash -c "curl -fs \"\$(aws --endpoint-url $ep s3 presign s3://smoke/small)\" -o $work/presigned.out && cmp $work/small $work/presigned.out"
check "NoSuchKey is a 404 S3 error" bash -c "aws --endpoint-url $ep s3api head-object --bucket smoke --key nope 2>&1 | grep -q '404'"
check "BucketNotEmpty" bash -c "aws --endpoint-url $ep s3api delete-bucket --bucket smoke 2>&1 | grep -q BucketNotEmpty"
check "boto3 put/get/list/delete_objects" python3 - "$ep" <<'PY'
import sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.create_bucket(Bucket="boto")
keys = ["plain", "sp ace", "plus+sign", "pct%41", "semi;colon", "a//b", "../up", "trail/", "\U0001D11E clef"]
for k in keys:
    s3.put_object(Bucket="boto", Key=k, Body=k.encode() * 100, Metadata={"empty": "", "x": "y"})
for k in keys:
    o = s3.get_object(Bucket="boto", Key=k)
    assert o["Body"].read() == k.encode() * 100, k
    assert o["Metadata"] == {"empty": "", "x": "y"}, o["Metadata"]
    assert o["ResponseMetadata"]["HTTPHeaders"].get("x-s3mesh-cid", "").startswith("b"), k
listed = [c["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="boto", PaginationConfig={"PageSize": 2}) for c in p.get("Contents", [])]
assert listed == sorted(keys, key=lambda k: k.encode()), listed
v1 = [c["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket="boto", PaginationConfig={"PageSize": 3}) for c in p.get("Contents", [])]
assert v1 == listed, v1
r = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
assert not r.get("Errors"), r
assert s3.list_objects_v2(Bucket="boto")["KeyCount"] == 0
try:
    s3.put_object(Bucket="Bad_Bucket", Key="k", Body=b"x")
    raise SystemExit("expected InvalidBucketName")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidBucketName", e.response
s3.delete_bucket(Bucket="boto")
PY
check "aws s3 rm --recursive" aws_ s3 rm --recursive s3://smoke
check "aws s3 rb" aws_ s3 rb s3://smoke
kill -TERM "$pid"
if wait "$pid"; then pass=$((pass+1)); echo "ok   SIGTERM exits 0"
else fail=$((fail+1)); echo "FAIL SIGTERM exits 0"; tail -5 "$work/stderr"; fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
