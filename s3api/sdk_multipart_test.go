package s3api_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"s3mesh/s3api"
)

// TestSDKMultipartAndCopy drives multipart upload, part reads, copies,
// tagging and ACLs with the AWS SDK for Go v2, in both checksum modes: the
// default makes the uploader announce CRC32 and send each part with a
// checksum trailer.
func TestSDKMultipartAndCopy(t *testing.T) {
	t.Parallel()
	for _, mode := range []aws.RequestChecksumCalculation{aws.RequestChecksumCalculationWhenSupported, aws.RequestChecksumCalculationWhenRequired} {
		name := map[aws.RequestChecksumCalculation]string{aws.RequestChecksumCalculationWhenSupported: "when-supported", aws.RequestChecksumCalculationWhenRequired: "when-required"}[mode]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv := httptest.NewServer(e.h)
			defer srv.Close()
			c := sdkClient(srv, mode)
			ctx := context.Background()
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt1")}); err != nil {
				t.Fatal(err)
			}
			data := make([]byte, 2*s3api.MinPartSize+12345)
			for i := range data {
				data[i] = byte(i * 7)
			}
			up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = s3api.MinPartSize; u.Concurrency = 2 })
			out, err := up.Upload(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bkt1"), Key: aws.String("big obj"), Body: bytes.NewReader(data),
				Tagging: aws.String("team=infra"), ACL: types.ObjectCannedACLPrivate,
			})
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			if len(out.CompletedParts) != 3 || out.ETag == nil {
				t.Fatalf("upload output: %d parts, ETag %v", len(out.CompletedParts), out.ETag)
			}

			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt1"), Key: aws.String("big obj"), PartNumber: aws.Int32(3)})
			if err != nil {
				t.Fatalf("get part 3: %v", err)
			}
			part, _ := io.ReadAll(get.Body)
			get.Body.Close()
			if !bytes.Equal(part, data[2*s3api.MinPartSize:]) || aws.ToInt32(get.PartsCount) != 3 || aws.ToInt32(get.TagCount) != 1 {
				t.Errorf("part 3: %d bytes, parts count %d, tag count %d", len(part), aws.ToInt32(get.PartsCount), aws.ToInt32(get.TagCount))
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt1"), Key: aws.String("big obj"), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToInt64(head.ContentLength) != int64(len(data)) {
				t.Errorf("HEAD length %d", aws.ToInt64(head.ContentLength))
			}
			if mode == aws.RequestChecksumCalculationWhenSupported && aws.ToString(head.ChecksumCRC32) == "" {
				t.Errorf("no CRC32 on an object uploaded with checksums: type %q", head.ChecksumType)
			}

			// Copy across keys, replacing metadata.
			cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{
				Bucket: aws.String("bkt1"), Key: aws.String("copy"), CopySource: aws.String("bkt1/big%20obj"),
				MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("application/x-test"),
			})
			if err != nil {
				t.Fatalf("copy: %v", err)
			}
			if aws.ToString(cp.CopyObjectResult.ETag) != aws.ToString(out.ETag) {
				t.Errorf("copy ETag %s, want %s", aws.ToString(cp.CopyObjectResult.ETag), aws.ToString(out.ETag))
			}
			_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt1"), Key: aws.String("copy"), CopySource: aws.String("bkt1/copy")})
			if err == nil {
				t.Error("copy onto itself without changes succeeded")
			}

			// UploadPartCopy of a range, then completion.
			mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt1"), Key: aws.String("assembled")})
			if err != nil {
				t.Fatal(err)
			}
			pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: aws.String("bkt1"), Key: aws.String("assembled"), UploadId: mu.UploadId, PartNumber: aws.Int32(1),
				CopySource: aws.String("bkt1/copy"), CopySourceRange: aws.String("bytes=10-109"),
			})
			if err != nil {
				t.Fatalf("upload part copy: %v", err)
			}
			parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt1"), Key: aws.String("assembled"), UploadId: mu.UploadId})
			if err != nil || len(parts.Parts) != 1 || aws.ToInt64(parts.Parts[0].Size) != 100 {
				t.Fatalf("list parts: %v %+v", err, parts)
			}
			uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt1")})
			if err != nil || len(uploads.Uploads) != 1 || aws.ToString(uploads.Uploads[0].UploadId) != aws.ToString(mu.UploadId) {
				t.Fatalf("list uploads: %v %+v", err, uploads)
			}
			if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: aws.String("bkt1"), Key: aws.String("assembled"), UploadId: mu.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}},
			}); err != nil {
				t.Fatalf("complete: %v", err)
			}
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt1"), Key: aws.String("assembled")})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if !bytes.Equal(b, data[10:110]) {
				t.Error("assembled content differs")
			}

			// Tagging and ACLs.
			if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt1"), Key: aws.String("copy"),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}}); err != nil {
				t.Fatalf("put tagging: %v", err)
			}
			tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt1"), Key: aws.String("copy")})
			if err != nil || len(tg.TagSet) != 1 || aws.ToString(tg.TagSet[0].Key) != "a" {
				t.Fatalf("get tagging: %v %+v", err, tg)
			}
			acl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bkt1"), Key: aws.String("copy")})
			if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl ||
				acl.Grants[0].Grantee.Type != types.TypeCanonicalUser {
				t.Fatalf("get acl: %v %+v", err, acl)
			}
			if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("bkt1"), ACL: types.BucketCannedACLPrivate}); err != nil {
				t.Fatalf("put bucket acl: %v", err)
			}
			v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("bkt1")})
			if err != nil || v.Status != "" {
				t.Fatalf("get versioning: %v %+v", err, v)
			}
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt1"), Key: aws.String("assembled"), UploadId: aws.String("gone")}); err == nil {
				t.Error("abort of an unknown upload succeeded")
			}
		})
	}
}
