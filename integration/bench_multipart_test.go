package integration

import (
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkUpload1GiB compares, in one run, a 1 GiB object sent as one
// PutObject with the same bytes sent as a multipart upload of 16 MiB parts,
// eight in flight (the transfer manager, as aws cli and rclone upload):
//
//	go test -run '^$' -bench Upload1GiB -benchtime 2x -count 3 ./integration/
func BenchmarkUpload1GiB(b *testing.B) {
	const size = 1 << 30
	b.Run("mode=single-put", func(b *testing.B) {
		_, c := benchBucket(b, false)
		ctx := context.Background()
		pre, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
		if err != nil {
			b.Fatal(err)
		}
		var nonce uint64
		b.SetBytes(size)
		for b.Loop() {
			nonce++
			if err := presignedPut(pre.URL, &uniqueReader{size: size, nonce: nonce}, size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mode=multipart-8x16MiB", func(b *testing.B) {
		_, c := benchBucket(b, false)
		ctx := context.Background()
		up := manager.NewUploader(c, func(u *manager.Uploader) {
			u.PartSize = 16 << 20
			u.Concurrency = 8
		})
		var nonce uint64
		b.SetBytes(size)
		for b.Loop() {
			nonce++
			// The uploader reads parts from an io.Reader into its own
			// buffers, as it does for a pipe.
			_, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj"),
				Body: struct{ io.Reader }{&uniqueReader{size: size, nonce: nonce}}})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCopyObject1GiB times CopyObject of a 1 GiB object: the copy is a
// new record pointing at the same DAG, so it costs no object bytes.
func BenchmarkCopyObject1GiB(b *testing.B) {
	const size = 1 << 30
	_, c := benchBucket(b, false)
	ctx := context.Background()
	pre, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("src")})
	if err != nil {
		b.Fatal(err)
	}
	if err := presignedPut(pre.URL, &uniqueReader{size: size, nonce: 1}, size); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bench"), Key: aws.String("dst"),
			CopySource: aws.String("bench/src")}); err != nil {
			b.Fatal(err)
		}
	}
}
