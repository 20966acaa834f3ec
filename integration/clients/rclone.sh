# rclone scenario; sourced by run.sh with EP, W, B, F.
# rclone's s3 backend (aws-sdk-go v1) fails to load AWS_CA_BUNDLE: unset it.
unset AWS_CA_BUNDLE
mkdir -p "$W"
: >"$W/rclone.conf"
export RCLONE_CONFIG=$W/rclone.conf RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=2
export RCLONE_CONFIG_S3MESH_TYPE=s3 RCLONE_CONFIG_S3MESH_PROVIDER=Other RCLONE_CONFIG_S3MESH_ENDPOINT=$EP \
       RCLONE_CONFIG_S3MESH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_S3MESH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
       RCLONE_CONFIG_S3MESH_REGION=us-east-1 RCLONE_CONFIG_S3MESH_FORCE_PATH_STYLE=true
echo "rclone: $(command -v rclone) $(rclone version 2>/dev/null | head -1)"
R=s3mesh:$B
export R
# no_change LOG: the sync log shows no transfer, deletion or modtime update, and checked every file.
no_change() {
  ! grep -E 'Copied|Updated|Deleted|Moved|Transferred:[[:space:]]+[1-9][0-9]* / ' "$1" \
    && grep -qE 'Checks:[[:space:]]+200 / 200' "$1" || { cat "$1"; return 1; }
}
export -f no_change

check mkdir                 'rclone mkdir "$R" && rclone lsd s3mesh: | grep >/dev/null " $B$"'
check put-1KiB              'rclone copyto "$F/small" "$R/small"'
check get-1KiB              'rclone copyto "$R/small" "$W/small.out" && cmp "$F/small" "$W/small.out"'
# rclone uploads in one PutObject below --s3-upload-cutoff (200 MiB by default)...
check put-100MiB-single     'rclone copyto "$F/big" "$R/big-single"'
check get-100MiB-single     'rclone copyto "$R/big-single" "$W/big-single.out" && cmp "$F/big" "$W/big-single.out"'
# ... and as a multipart upload above it.
check put-100MiB-multipart  'rclone copyto --s3-upload-cutoff 16M --s3-chunk-size 16M "$F/big" "$R/big-multipart"'
check get-100MiB-multipart  'rclone copyto --multi-thread-cutoff 16M --multi-thread-streams 4 "$R/big-multipart" "$W/big-multipart.out" && cmp "$F/big" "$W/big-multipart.out"'
check get-100MiB-multithread 'rclone copyto --multi-thread-cutoff 16M --multi-thread-streams 4 "$R/big-single" "$W/big-mt.out" && cmp "$F/big" "$W/big-mt.out"'
check sync-up               'rclone sync -v "$F/tree" "$R/tree" 2>"$W/sync1.log" && test "$(grep -c "Copied (new)" "$W/sync1.log")" -eq 200 || { tail -20 "$W/sync1.log"; exit 1; }'
check sync-again-transfers-nothing 'rclone sync -v "$F/tree" "$R/tree" 2>"$W/sync2.log" && no_change "$W/sync2.log"'
check sync-again-dryrun-nothing    'rclone sync -v --dry-run "$F/tree" "$R/tree" 2>"$W/sync3.log" && ! grep -qE "Skipped|Copied|Deleted" "$W/sync3.log" || { cat "$W/sync3.log"; exit 1; }'
check check-after-sync      'rclone check "$F/tree" "$R/tree" 2>&1 | tee "$W/check.log" | grep >/dev/null "0 differences found" && grep -q "200 matching files" "$W/check.log" || { cat "$W/check.log"; exit 1; }'
check modtime-preserved     'rclone lsl "$R/tree" >"$W/remote.lsl" && rclone lsl "$F/tree" >"$W/local.lsl" && diff <(sort -k4 "$W/local.lsl") <(sort -k4 "$W/remote.lsl")'
check sync-down-diff        'mkdir "$W/down" && rclone sync "$R/tree" "$W/down" && diff -r "$F/tree" "$W/down"'
check ls-recursive          'n=$(rclone lsf -R --files-only "$R/tree" | wc -l); test "$n" -eq 200 || { echo "listed $n of 200"; exit 1; }'
check ls-recursive-paged    'n=$(rclone lsf -R --files-only --s3-list-chunk 7 "$R/tree" | wc -l); test "$n" -eq 200 || { echo "listed $n of 200"; exit 1; }'
check link-curl             'url=$(rclone link --expire 5m "$R/small") && curl -fsS "$url" -o "$W/link.out" && cmp "$F/small" "$W/link.out"'
check copy-server-side      'rclone copyto "$R/small" "$R/copy/small" 2>&1 && rclone copyto "$R/copy/small" "$W/copy.out" && cmp "$F/small" "$W/copy.out"'
check touch-new             'rclone touch "$R/touched" && test "$(rclone size --json "$R/touched")" = "{\"count\":1,\"bytes\":0,\"sizeless\":0}" || rclone lsl "$R/touched" | grep >/dev/null "^ *0 "'
check touch-existing-modtime 'rclone touch -t 2001-02-03T04:05:06 "$R/small" && rclone lsl "$R/small" | grep >/dev/null "2001-02-03 04:05:06" || { rclone lsl "$R/small"; exit 1; }'
check delete-recursive      'rclone delete "$R" && test -z "$(rclone lsf -R "$R" --files-only)"'
check rmdir                 'rclone rmdirs "$R" && ! rclone lsd s3mesh: | grep >/dev/null " $B$"'
# A versioned bucket: rclone lists the older version with --s3-versions.
RV=s3mesh:$B-versions
export RV
check versions              'rclone mkdir "$RV" && rclone backend versioning "$RV" Enabled | grep >/dev/null Enabled && rclone copyto "$F/small" "$RV/k" && printf other >"$W/other" && rclone copyto "$W/other" "$RV/k" && n=$(rclone lsf --s3-versions "$RV" | wc -l) && test "$n" -eq 2 || { echo "listed $n of 2 versions:"; rclone lsf --s3-versions "$RV"; exit 1; }'
