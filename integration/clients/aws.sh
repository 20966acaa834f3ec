# aws cli scenario; sourced by run.sh with EP (endpoint), W (work dir), B (bucket), F (fixtures).
echo "aws: $(command -v aws) $(aws --version 2>&1)"
mkdir -p "$W"
printf '[default]\nregion = us-east-1\n' >"$W/aws.cfg"
# Same, with a multipart threshold above 100 MiB: the big file goes up as one PutObject.
printf '[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 1GB\n' >"$W/aws-single.cfg"
# Presigned URLs: the default signature (V2 in aws cli v1, V4 in v2) and V4 asked for.
printf '[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n' >"$W/aws-v4.cfg"
export AWS_CONFIG_FILE=$W/aws.cfg AWS_SHARED_CREDENTIALS_FILE=$W/none
aws_() { aws --endpoint-url "$EP" "$@"; }
awsapi_() { aws --endpoint-url "$EP" "$@"; }
export -f aws_ awsapi_

check mb                    'aws_ s3 mb "s3://$B"'
check ls-buckets            'aws_ s3 ls | grep >/dev/null " $B$"'
check put-1KiB              'aws_ s3 cp --no-progress "$F/small" "s3://$B/small"'
check get-1KiB              'aws_ s3 cp --no-progress "s3://$B/small" "$W/small.out" && cmp "$F/small" "$W/small.out"'
check put-100MiB-multipart  'aws_ s3 cp --no-progress "$F/big" "s3://$B/big-multipart"'
check get-100MiB-multipart  'aws_ s3 cp --no-progress "s3://$B/big-multipart" "$W/big-multipart.out" && cmp "$F/big" "$W/big-multipart.out"'
check put-100MiB-single     'AWS_CONFIG_FILE=$W/aws-single.cfg aws_ s3 cp --no-progress "$F/big" "s3://$B/big-single"'
check get-100MiB-single     'aws_ s3 cp --no-progress "s3://$B/big-single" "$W/big-single.out" && cmp "$F/big" "$W/big-single.out"'
check sync-up               'aws_ s3 sync --no-progress "$F/tree" "s3://$B/tree" >"$W/sync1.log" && test "$(grep -c "^upload:" "$W/sync1.log")" -eq 200'
check sync-up-under-30s     'took=$(grep -oE "aws.sync-up [0-9]+" "$W/timings" | cut -d" " -f2); ((took < 30)) || { echo "sync of 200 small files took ${took}s"; exit 1; }'
check sync-again-transfers-nothing \
                            'out=$(aws_ s3 sync --no-progress "$F/tree" "s3://$B/tree"); test -z "$out" || { echo "$out"; exit 1; }'
check sync-again-dryrun-nothing \
                            'out=$(aws_ s3 sync --no-progress --dryrun "$F/tree" "s3://$B/tree"); test -z "$out" || { echo "$out"; exit 1; }'
check sync-down-diff        'mkdir "$W/down" && aws_ s3 sync --no-progress "s3://$B/tree" "$W/down" >/dev/null && diff -r "$F/tree" "$W/down"'
check ls-recursive          'n=$(aws_ s3 ls --recursive "s3://$B/tree/" | wc -l); test "$n" -eq 200 || { echo "listed $n of 200"; exit 1; }'
check ls-recursive-paged    'n=$(awsapi_ s3api list-objects-v2 --bucket "$B" --prefix tree/ --page-size 7 --query "length(Contents)"); test "$n" -eq 200 || { echo "listed $n of 200"; exit 1; }'
sig=default; [[ $(aws_ s3 presign "s3://$B/small") == *AWSAccessKeyId=* ]] && sig=sigv2
check presign-$sig-curl    'url=$(aws_ s3 presign "s3://$B/small" --expires-in 300) && curl -fsS "$url" -o "$W/presigned.out" && cmp "$F/small" "$W/presigned.out"'
check presign-sigv4-curl    'url=$(AWS_CONFIG_FILE=$W/aws-v4.cfg aws_ s3 presign "s3://$B/small" --expires-in 300) && [[ $url == *X-Amz-Signature=* ]] && curl -fsS "$url" -o "$W/presigned4.out" && cmp "$F/small" "$W/presigned4.out"'
check copy-server-side      'aws_ s3 cp --no-progress "s3://$B/small" "s3://$B/copy/small" && aws_ s3 cp --no-progress "s3://$B/copy/small" "$W/copy.out" && cmp "$F/small" "$W/copy.out"'
# Versioning on its own bucket (its versions keep it from being removed by rm --recursive).
V=$B-ver
export V
check versioning-enable     'awsapi_ s3api create-bucket --bucket "$V" >/dev/null && awsapi_ s3api put-bucket-versioning --bucket "$V" --versioning-configuration Status=Enabled && test "$(awsapi_ s3api get-bucket-versioning --bucket "$V" --query Status --output text)" = Enabled'
check versioning-versions   'v1=$(awsapi_ s3api put-object --bucket "$V" --key "a b" --body "$F/small" --query VersionId --output text) && v2=$(awsapi_ s3api put-object --bucket "$V" --key "a b" --body "$F/small" --query VersionId --output text) && test -n "$v1" && test "$v1" != "$v2" && awsapi_ s3api get-object --bucket "$V" --key "a b" --version-id "$v1" "$W/v1.out" >/dev/null && cmp "$F/small" "$W/v1.out"'
check versioning-delete-marker \
                            'dm=$(awsapi_ s3api delete-object --bucket "$V" --key "a b" --query DeleteMarker --output text) && test "$dm" = True && ! awsapi_ s3api head-object --bucket "$V" --key "a b" 2>/dev/null && test "$(awsapi_ s3api list-object-versions --bucket "$V" --query "length(Versions)")" -eq 2 && test "$(awsapi_ s3api list-object-versions --bucket "$V" --query "DeleteMarkers[0].IsLatest")" = true'
check versioning-paged      'n=$(awsapi_ s3api list-object-versions --bucket "$V" --page-size 1 --query "length(Versions)"); test "$n" -eq 2 || { echo "listed $n of 2"; exit 1; }'
check versioning-cleanup    'awsapi_ s3api list-object-versions --bucket "$V" --query "[Versions,DeleteMarkers][][].[Key,VersionId]" --output text | while IFS=$'"'"'\t'"'"' read -r k id; do awsapi_ s3api delete-object --bucket "$V" --key "$k" --version-id "$id" >/dev/null; done && awsapi_ s3api delete-bucket --bucket "$V"'
check cors                  'awsapi_ s3api put-bucket-cors --bucket "$B" --cors-configuration "{\"CORSRules\":[{\"AllowedOrigins\":[\"https://app.example.com\"],\"AllowedMethods\":[\"GET\"]}]}" && test "$(awsapi_ s3api get-bucket-cors --bucket "$B" --query "CORSRules[0].AllowedMethods[0]" --output text)" = GET && curl -fsS -o /dev/null -X OPTIONS -H "Origin: https://app.example.com" -H "Access-Control-Request-Method: GET" "$EP/$B/small" && awsapi_ s3api delete-bucket-cors --bucket "$B"'
check rm-recursive          'aws_ s3 rm --recursive "s3://$B" >/dev/null && test -z "$(aws_ s3 ls --recursive "s3://$B")"'
check rb                    'aws_ s3 rb "s3://$B" && ! aws_ s3 ls | grep >/dev/null " $B$"'
