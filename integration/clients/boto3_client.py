"""boto3 steps of the clients suite: python3 boto3_client.py ENDPOINT BUCKET STEP [ARGS...]

Each step exits 0 on success and raises (non-zero exit) otherwise; boto3.sh runs
them as checks. Credentials and region come from the environment.
"""
import hashlib
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, bucket, step, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(retries={"max_attempts": 2, "mode": "standard"}))
MiB = 1024 * 1024


def keys(prefix, page_size=1000, v1=False):
    op = "list_objects" if v1 else "list_objects_v2"
    for page in s3.get_paginator(op).paginate(Bucket=bucket, Prefix=prefix,
                                              PaginationConfig={"PageSize": page_size}):
        yield from page.get("Contents", [])


def local_files(root):
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            yield os.path.relpath(p, root).replace(os.sep, "/"), p


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(MiB), b""):
            h.update(b)
    return h.hexdigest()


def sync_up(root, prefix):
    """Uploads the files whose size or MD5 differ from the listing; returns how many."""
    remote = {o["Key"]: o for o in keys(prefix)}
    n = 0
    for rel, path in sorted(local_files(root)):
        o = remote.get(prefix + rel)
        if o and o["Size"] == os.path.getsize(path) and o["ETag"].strip('"') == md5(path):
            continue
        s3.upload_file(path, bucket, prefix + rel)
        n += 1
    return n


if step == "mb":
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
elif step == "upload":  # upload LOCAL KEY: the managed transfer (multipart above 8 MiB)
    s3.upload_file(args[0], bucket, args[1], Config=TransferConfig(multipart_threshold=8 * MiB))
    assert s3.head_object(Bucket=bucket, Key=args[1])["ContentLength"] == os.path.getsize(args[0])
elif step == "put":  # put LOCAL KEY: one PutObject whatever the size
    with open(args[0], "rb") as f:
        s3.put_object(Bucket=bucket, Key=args[1], Body=f)
    assert s3.head_object(Bucket=bucket, Key=args[1])["ContentLength"] == os.path.getsize(args[0])
elif step == "download":  # download KEY LOCAL: the managed transfer (ranged GETs above 8 MiB)
    s3.download_file(bucket, args[0], args[1])
elif step == "get":  # get KEY LOCAL: one GetObject, streamed
    with open(args[1], "wb") as f:
        for chunk in s3.get_object(Bucket=bucket, Key=args[0])["Body"].iter_chunks(MiB):
            f.write(chunk)
elif step == "sync-up":  # sync-up ROOT PREFIX EXPECTED_UPLOADS
    n = sync_up(args[0], args[1])
    assert n == int(args[2]), "uploaded %d files, expected %s" % (n, args[2])
elif step == "sync-down":  # sync-down PREFIX ROOT
    for o in keys(args[0]):
        dst = os.path.join(args[1], o["Key"][len(args[0]):])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        s3.download_file(bucket, o["Key"], dst)
elif step == "list":  # list PREFIX EXPECTED: V2 and V1, paginated, same sorted keys
    v2 = [o["Key"] for o in keys(args[0], page_size=7)]
    v1 = [o["Key"] for o in keys(args[0], page_size=11, v1=True)]
    assert len(v2) == int(args[1]), "V2 listed %d" % len(v2)
    assert v2 == sorted(v2, key=lambda k: k.encode()), "V2 not in byte order"
    assert v1 == v2, "V1 and V2 differ"
elif step == "presign":  # presign KEY [SIGNATURE_VERSION]: prints a presigned GET URL
    c = s3 if len(args) < 2 else boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                              config=Config(signature_version=args[1]))
    print(c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": args[0]}, ExpiresIn=300))
elif step == "empty-then-put":  # an empty upload, then another upload on the same connection
    import tempfile, time
    with tempfile.NamedTemporaryFile() as empty:
        s3.upload_file(empty.name, bucket, "empty")
        t = time.monotonic()
        s3.upload_file(args[0], bucket, "after-empty")
        took = time.monotonic() - t
    assert took < 5, "the upload after an empty one took %.1fs (connection stalled until the read timeout)" % took
elif step == "copy":  # copy SRC DST
    r = s3.copy_object(Bucket=bucket, Key=args[1], CopySource={"Bucket": bucket, "Key": args[0]})
    src = s3.head_object(Bucket=bucket, Key=args[0])
    assert r["CopyObjectResult"]["ETag"] == src["ETag"], (r, src["ETag"])
elif step == "metadata":  # user metadata comes back with the lower-case names S3 stores
    s3.put_object(Bucket=bucket, Key="meta", Body=b"m", Metadata={"mtime": "1700000000", "Mixed-Case": "v"})
    got = s3.head_object(Bucket=bucket, Key="meta")["Metadata"]
    assert got == {"mtime": "1700000000", "mixed-case": "v"}, "HeadObject Metadata = %r" % got
elif step == "rm-recursive":
    batch = []
    for o in keys(""):
        batch.append({"Key": o["Key"]})
        if len(batch) == 1000:
            assert not s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True}).get("Errors")
            batch = []
    if batch:
        assert not s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True}).get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
elif step == "versions":  # a versioned bucket: versions listed, read by ID, emptied version by version
    vb = bucket + "-versions"
    s3.create_bucket(Bucket=vb)
    s3.put_bucket_versioning(Bucket=vb, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=vb)["Status"] == "Enabled"
    ids = [s3.put_object(Bucket=vb, Key="k", Body=body)["VersionId"] for body in (b"one", b"two")]
    assert ids[0] != ids[1], ids
    assert s3.get_object(Bucket=vb, Key="k", VersionId=ids[0])["Body"].read() == b"one"
    assert s3.get_object(Bucket=vb, Key="k")["Body"].read() == b"two"
    marker = s3.delete_object(Bucket=vb, Key="k")
    assert marker["DeleteMarker"], marker
    listed = s3.list_object_versions(Bucket=vb)
    assert sorted(v["VersionId"] for v in listed["Versions"]) == sorted(ids), listed
    assert [m["IsLatest"] for m in listed["DeleteMarkers"]] == [True], listed
    for v in listed["Versions"] + listed["DeleteMarkers"]:
        s3.delete_object(Bucket=vb, Key=v["Key"], VersionId=v["VersionId"])
    assert not s3.list_object_versions(Bucket=vb).get("Versions")
    s3.delete_bucket(Bucket=vb)
elif step == "rb":
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
else:
    raise SystemExit("unknown step " + step)
