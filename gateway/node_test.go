package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/gateway/internal/gwtest"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

const emptyFileCID = gwtest.EmptyFileCID

var fixedTime = gwtest.FixedTime

func newTestNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return fixedTime }
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func mustBucket(t testing.TB, n *Node, name string) {
	t.Helper()
	if err := n.CreateBucket(context.Background(), s3api.CreateBucketInput{Bucket: name}); err != nil {
		t.Fatal(err)
	}
}

func randBytes(seed uint64, size int) []byte { return gwtest.RandBytes(seed, size) }

func put(t testing.TB, n *Node, bucket, key string, data []byte) *s3api.ObjectInfo {
	t.Helper()
	info, err := n.PutObject(context.Background(), &s3api.PutObjectInput{
		Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
	})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return info
}

func readRange(t testing.TB, c s3api.Content, off, n int64) []byte {
	t.Helper()
	r, err := c.Open(context.Background(), off, n)
	if err != nil {
		t.Fatalf("open %d+%d: %v", off, n, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %d+%d: %v", off, n, err)
	}
	return b
}

func TestNewWithOnlyDataDir(t *testing.T) {
	n, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"chunk 1", Config{ChunkSize: 1}, true},
		{"chunk 2MiB", Config{ChunkSize: 2 << 20}, true},
		{"chunk too big", Config{ChunkSize: 2<<20 + 1}, false},
		{"chunk negative", Config{ChunkSize: -1}, false},
		{"fetch window 1", Config{FetchWindow: 1}, true},
		{"fetch window negative", Config{FetchWindow: -1}, false},
		{"fetch window too big", Config{FetchWindow: maxFetchWindow + 1}, false},
		{"fetch timeout", Config{FetchTimeout: time.Second}, true},
		{"fetch timeout negative", Config{FetchTimeout: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	const chunk = 1024
	n := newTestNode(t, Config{ChunkSize: chunk})
	mustBucket(t, n, "b")
	ctx := context.Background()
	sizes := []int{0, 1, chunk - 1, chunk, chunk + 1, chunk*3 + chunk/2, chunk * 400} // 400 leaves: two levels
	for i, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randBytes(uint64(i), size)
			key := fmt.Sprintf("obj-%d", size)
			sum := md5.Sum(data)
			info, err := n.PutObject(ctx, &s3api.PutObjectInput{
				Bucket: "b", Key: key, Body: bytes.NewReader(data), Size: int64(size),
				ContentMD5: sum[:],
				Metadata:   s3api.ObjectMetadata{ContentType: "application/x-test", User: map[string]string{"a": "1", "empty": ""}},
				Checksums:  map[string]string{"CRC32": "AAAAAA=="},
			})
			if err != nil {
				t.Fatal(err)
			}
			if info.ETag != hex.EncodeToString(sum[:]) || info.Size != int64(size) {
				t.Fatalf("info = %+v", info)
			}
			c, err := cid.Decode(info.CID)
			if err != nil || c.Version() != 1 || !strings.HasPrefix(info.CID, "baf") {
				t.Fatalf("CID %q: %v", info.CID, err)
			}
			if size == 0 && info.CID != emptyFileCID {
				t.Fatalf("empty object CID = %s, want %s", info.CID, emptyFileCID)
			}
			if size > chunk && !strings.HasPrefix(info.CID, "bafy") {
				t.Fatalf("multi-chunk root %s is not dag-pb", info.CID)
			}
			got, content, err := n.GetObject(ctx, "b", key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(info, got); diff != "" {
				t.Fatalf("GetObject info differs from PutObject's (-put +get):\n%s", diff)
			}
			if b := readRange(t, content, 0, int64(size)); !bytes.Equal(b, data) {
				t.Fatalf("full read differs (%d bytes, want %d)", len(b), size)
			}
			r := rand.New(rand.NewPCG(uint64(size), 7))
			for range 50 {
				off := r.Int64N(int64(size) + 1)
				ln := r.Int64N(int64(size) - off + 1)
				if b := readRange(t, content, off, ln); !bytes.Equal(b, data[off:off+ln]) {
					t.Fatalf("range %d+%d differs", off, ln)
				}
			}
		})
	}
}

func TestPutErrors(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 100})
	mustBucket(t, n, "b")
	ctx := context.Background()
	old := put(t, n, "b", "k", []byte("old version"))
	body := randBytes(1, 1000)
	errBody := errors.New("signature mismatch")
	for _, tc := range []struct {
		name string
		in   s3api.PutObjectInput
		want error
	}{
		{"no bucket", s3api.PutObjectInput{Bucket: "nope", Key: "k", Size: -1}, s3err.ErrNoSuchBucket},
		{"bad digest", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: -1, ContentMD5: make([]byte, 16)}, s3err.ErrBadDigest},
		{"short body", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: 1001}, s3err.ErrIncompleteBody},
		{"long body", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: 999}, s3err.ErrIncompleteBody},
		{"body error mid-way", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: -1,
			Body: io.MultiReader(bytes.NewReader(body[:550]), &failReader{err: errBody})}, errBody},
		{"body error carries code", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: -1,
			Body: io.MultiReader(bytes.NewReader(body), &failReader{err: &s3err.Error{Code: s3err.ErrXAmzContentSHA256Mismatch}})}, s3err.ErrXAmzContentSHA256Mismatch},
		{"if-none-match exists", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: -1, Conditions: s3api.PutConditions{IfNoneMatch: "*"}}, s3err.ErrPreconditionFailed},
		{"if-match missing", s3api.PutObjectInput{Bucket: "b", Key: "missing", Size: -1, Conditions: s3api.PutConditions{IfMatch: old.ETag}}, s3err.ErrNoSuchKey},
		{"if-match differs", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: -1, Conditions: s3api.PutConditions{IfMatch: "0123"}}, s3err.ErrPreconditionFailed},
		{"canceled", s3api.PutObjectInput{Bucket: "b", Key: "k", Size: -1, Body: &cancelReader{}}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Body == nil {
				in.Body = bytes.NewReader(body)
			}
			ctx := ctx
			if cr, ok := in.Body.(*cancelReader); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cr.cancel = cancel
				cr.r = bytes.NewReader(body)
			}
			_, err := n.PutObject(ctx, &in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == s3err.ErrXAmzContentSHA256Mismatch {
				if e, ok := s3err.As(err); !ok || e.Code != s3err.ErrXAmzContentSHA256Mismatch {
					t.Fatalf("s3err.As(%v) = %v, %v", err, e, ok)
				}
			}
			// Nothing was committed: the old version is intact.
			_, c, err := n.GetObject(context.Background(), "b", "k")
			if err != nil {
				t.Fatal(err)
			}
			if got := readRange(t, c, 0, int64(len("old version"))); string(got) != "old version" {
				t.Fatalf("old version reads %q", got)
			}
			if _, err := n.HeadObject(context.Background(), "b", "missing"); !errors.Is(err, s3err.ErrNoSuchKey) {
				t.Fatalf("missing key: %v", err)
			}
		})
	}
}

type failReader struct{ err error }

func (f *failReader) Read([]byte) (int, error) { return 0, f.err }

// cancelReader cancels the PUT's context after its first read.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
	reads  int
}

func (c *cancelReader) Read(p []byte) (int, error) {
	c.reads++
	if c.reads == 2 {
		c.cancel()
	}
	return c.r.Read(p)
}

func TestConditionalPuts(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{})
	mustBucket(t, n, "b")
	ctx := context.Background()
	v1 := put(t, n, "b", "k", []byte("one"))
	v2, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: strings.NewReader("two"), Size: 3,
		Conditions: s3api.PutConditions{IfMatch: v1.ETag}})
	if err != nil {
		t.Fatalf("if-match current etag: %v", err)
	}
	if _, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: strings.NewReader("three"), Size: 5,
		Conditions: s3api.PutConditions{IfMatch: v1.ETag}}); !errors.Is(err, s3err.ErrPreconditionFailed) {
		t.Fatalf("if-match stale etag: %v", err)
	}
	if h, _ := n.HeadObject(ctx, "b", "k"); h.ETag != v2.ETag {
		t.Fatalf("etag %s, want %s", h.ETag, v2.ETag)
	}

	// Racing creates with If-None-Match: exactly one wins.
	const racers = 16
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "race",
				Body: bytes.NewReader(randBytes(uint64(i), 5000)), Size: 5000,
				Conditions: s3api.PutConditions{IfNoneMatch: "*"}})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, s3err.ErrPreconditionFailed):
			t.Fatalf("racer: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racers won, want 1", won)
	}
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{})
	ctx := context.Background()
	for _, b := range []string{"zeta", "alpha", "mid"} {
		if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: b, Location: "loc-" + b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "mid"}); !errors.Is(err, s3err.ErrBucketAlreadyOwnedByYou) {
		t.Fatalf("create twice: %v", err)
	}
	bs, err := n.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []s3api.BucketInfo{
		{Name: "alpha", CreationDate: fixedTime, Location: "loc-alpha"},
		{Name: "mid", CreationDate: fixedTime, Location: "loc-mid"},
		{Name: "zeta", CreationDate: fixedTime, Location: "loc-zeta"},
	}
	if diff := cmp.Diff(want, bs); diff != "" {
		t.Fatalf("ListBuckets (-want +got):\n%s", diff)
	}
	if _, err := n.HeadBucket(ctx, "nope"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("head missing: %v", err)
	}
	// A bucket name that is a prefix of another must not see its objects.
	mustBucket(t, n, "mid-2")
	put(t, n, "mid-2", "x", []byte("x"))
	if err := n.DeleteBucket(ctx, "mid"); err != nil {
		t.Fatalf("delete empty bucket next to a non-empty one: %v", err)
	}
	if err := n.DeleteBucket(ctx, "mid-2"); !errors.Is(err, s3err.ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if err := n.DeleteObject(ctx, "mid-2", "x"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteObject(ctx, "mid-2", "x"); err != nil {
		t.Fatalf("delete missing key: %v", err)
	}
	if err := n.DeleteBucket(ctx, "mid-2"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteBucket(ctx, "mid-2"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("delete twice: %v", err)
	}
	if err := n.DeleteObject(ctx, "mid-2", "x"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("delete object in missing bucket: %v", err)
	}
	if _, err := n.HeadObject(ctx, "mid-2", "x"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("head object in missing bucket: %v", err)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := newTestNode(t, Config{DataDir: dir, ChunkSize: 512})
	mustBucket(t, n, "b")
	objs := map[string][]byte{}
	for i := range 20 {
		k := fmt.Sprintf("dir/%02d", i)
		objs[k] = randBytes(uint64(i), i*300)
		put(t, n, "b", k, objs[k])
	}
	if err := n.DeleteObject(context.Background(), "b", "dir/07"); err != nil {
		t.Fatal(err)
	}
	delete(objs, "dir/07")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := newTestNode(t, Config{DataDir: dir, ChunkSize: 512})
	res, err := n2.ListObjects(context.Background(), s3api.ListObjectsInput{Bucket: "b", MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != len(objs) {
		t.Fatalf("%d objects after reopen, want %d", len(res.Objects), len(objs))
	}
	for k, data := range objs {
		info, c, err := n2.GetObject(context.Background(), "b", k)
		if err != nil {
			t.Fatal(err)
		}
		if got := readRange(t, c, 0, info.Size); !bytes.Equal(got, data) {
			t.Fatalf("%s differs after reopen", k)
		}
	}
}

// TestContentOutlivesOverwrite: a content handle keeps reading the version
// it was returned with.
func TestContentOutlivesOverwrite(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 64})
	mustBucket(t, n, "b")
	v1 := randBytes(1, 1000)
	put(t, n, "b", "k", v1)
	_, c, err := n.GetObject(context.Background(), "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	put(t, n, "b", "k", randBytes(2, 1000))
	if err := n.DeleteObject(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	if got := readRange(t, c, 0, 1000); !bytes.Equal(got, v1) {
		t.Fatal("old handle does not read the old version")
	}
}

// TestRangeFetchesOnlyCoveredBlocks deletes every leaf outside a range: a
// read of the range still succeeds, and a read touching a deleted leaf
// fails with ErrBlockUnavailable.
func TestRangeFetchesOnlyCoveredBlocks(t *testing.T) {
	t.Parallel()
	const chunk = 100
	n := newTestNode(t, Config{ChunkSize: chunk})
	mustBucket(t, n, "b")
	data := randBytes(3, chunk*500) // two levels of internal nodes
	info := put(t, n, "b", "k", data)
	ctx := context.Background()
	leaves := leafCIDs(t, n, info.CID)
	if len(leaves) != 500 {
		t.Fatalf("%d leaves, want 500", len(leaves))
	}
	const first, last = 250, 252 // leaves kept: 250..252
	for i, c := range leaves {
		if i < first || i > last {
			if err := n.blocks.Blockstore().DeleteBlock(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, content, err := n.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	off, ln := int64(first*chunk+17), int64((last-first)*chunk+50)
	if got := readRange(t, content, off, ln); !bytes.Equal(got, data[off:off+ln]) {
		t.Fatal("range read differs")
	}
	r, err := content.Open(ctx, off, ln+chunk)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrBlockUnavailable) || !errors.Is(err, s3err.ErrServiceUnavailable) {
		t.Fatalf("read into a deleted leaf: %v, want ErrBlockUnavailable and ServiceUnavailable", err)
	}
	if e, ok := s3err.As(err); !ok || !strings.Contains(e.ClientMessage(), leaves[last+1].String()) {
		t.Fatalf("client message %v does not name the missing block %s", e, leaves[last+1])
	}
}

func leafCIDs(t *testing.T, n *Node, root string) []cid.Cid {
	t.Helper()
	c, err := cid.Decode(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []cid.Cid
	var walk func(c cid.Cid, depth int)
	walk = func(c cid.Cid, depth int) {
		if depth > 10 {
			t.Fatal("DAG too deep")
		}
		if c.Prefix().Codec == cid.Raw {
			out = append(out, c)
			return
		}
		nd, err := n.dag.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range nd.Links() {
			walk(l.Cid, depth+1)
		}
	}
	walk(c, 0)
	return out
}

func TestReadHonoursContext(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 100})
	mustBucket(t, n, "b")
	put(t, n, "b", "k", randBytes(4, 10000))
	_, c, err := n.GetObject(context.Background(), "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Hour, context.DeadlineExceeded)
	cancel()
	r, err := c.Open(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with done context: %v", err)
	}
}

// TestImportMemoryFlat imports a 256 MiB body and samples the heap while
// it streams: the DAG builder must not hold the file.
func TestImportMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB import")
	}
	n := newTestNode(t, Config{NoSync: true})
	mustBucket(t, n, "b")
	const size = 256 << 20
	body := &sampledReader{left: size, every: 4 << 20}
	info, err := n.PutObject(context.Background(), &s3api.PutObjectInput{Bucket: "b", Key: "big", Body: body, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Fatalf("size %d", info.Size)
	}
	t.Logf("peak live heap during a 256 MiB import: %d MiB over %d samples; MiB per 4 MiB read: %v", body.peak>>20, body.samples, body.series)
	if body.samples < 50 {
		t.Fatalf("only %d samples", body.samples)
	}
	if body.peak > 64<<20 {
		t.Fatalf("peak live heap %d MiB, want < 64 MiB", body.peak>>20)
	}
}

// sampledReader yields pseudo-random bytes and records the peak live heap
// every `every` bytes.
type sampledReader struct {
	left, every, since int64
	x                  uint64
	peak               uint64
	samples            int
	series             []uint64 // MiB
}

func (s *sampledReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	for i := range p {
		s.x = s.x*6364136223846793005 + 1442695040888963407
		p[i] = byte(s.x >> 56)
	}
	s.left -= int64(len(p))
	s.since += int64(len(p))
	if s.since >= s.every {
		s.since = 0
		// Collect first so the sample is what the import retains, not
		// garbage awaiting the next cycle.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapAlloc)
		s.series = append(s.series, ms.HeapAlloc>>20)
		s.samples++
	}
	return len(p), nil
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	n := newTestNode(t, Config{Registerer: reg, ChunkSize: 10})
	mustBucket(t, n, "b")
	put(t, n, "b", "k", []byte("0123456789abcdefghij"))
	_, c, err := n.GetObject(context.Background(), "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	readRange(t, c, 5, 10)
	if _, err := n.PutObject(context.Background(), &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: strings.NewReader("x"), Size: 2}); err == nil {
		t.Fatal("short body accepted")
	}
	want := `
# HELP s3mesh_gateway_get_bytes_total Object bytes read from content handles returned by GetObject.
# TYPE s3mesh_gateway_get_bytes_total counter
s3mesh_gateway_get_bytes_total 10
# HELP s3mesh_gateway_put_bytes_total Object bytes imported by PutObject, including aborted imports.
# TYPE s3mesh_gateway_put_bytes_total counter
s3mesh_gateway_put_bytes_total 21
# HELP s3mesh_gateway_put_objects_total PutObject calls by result: ok, aborted (body, digest or size failure), rejected (precondition or bucket), error.
# TYPE s3mesh_gateway_put_objects_total counter
s3mesh_gateway_put_objects_total{result="aborted"} 1
s3mesh_gateway_put_objects_total{result="ok"} 1
# HELP s3mesh_blockstore_blocks Number of blocks in the local block store.
# TYPE s3mesh_blockstore_blocks gauge
s3mesh_blockstore_blocks 6
# HELP s3mesh_gateway_block_read_bytes_total Bytes of the blocks read for object content by result: hit (from the local store), miss (fetched from a peer).
# TYPE s3mesh_gateway_block_read_bytes_total counter
s3mesh_gateway_block_read_bytes_total{result="hit"} 118
`
	// Blocks: two leaves and a root for the object, the single raw block
	// of the aborted body, which stays until garbage collection, and the
	// namespace's two deltas (the bucket and the object). Block bytes
	// read: the root (98 bytes) and the two 10-byte leaves of the range.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"s3mesh_gateway_get_bytes_total", "s3mesh_gateway_put_bytes_total",
		"s3mesh_gateway_put_objects_total", "s3mesh_blockstore_blocks", "s3mesh_gateway_block_read_bytes_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.CollectAndCount(reg, "s3mesh_gateway_dag_import_duration_seconds"); got != 1 {
		t.Fatalf("import histogram: %d series", got)
	}
}

// TestCopySharesContent: a copy names the source's root and adds no block.
func TestCopySharesContent(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 100})
	mustBucket(t, n, "a")
	mustBucket(t, n, "b")
	src := put(t, n, "a", "src", randBytes(9, 1000))
	before := n.blocks.Stats()
	cp, err := n.CopyObject(context.Background(), &s3api.CopyObjectInput{Bucket: "b", Key: "dst", SourceBucket: "a", SourceKey: "src",
		ReplaceMetadata: true, Tags: map[string]string{"t": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if cp.CID != src.CID || cp.ETag != src.ETag || cp.Size != src.Size || cp.Tags["t"] != "v" {
		t.Fatalf("copy %+v of %+v", cp, src)
	}
	// The only block written is the namespace's delta publishing the copy.
	if after := n.blocks.Stats(); after.Blocks != before.Blocks+1 || after.Bytes-before.Bytes > 2048 {
		t.Fatalf("copy changed the block store by more than one namespace delta: %+v -> %+v", before, after)
	}
	if _, err := n.CopyObject(context.Background(), &s3api.CopyObjectInput{Bucket: "b", Key: "dst", SourceBucket: "a", SourceKey: "src",
		SourceETag: "other"}); !errors.Is(err, s3err.ErrPreconditionFailed) {
		t.Fatalf("copy with a stale source etag: %v", err)
	}
}
