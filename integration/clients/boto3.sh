# boto3 scenario (steps in boto3_client.py); sourced by run.sh with EP, W, B, F, PY, HERE.
echo "boto3: $($PY -c 'import boto3, botocore, sys; print(sys.executable, "boto3", boto3.__version__, "botocore", botocore.__version__)')"
mkdir -p "$W"
export AWS_CONFIG_FILE=$W/none AWS_SHARED_CREDENTIALS_FILE=$W/none
b3() { "$PY" "$HERE/boto3_client.py" "$EP" "$B" "$@"; }
export -f b3

check mb                    'b3 mb'
check put-1KiB              'b3 upload "$F/small" small'
check get-1KiB              'b3 download small "$W/small.out" && cmp "$F/small" "$W/small.out"'
check put-100MiB-multipart  'b3 upload "$F/big" big-multipart'
check get-100MiB-multipart  'b3 download big-multipart "$W/big-multipart.out" && cmp "$F/big" "$W/big-multipart.out"'
check put-100MiB-single     'b3 put "$F/big" big-single'
check get-100MiB-single     'b3 get big-single "$W/big-single.out" && cmp "$F/big" "$W/big-single.out"'
check get-100MiB-ranged     'b3 download big-single "$W/big-ranged.out" && cmp "$F/big" "$W/big-ranged.out"'
check metadata-roundtrip    'b3 metadata'
check empty-then-put-no-stall 'b3 empty-then-put "$F/small"'
check sync-up               'b3 sync-up "$F/tree" tree/ 200'
check sync-up-under-30s     'took=$(grep -oE "boto3.sync-up [0-9]+" "$W/timings" | cut -d" " -f2); ((took < 30)) || { echo "sync of 200 small files took ${took}s"; exit 1; }'
check sync-again-transfers-nothing 'b3 sync-up "$F/tree" tree/ 0'
check sync-down-diff        'mkdir "$W/down" && b3 sync-down tree/ "$W/down" && diff -r "$F/tree" "$W/down"'
check ls-recursive          'b3 list tree/ 200'
check presign-sigv2-curl    'url=$(b3 presign small s3) && [[ $url == *AWSAccessKeyId=* ]] && curl -fsS "$url" -o "$W/presigned.out" && cmp "$F/small" "$W/presigned.out"'
check presign-sigv4-curl    'url=$(b3 presign small s3v4) && [[ $url == *X-Amz-Signature=* ]] && curl -fsS "$url" -o "$W/presigned4.out" && cmp "$F/small" "$W/presigned4.out"'
check copy-server-side      'b3 copy small copy/small && b3 get copy/small "$W/copy.out" && cmp "$F/small" "$W/copy.out"'
check rm-recursive          'b3 rm-recursive'
check versions              'b3 versions'
check rb                    'b3 rb'
