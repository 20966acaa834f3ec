# s3cmd scenario; sourced by run.sh with EP, W, B, F.
mkdir -p "$W"
hostport=${EP#http://}
cat >"$W/s3cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $hostport
host_bucket = $hostport
use_https = False
signature_v2 = False
bucket_location = us-east-1
progress_meter = False
CFG
echo "s3cmd: $(command -v s3cmd) $(s3cmd --version 2>&1)"
s3c() { s3cmd -c "$W/s3cfg" "$@"; }
export -f s3c
S=s3://$B
export S

check mb                    's3c mb "$S" && s3c ls | grep >/dev/null " $S$"'
check put-1KiB              's3c put "$F/small" "$S/small"'
check get-1KiB              's3c get "$S/small" "$W/small.out" && cmp "$F/small" "$W/small.out"'
# s3cmd uploads files above multipart_chunk_size_mb (15 MiB) as multipart uploads ...
check put-100MiB-multipart  's3c put "$F/big" "$S/big-multipart"'
check get-100MiB-multipart  's3c get "$S/big-multipart" "$W/big-multipart.out" && cmp "$F/big" "$W/big-multipart.out"'
# ... unless told not to.
check put-100MiB-single     's3c put --disable-multipart "$F/big" "$S/big-single"'
check get-100MiB-single     's3c get "$S/big-single" "$W/big-single.out" && cmp "$F/big" "$W/big-single.out"'
check sync-up               's3c sync "$F/tree/" "$S/tree/" >"$W/sync1.log" && test "$(grep -c "^upload:" "$W/sync1.log")" -eq 200 || { tail "$W/sync1.log"; exit 1; }'
check sync-again-transfers-nothing 's3c sync "$F/tree/" "$S/tree/" >"$W/sync2.log" 2>&1 && ! grep -qE "^(upload|delete|remote copy):" "$W/sync2.log" || { cat "$W/sync2.log"; exit 1; }'
check sync-again-dryrun-nothing    's3c sync --dry-run "$F/tree/" "$S/tree/" >"$W/sync3.log" 2>&1 && ! grep -qE "^(upload|delete|remote copy):" "$W/sync3.log" || { cat "$W/sync3.log"; exit 1; }'
check sync-down-diff        'mkdir "$W/down" && s3c sync "$S/tree/" "$W/down/" >/dev/null && diff -r "$F/tree" "$W/down"'
check ls-recursive          'n=$(s3c ls --recursive "$S/tree/" | wc -l); test "$n" -eq 200 || { echo "listed $n of 200"; exit 1; }'
# s3cmd lists with ListObjects V1 (marker, no list-type=2).
check ls-uses-v1            's3c ls --recursive --debug "$S/tree/" 2>&1 | grep -E "Sending request method_string=.GET" >"$W/ls.debug"; grep -q . "$W/ls.debug" && ! grep -q "list-type" "$W/ls.debug"'
check signurl-sigv2-curl        'url=$(s3c signurl "$S/small" +300) && curl -fsS "$url" -o "$W/signed.out" && cmp "$F/small" "$W/signed.out"'
check copy-server-side      's3c cp "$S/small" "$S/copy/small" && s3c get "$S/copy/small" "$W/copy.out" && cmp "$F/small" "$W/copy.out"'
check info                  's3c info "$S/small" | grep -i >/dev/null "MD5 sum: *$(md5sum <"$F/small" | cut -d" " -f1)"'
check del-recursive         's3c del --recursive --force "$S" >/dev/null && test -z "$(s3c ls --recursive "$S")"'
check rb                    's3c rb "$S" && ! s3c ls | grep >/dev/null " $S$"'
