package integration

import (
	"context"
	"fmt"
	"s3mesh/internal/poll"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// replicationWait bounds each wait for a write to reach another node.
const replicationWait = 60 * time.Second

// ensureBucket creates bucket on p, or accepts that p already has it
// (replicated from another node).
func ensureBucket(t *testing.T, p *proc, bucket string) {
	t.Helper()
	err := p.client(t).MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		t.Fatal(err)
	}
}

// eventually waits until cond returns nil (see poll.Until), within
// replicationWait.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	poll.Until(t, what, replicationWait, cond)
}

func listKeys(ctx context.Context, c *minio.Client, bucket string) ([]string, error) {
	var keys []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		keys = append(keys, o.Key)
	}
	return keys, nil
}

// TestProcessReplicatedNamespace runs two offices as processes, B peered
// with A, and checks the namespace replicates both ways: a bucket created
// at A appears at B; an object PUT at A is listed at B and read there byte
// for byte (its blocks fetched from A on demand); an object deleted at B
// disappears at A.
func TestProcessReplicatedNamespace(t *testing.T) {
	needIntegration(t)
	ctx := context.Background()
	a := startNode(t, t.TempDir())
	b := startNode(t, t.TempDir(), "--peer", a.peerAddr(t))
	ca, cb := a.client(t), b.client(t)

	if err := ca.MakeBucket(ctx, "shared", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bucket created at A visible at B", func() error {
		ok, err := cb.BucketExists(ctx, "shared")
		if err == nil && !ok {
			err = fmt.Errorf("no bucket")
		}
		return err
	})

	const size = 5<<20 + 123 // several 1 MiB blocks
	if _, err := ca.PutObject(ctx, "shared", "dir/build.tar", &patternReader{seed: 4, n: size}, size, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.PutObject(ctx, "shared", "notes.txt", &patternReader{seed: 5, n: 1000}, 1000, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"dir/build.tar", "notes.txt"}
	eventually(t, "objects PUT at A listed at B", func() error {
		keys, err := listKeys(ctx, cb, "shared")
		if err == nil && !slices.Equal(keys, want) {
			err = fmt.Errorf("B lists %q", keys)
		}
		return err
	})
	if n, sum := md5Of(t, b, "shared", "dir/build.tar"); n != size || sum != patternMD5(4, size) {
		t.Fatalf("B reads %d bytes md5 %s; want %d bytes md5 %s", n, sum, size, patternMD5(4, size))
	}
	infoA, err := ca.StatObject(ctx, "shared", "dir/build.tar", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	infoB, err := cb.StatObject(ctx, "shared", "dir/build.tar", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if infoA.ETag != infoB.ETag || infoA.Size != infoB.Size {
		t.Errorf("A has ETag %s size %d, B has ETag %s size %d", infoA.ETag, infoA.Size, infoB.ETag, infoB.Size)
	}

	if err := cb.RemoveObject(ctx, "shared", "notes.txt", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "object deleted at B gone at A", func() error {
		keys, err := listKeys(ctx, ca, "shared")
		if err == nil && !slices.Equal(keys, want[:1]) {
			err = fmt.Errorf("A lists %q", keys)
		}
		return err
	})
	if _, err := ca.StatObject(ctx, "shared", "notes.txt", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("HEAD at A of the object deleted at B: %v, want NoSuchKey", err)
	}
}
