package gateway_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"s3mesh/internal/poll"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func mustBucket(t *testing.T, nodes ...*gatewaytest.Node) {
	t.Helper()
	for _, n := range nodes {
		if err := n.CreateBucket(context.Background(), s3api.CreateBucketInput{Bucket: "bkt"}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustPut(t *testing.T, n *gatewaytest.Node, key string, data []byte) *s3api.ObjectInfo {
	t.Helper()
	return replPut(t, n.Node, "bkt", key, data)
}

// readRange reads [off, off+length) of bucket/key on n.
func readRange(ctx context.Context, n *gatewaytest.Node, key string, off, length int64) ([]byte, error) {
	return readRangeOf(ctx, n, "bkt", key, off, length)
}

// readRangeOf reads [off, off+length) of bucket/key on n.
func readRangeOf(ctx context.Context, n *gatewaytest.Node, bucket, key string, off, length int64) ([]byte, error) {
	_, c, err := n.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	r, err := c.Open(ctx, off, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// replicate commits on dst the record src has for key, as the replicated
// namespace will: dst then knows the object but holds none of its blocks.
func replicate(t *testing.T, src, dst *gatewaytest.Node, key string) {
	t.Helper()
	rec, err := src.Namespace().GetObject(context.Background(), "bkt", key)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Namespace().PutObject(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
}

// TestExchangePutByCID: an object PUT on A is adopted by CID on B over
// Bitswap, byte for byte, with ranges, and B then holds every block.
func TestExchangePutByCID(t *testing.T) {
	t.Parallel()
	net := gatewaytest.NewNet(t)
	a, b := net.NewNode(t), net.NewNode(t)
	net.Connect(a, b)
	mustBucket(t, a, b)
	data := randomBytes(1, 5<<20+12345)
	infoA := mustPut(t, a, "obj", data)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	infoB, err := b.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt", Key: "copy", CID: infoA.CID, Size: -1,
		Metadata: s3api.ObjectMetadata{ContentType: "application/x-test"}})
	if err != nil {
		t.Fatal(err)
	}
	if infoB.CID != infoA.CID || infoB.Size != int64(len(data)) || infoB.ETag != infoA.ETag {
		t.Fatalf("adopted %+v, want cid %s size %d etag %s", infoB, infoA.CID, len(data), infoA.ETag)
	}
	if head, err := b.HeadObject(ctx, "bkt", "copy"); err != nil || head.Metadata.ContentType != "application/x-test" {
		t.Fatalf("head: %+v, %v", head, err)
	}
	// The blocks are local now: B reads them with A gone.
	net.Disconnect(a, b)
	for _, rg := range [][2]int64{{0, int64(len(data))}, {0, 1}, {1<<20 - 1, 2}, {3<<20 + 7, 1 << 20}, {int64(len(data)) - 5, 5}} {
		got, err := readRange(ctx, b, "copy", rg[0], rg[1])
		if err != nil {
			t.Fatalf("range %v: %v", rg, err)
		}
		if !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v: bytes differ", rg)
		}
	}
}

// TestExchangeGetReplicatedRecord: B knows A's record but none of its
// blocks; ranged GETs on B fetch just what they need from A.
func TestExchangeGetReplicatedRecord(t *testing.T) {
	t.Parallel()
	net := gatewaytest.NewNet(t)
	a, b := net.NewNode(t), net.NewNode(t, func(c *gateway.Config) { c.FetchWindow = 4 })
	net.Connect(a, b)
	mustBucket(t, a, b)
	data := randomBytes(2, 9<<20+1)
	mustPut(t, a, "obj", data)
	replicate(t, a, b, "obj")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, rg := range [][2]int64{{5<<20 + 3, 100}, {0, int64(len(data))}, {int64(len(data)) - 1, 1}} {
		got, err := readRange(ctx, b, "obj", rg[0], rg[1])
		if err != nil {
			t.Fatalf("range %v: %v", rg, err)
		}
		if !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v: bytes differ", rg)
		}
	}
}

// TestExchangeUnavailable: content nobody has fails within a bounded time,
// as ServiceUnavailable naming the block, for a GET and for a PUT by CID,
// which then commits nothing.
func TestExchangeUnavailable(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	net := gatewaytest.NewNet(t)
	a, b := net.NewNode(t), net.NewNode(t, func(c *gateway.Config) { c.FetchTimeout = timeout })
	net.Connect(a, b)
	mustBucket(t, a, b)
	missing, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("nobody has this block"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &gateway.ObjectRecord{Bucket: "bkt", Key: "lost", Root: missing.String(), Size: 21, ETag: "x", LastModified: time.Now()}
	if err := b.Namespace().PutObject(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
	check := func(name string, err error, elapsed time.Duration) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		var m s3api.MissingContentError
		if !errors.Is(err, gateway.ErrBlockUnavailable) || !errors.Is(err, s3err.ErrServiceUnavailable) ||
			!errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &m) || m.MissingContent() != missing.String() {
			t.Fatalf("%s: %v", name, err)
		}
		if e, ok := s3err.As(err); !ok || !strings.Contains(e.ClientMessage(), missing.String()) {
			t.Fatalf("%s: client message does not name the block: %v", name, err)
		}
		// The failure must not come before the bound; the upper limit only
		// catches a hang, generously, as this machine may be loaded.
		if elapsed < timeout || elapsed > timeout+50*time.Second {
			t.Fatalf("%s: failed after %s, want about %s", name, elapsed, timeout)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = readRange(ctx, b, "lost", 0, 21)
	check("get", err, time.Since(start))

	start = time.Now()
	_, err = b.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt", Key: "adopt", CID: missing.String(), Size: -1})
	check("put by cid", err, time.Since(start))
	if _, err := b.HeadObject(ctx, "bkt", "adopt"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("failed PUT by CID committed: %v", err)
	}
	waitFor(t, "the wantlist to empty", func() bool { return len(b.Wantlist()) == 0 })
}

// TestExchangeFailover: A and C hold an object; B reads it and A leaves the
// network mid-read; the read completes from C. The fetch timeout is
// generous: under the race detector on a loaded machine, B's Bitswap
// session once took more than 10 s to turn to C.
func TestExchangeFailover(t *testing.T) {
	t.Parallel()
	net := gatewaytest.NewNet(t)
	a, c := net.NewNode(t), net.NewNode(t)
	b := net.NewNode(t, func(c *gateway.Config) { c.FetchTimeout = 30 * time.Second })
	net.Connect(a, b)
	net.Connect(c, b)
	mustBucket(t, a, b, c)
	data := randomBytes(3, 48<<20)
	infoA := mustPut(t, a, "obj", data)
	if infoC := mustPut(t, c, "obj", data); infoC.CID != infoA.CID {
		t.Fatalf("same bytes, different roots: %s, %s", infoA.CID, infoC.CID)
	}
	replicate(t, a, b, "obj")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, content, err := b.GetObject(ctx, "bkt", "obj")
	if err != nil {
		t.Fatal(err)
	}
	r, err := content.Open(ctx, 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(data))
	head := 4 << 20
	if _, err := io.ReadFull(r, got[:head]); err != nil {
		t.Fatal(err)
	}
	net.Disconnect(a, b)
	sentBefore := blocksSent(t, a)
	if _, err := io.ReadFull(r, got[head:]); err != nil {
		t.Fatalf("read after A left: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	if n, _ := r.Read(make([]byte, 1)); n != 0 {
		t.Fatal("read past the end")
	}
	sentC := blocksSent(t, c)
	if sentC == 0 || sentBefore == 0 {
		t.Fatalf("blocks sent: A %d before leaving, C %d", sentBefore, sentC)
	}
	t.Logf("blocks sent: A %d (before leaving), C %d", sentBefore, sentC)
}

func blocksSent(t *testing.T, n *gatewaytest.Node) uint64 {
	t.Helper()
	st, err := n.Bitswap.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.BlocksSent
}

// TestExchangeCancel: the client's cancellation ends the Bitswap want.
func TestExchangeCancel(t *testing.T) {
	t.Parallel()
	net := gatewaytest.NewNet(t)
	a, b := net.NewNode(t), net.NewNode(t)
	net.Connect(a, b)
	mustBucket(t, a, b)
	missing, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("cancelled want"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &gateway.ObjectRecord{Bucket: "bkt", Key: "lost", Root: missing.String(), Size: 14, ETag: "x", LastModified: time.Now()}
	if err := b.Namespace().PutObject(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := readRange(ctx, b, "lost", 0, 14)
		errc <- err
	}()
	waitFor(t, "the block wanted", func() bool { return slicesContain(b.Wantlist(), missing) })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || errors.Is(err, gateway.ErrBlockUnavailable) {
			t.Fatalf("read error %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("read did not end after cancel")
	}
	waitFor(t, "the wantlist to empty", func() bool { return len(b.Wantlist()) == 0 })
}

func slicesContain(cs []cid.Cid, c cid.Cid) bool {
	for _, x := range cs {
		if x.Equals(c) {
			return true
		}
	}
	return false
}

// waitFor waits until cond holds (see poll.Until).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, 30*time.Second, poll.True(what, cond))
}

// BenchmarkExchangeGet measures a 64 MiB GET on B whose blocks are only on
// A, over in-process Bitswap (mocknet).
func BenchmarkExchangeGet(b *testing.B) {
	const size = 64 << 20
	data := randomBytes(4, size)
	sum := md5.Sum(data)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		net := gatewaytest.NewNet(b)
		a, nb := net.NewNode(b), net.NewNode(b)
		net.Connect(a, nb)
		for _, n := range []*gatewaytest.Node{a, nb} {
			if err := n.CreateBucket(context.Background(), s3api.CreateBucketInput{Bucket: "bkt"}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := a.PutObject(context.Background(), &s3api.PutObjectInput{Bucket: "bkt", Key: "obj", Body: bytes.NewReader(data), Size: size}); err != nil {
			b.Fatal(err)
		}
		rec, err := a.Namespace().GetObject(context.Background(), "bkt", "obj")
		if err != nil {
			b.Fatal(err)
		}
		if err := nb.Namespace().PutObject(context.Background(), rec, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		_, content, err := nb.GetObject(context.Background(), "bkt", "obj")
		if err != nil {
			b.Fatal(err)
		}
		r, err := content.Open(context.Background(), 0, size)
		if err != nil {
			b.Fatal(err)
		}
		h := md5.New()
		n, err := io.Copy(h, r)
		r.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		b.StopTimer()
		if hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(sum[:]) {
			b.Fatal("md5 differs")
		}
		b.StartTimer()
	}
}
