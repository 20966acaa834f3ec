package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"s3mesh/gateway"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/internal/poll"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// objectBlocks returns the CIDs of bucket/key's DAG, read from n's store
// (which holds it whole): its root and the leaves its root links.
func objectBlocks(t *testing.T, n *gatewaytest.Node, bucket, key string) []cid.Cid {
	t.Helper()
	info, err := n.HeadObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	root := cid.MustParse(info.CID)
	b, err := n.Blocks.Blockstore().Get(context.Background(), root)
	if err != nil {
		t.Fatalf("root of %s/%s: %v", bucket, key, err)
	}
	nd, err := dag.DecodeNode(b)
	if err != nil {
		t.Fatal(err)
	}
	out := []cid.Cid{root}
	for _, l := range nd.Links() {
		out = append(out, l.Cid)
	}
	return out
}

// stored counts how many of cs n's store holds.
func stored(t *testing.T, n *gatewaytest.Node, cs []cid.Cid) int {
	t.Helper()
	k := 0
	for _, c := range cs {
		if ok, err := n.Blocks.Blockstore().Has(context.Background(), c); err != nil {
			t.Fatal(err)
		} else if ok {
			k++
		}
	}
	return k
}

// cachePair returns two offices whose namespaces replicate, A and B (B
// made by newB), with bucket bkt.
func cachePair(t *testing.T, newB func(net *gatewaytest.Net) *gatewaytest.Node) (a, b *gatewaytest.Node) {
	t.Helper()
	net := gatewaytest.NewNet(t)
	a = net.NewReplicatedNode(t, func(c *gateway.Config) { c.ChunkSize = 32 << 10 })
	b = newB(net)
	net.Connect(a, b)
	waitTopicPeers(t, a, gateway.DefaultNetwork, 1)
	waitTopicPeers(t, b, gateway.DefaultNetwork, 1)
	if err := a.CreateBucket(context.Background(), s3api.CreateBucketInput{Bucket: "bkt"}); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// putAt writes key at a and waits until b sees it.
func putAt(t *testing.T, a, b *gatewaytest.Node, key string, data []byte) {
	t.Helper()
	mustPut(t, a, key, data)
	waitUntil(t, "B sees "+key, func() error {
		_, err := b.HeadObject(context.Background(), "bkt", key)
		return err
	})
}

// TestCacheEvictsLeastRecentlyRead: blocks a node holds only because it
// read them are evicted least recently read first, down to 90% of the
// budget, while its own objects, a replicated bucket's and an open read's
// blocks stay; an evicted object is fetched again when read.
func TestCacheEvictsLeastRecentlyRead(t *testing.T) {
	t.Parallel()
	const size = 256 << 10
	// No budget: the test evicts itself, so no background eviction runs.
	a, b := cachePair(t, func(net *gatewaytest.Net) *gatewaytest.Node { return net.NewReplicatedNode(t) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := map[string][]byte{}
	for i, key := range []string{"x1", "x2", "x3", "x4"} {
		data[key] = randomBytes(uint64(10+i), size)
		putAt(t, a, b, key, data[key])
	}
	own := randomBytes(20, 2*size)
	mustPut(t, b, "own", own)
	read := func(key string) {
		t.Helper()
		if got, err := readRange(ctx, b, key, 0, size); err != nil || !bytes.Equal(got, data[key]) {
			t.Fatalf("read %s at B: %v", key, err)
		}
	}
	// An open read of x4: its first leaf is read, the rest is to come.
	_, x4, err := b.GetObject(ctx, "bkt", "x4")
	if err != nil {
		t.Fatal(err)
	}
	open, err := x4.Open(ctx, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the open read's window fetched (all of x4)", 0, func() error {
		if got, all := stored(t, b, objectBlocks(t, a, "bkt", "x4")), len(objectBlocks(t, a, "bkt", "x4")); got != all {
			return fmt.Errorf("%d of %d blocks", got, all)
		}
		return nil
	})
	for _, key := range []string{"x1", "x2", "x3", "x1"} {
		read(key)
	}
	// Cache: x1, x2, x3 and the start of x4. Evict one object's worth:
	// x2, the least recently read that is not being read.
	if st := b.CacheStatus(); st.Budget != 0 || st.Used < 3*size {
		t.Fatalf("cache status %+v, want no budget and at least %d used", st, 3*size)
	}
	res, err := b.Evict(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evicted == 0 || res.EvictedBytes < size {
		t.Fatalf("evict = %+v", res)
	}
	for key, want := range map[string]int{"x2": 0, "x3": len(objectBlocks(t, a, "bkt", "x3")), "x1": len(objectBlocks(t, a, "bkt", "x1"))} {
		if got := stored(t, b, objectBlocks(t, a, "bkt", key)); got != want {
			t.Errorf("%s: %d of its blocks stored after the eviction, want %d", key, got, want)
		}
	}
	if got, all := stored(t, b, objectBlocks(t, b, "bkt", "own")), len(objectBlocks(t, b, "bkt", "own")); got != all {
		t.Errorf("own object: %d of %d blocks stored", got, all)
	}
	// Evicting everything leaves the kept blocks and the open read's.
	if _, err := b.Evict(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
	if got, all := stored(t, b, objectBlocks(t, b, "bkt", "own")), len(objectBlocks(t, b, "bkt", "own")); got != all {
		t.Errorf("own object after evicting all: %d of %d blocks stored", got, all)
	}
	// The open read has fetched its whole window (all of x4): kept.
	if got, all := stored(t, b, objectBlocks(t, a, "bkt", "x4")), len(objectBlocks(t, a, "bkt", "x4")); got != all {
		t.Errorf("the open read's object: %d of %d blocks stored after evicting all", got, all)
	}
	rest := make([]byte, size-1)
	if _, err := io.ReadFull(open, rest); err != nil || !bytes.Equal(rest, data["x4"][1:]) {
		t.Fatalf("the open read after evicting all: %v", err)
	}
	if got := stored(t, b, objectBlocks(t, a, "bkt", "x1")); got != 0 {
		t.Errorf("x1: %d blocks left after evicting all", got)
	}
	read("x2") // fetched again
	if got, err := readRange(ctx, b, "own", 0, int64(len(own))); err != nil || !bytes.Equal(got, own) {
		t.Fatalf("own object: %v", err)
	}
}

// TestCacheBudgetBackground: reads that take the cache over its budget
// wake the evictor, which brings it back under.
func TestCacheBudgetBackground(t *testing.T) {
	t.Parallel()
	const size = 256 << 10
	a, b := cachePair(t, func(net *gatewaytest.Net) *gatewaytest.Node {
		return net.NewReplicatedNode(t, func(c *gateway.Config) { c.CacheBudget = 2 * size })
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 6 {
		key := fmt.Sprintf("k%d", i)
		d := randomBytes(uint64(30+i), size)
		putAt(t, a, b, key, d)
		if got, err := readRange(ctx, b, key, 0, size); err != nil || !bytes.Equal(got, d) {
			t.Fatalf("read %s: %v", key, err)
		}
	}
	poll.Until(t, "the cache back under its budget", 2*time.Minute, func() error {
		if st := b.CacheStatus(); st.Used > st.Budget {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	if got := stored(t, b, objectBlocks(t, a, "bkt", "k0")); got != 0 {
		t.Errorf("k0, read first: %d blocks left", got)
	}
}

// smallDisk mounts a tmpfs of size bytes for the test, or skips it where
// mounting is not allowed.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a small file system here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull: on a 64 MiB file system a node keeping 16 MiB free evicts
// its cache first, then refuses writes of new data with
// InsufficientStorage while reads, listings and deletes go on; freeing
// space lets writes resume, and nothing stored is damaged.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := smallDisk(t, 64<<20)
	a, b := cachePair(t, func(net *gatewaytest.Net) *gatewaytest.Node {
		return net.NewReplicatedNodeIn(t, dir, func(c *gateway.Config) { c.MinFree = 16 << 20; c.MultipartMaxAge = -1 })
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// B caches 12 MiB read from A.
	cached := randomBytes(40, 12<<20)
	putAt(t, a, b, "cached", cached)
	if got, err := readRange(ctx, b, "cached", 0, int64(len(cached))); err != nil || !bytes.Equal(got, cached) {
		t.Fatalf("read at B: %v", err)
	}
	// B's own writes fill its disk: the cache goes first, then writes
	// are refused.
	written := map[string][]byte{}
	var refused error
	for i := range 64 {
		key := fmt.Sprintf("own%02d", i)
		d := randomBytes(uint64(100+i), 4<<20)
		_, err := b.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt", Key: key, Body: bytes.NewReader(d), Size: int64(len(d))})
		if err != nil {
			refused = err
			break
		}
		written[key] = d
	}
	if !errors.Is(refused, s3err.ErrInsufficientStorage) {
		t.Fatalf("filling the disk ended with %v, want InsufficientStorage", refused)
	}
	if got := stored(t, b, objectBlocks(t, a, "bkt", "cached")); got != 0 {
		t.Errorf("%d cached blocks left when writes were refused", got)
	}
	if len(written) < 5 {
		t.Errorf("only %d objects of 4 MiB written before the refusal", len(written))
	}
	for _, f := range []func() error{
		func() error { return b.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "more"}) },
		func() error {
			_, err := b.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "bkt", Key: "copy", SourceBucket: "bkt", SourceKey: "own00"})
			return err
		},
		func() error {
			_, err := b.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "bkt", Key: "mp"})
			return err
		},
	} {
		if err := f(); !errors.Is(err, s3err.ErrInsufficientStorage) {
			t.Errorf("a write on a full disk: %v, want InsufficientStorage", err)
		}
	}
	// Reads, listings and deletes go on; what was stored is intact.
	res, err := b.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "bkt", MaxKeys: 1000})
	if err != nil || len(res.Objects) != len(written)+1 {
		t.Fatalf("listing on a full disk: %d objects, %v; want %d", len(res.Objects), err, len(written)+1)
	}
	for key, d := range written {
		if got, err := readRange(ctx, b, key, 0, int64(len(d))); err != nil || !bytes.Equal(got, d) {
			t.Fatalf("%s on a full disk: %v", key, err)
		}
	}
	for key := range written {
		if err := b.DeleteObject(ctx, "bkt", key); err != nil {
			t.Fatalf("delete %s on a full disk: %v", key, err)
		}
		delete(written, key)
		if len(written) <= 2 {
			break
		}
	}
	if _, err := b.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// Writes resume, without a restart.
	d := randomBytes(200, 4<<20)
	if _, err := b.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt", Key: "after", Body: bytes.NewReader(d), Size: int64(len(d))}); err != nil {
		t.Fatalf("a write once space was freed: %v", err)
	}
	written["after"] = d
	for key, d := range written {
		if got, err := readRange(ctx, b, key, 0, int64(len(d))); err != nil || !bytes.Equal(got, d) {
			t.Fatalf("%s after the refusals: %v", key, err)
		}
	}
}
