package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"s3mesh/internal/poll"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// replWait bounds each wait for a write to reach another node.
const replWait = 30 * time.Second

// waitUntil waits until cond returns nil (see poll.Until), within replWait.
func waitUntil(t *testing.T, what string, cond func() error) {
	t.Helper()
	poll.Until(t, what, replWait, cond)
}

// waitTopicPeers waits until nd sees want peers on the namespace topic.
func waitTopicPeers(t *testing.T, nd *gatewaytest.Node, network string, want int) {
	t.Helper()
	waitUntil(t, "topic peers", func() error {
		if got := len(nd.PubSub.ListPeers(gateway.CRDTTopic(network))); got < want {
			return fmt.Errorf("%d topic peers", got)
		}
		return nil
	})
}

func keysAt(n *gatewaytest.Node, bucket string) ([]string, error) {
	res, err := n.ListObjects(context.Background(), s3api.ListObjectsInput{Bucket: bucket, MaxKeys: 1000})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys, nil
}

func readAllAt(t *testing.T, n *gatewaytest.Node, bucket, key string) []byte {
	t.Helper()
	ctx := context.Background()
	info, err := n.HeadObject(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readRangeOf(ctx, n, bucket, key, 0, info.Size)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNodesReplicateNamespace: two gateway nodes with GossipSub share one
// namespace. A bucket, a PUT and a completed multipart upload at A are
// listed and read at B (blocks fetched on demand); a copy made at B is read
// at A; a delete at B is gone at A; the multipart upload itself never
// leaves A.
func TestNodesReplicateNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	a := net.NewReplicatedNode(t, func(c *gateway.Config) { c.ChunkSize = 1000 })
	b := net.NewReplicatedNode(t)
	net.Connect(a, b)
	waitTopicPeers(t, a, gateway.DefaultNetwork, 1)
	waitTopicPeers(t, b, gateway.DefaultNetwork, 1)

	mustBucket(t, a)
	waitUntil(t, "bucket at B", func() error {
		_, err := b.HeadBucket(ctx, "bkt")
		return err
	})
	data := randomBytes(1, 10_000)
	mustPut(t, a, "k1", data)

	// A multipart upload: local to A until completed.
	id, err := a.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "bkt", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := b.ListMultipartUploads(ctx, s3api.ListMultipartUploadsInput{Bucket: "bkt"}); err != nil || len(res.Uploads) != 0 {
		t.Fatalf("B lists uploads %+v, %v; want none (uploads stay local)", res, err)
	}
	part := randomBytes(2, 3000)
	p1, err := a.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "bkt", Key: "mp", UploadID: id, PartNumber: 1, Body: bytes.NewReader(part), Size: int64(len(part))})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := a.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{Bucket: "bkt", Key: "mp", UploadID: id,
		Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: p1.ETag}}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.ListMultipartUploads(ctx, s3api.ListMultipartUploadsInput{Bucket: "bkt"}); err != nil || len(res.Uploads) != 0 {
		t.Fatalf("A lists uploads %+v, %v after completion; want none", res, err)
	}

	waitUntil(t, "objects at B", func() error {
		keys, err := keysAt(b, "bkt")
		if err == nil && !slices.Equal(keys, []string{"k1", "mp"}) {
			err = fmt.Errorf("B lists %q", keys)
		}
		return err
	})
	if got := readAllAt(t, b, "bkt", "k1"); !bytes.Equal(got, data) {
		t.Fatalf("B reads %d bytes of k1, not what A wrote", len(got))
	}
	if got := readAllAt(t, b, "bkt", "mp"); !bytes.Equal(got, part) {
		t.Fatalf("B reads %d bytes of mp, not what A wrote", len(got))
	}
	if info, err := b.HeadObject(ctx, "bkt", "mp"); err != nil || info.ETag != mp.ETag {
		t.Fatalf("B has mp %+v, %v; want ETag %s", info, err, mp.ETag)
	}

	// A copy made at B of A's object is listed and read at A.
	cp, err := b.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "bkt", Key: "k1-copy", SourceBucket: "bkt", SourceKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "copy at A", func() error {
		info, err := a.HeadObject(ctx, "bkt", "k1-copy")
		if err == nil && info.ETag != cp.ETag {
			err = fmt.Errorf("A has ETag %s, B copied %s", info.ETag, cp.ETag)
		}
		return err
	})
	if got := readAllAt(t, a, "bkt", "k1-copy"); !bytes.Equal(got, data) {
		t.Fatalf("A reads %d bytes of the copy, not k1's", len(got))
	}

	if err := b.DeleteObject(ctx, "bkt", "k1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "delete at A", func() error {
		_, err := a.HeadObject(ctx, "bkt", "k1")
		if errors.Is(err, s3err.ErrNoSuchKey) {
			return nil
		}
		return fmt.Errorf("A: HEAD k1: %v", err)
	})
}

// TestNamespaceAllowlist: a node with an allowlist rejects namespace
// updates from a connected peer outside it, and accepts those of the
// peers in it.
func TestNamespaceAllowlist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	allowed := map[peer.ID]bool{}
	a := net.NewReplicatedNode(t, func(c *gateway.Config) {
		c.Registerer = reg
		c.AllowPeer = func(p peer.ID) bool { mu.Lock(); defer mu.Unlock(); return allowed[p] }
	})
	b := net.NewReplicatedNode(t)
	stranger := net.NewReplicatedNode(t)
	mu.Lock()
	allowed[a.Host.ID()], allowed[b.Host.ID()] = true, true
	mu.Unlock()
	net.Connect(a, b)
	net.Connect(a, stranger)
	waitTopicPeers(t, a, gateway.DefaultNetwork, 2)
	waitTopicPeers(t, stranger, gateway.DefaultNetwork, 1)
	waitTopicPeers(t, b, gateway.DefaultNetwork, 1)

	if err := stranger.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "from-stranger"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "from-b"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "A accepts B's bucket and rejects the stranger's update", func() error {
		if _, err := a.HeadBucket(ctx, "from-b"); err != nil {
			return err
		}
		if got := counterIn(t, reg, "s3mesh_namespace_rejected_messages_total"); got < 1 {
			return fmt.Errorf("%v messages rejected", got)
		}
		return nil
	})
	if _, err := a.HeadBucket(ctx, "from-stranger"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("A: HEAD of the stranger's bucket: %v, want NoSuchBucket", err)
	}
	// The stranger itself accepts everyone: it sees A's writes.
	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "from-a"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stranger sees A's bucket", func() error {
		_, err := stranger.HeadBucket(ctx, "from-a")
		return err
	})
	if _, err := a.HeadBucket(ctx, "from-stranger"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("A: HEAD of the stranger's bucket: %v, want NoSuchBucket", err)
	}
}

// counterIn returns the value of the unlabelled counter name in reg.
func counterIn(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			return mf.Metric[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
