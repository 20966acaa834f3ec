package namespace

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	boxobs "github.com/ipfs/boxo/blockstore"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// crdtWait bounds every wait for replication: generous, as the race
// detector on a loaded 2-core machine is slow.
const crdtWait = 30 * time.Second

const crdtTestNetwork = "test"

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openOfflineCRDT(t testing.TB, dir string, clock *fakeClock) *CRDTNamespace {
	t.Helper()
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	cfg := CRDTConfig{Dir: dir, NodeID: "solo", NoSync: true, PruneGrace: time.Minute, PruneInterval: -1}
	if clock != nil {
		cfg.Clock = clock.Now
	}
	ns, err := OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func TestCrdtOrderAndList(t *testing.T) {
	t.Parallel()
	ns := openOfflineCRDT(t, t.TempDir(), nil)
	fillNamespace(t, ns, "b", awkwardKeys)
	fillNamespace(t, ns, "a", []string{"zzz"})
	want := slices.Clone(awkwardKeys)
	slices.Sort(want)
	res, err := List(context.Background(), ns, s3api.ListObjectsInput{Bucket: "b", MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, keysOf(res)); diff != "" {
		t.Fatalf("listing (-want +got):\n%s", diff)
	}
	for _, k := range awkwardKeys {
		rec, err := ns.GetObject(context.Background(), "b", k)
		if err != nil || rec.Key != k {
			t.Fatalf("get %q: %+v, %v", k, rec, err)
		}
	}
}

func TestCrdtLocalSemantics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := openOfflineCRDT(t, t.TempDir(), nil)
	if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: "k", ETag: "1"}, nil); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("put into missing bucket: %v", err)
	}
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); !errors.Is(err, s3err.ErrBucketAlreadyOwnedByYou) {
		t.Fatalf("create twice: %v", err)
	}
	ifAbsent := func(cur *ObjectRecord) error {
		if cur != nil {
			return s3err.ErrPreconditionFailed
		}
		return nil
	}
	if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: "k", ETag: "1"}, ifAbsent); err != nil {
		t.Fatal(err)
	}
	if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: "k", ETag: "2"}, ifAbsent); !errors.Is(err, s3err.ErrPreconditionFailed) {
		t.Fatalf("conditional put over existing key: %v", err)
	}
	rec, err := ns.UpdateObject(ctx, "b", "k", func(cur *ObjectRecord) (*ObjectRecord, error) {
		c := *cur
		c.Tags = map[string]string{"t": "v"}
		return &c, nil
	})
	if err != nil || rec.ETag != "1" {
		t.Fatalf("update: %+v, %v", rec, err)
	}
	if got, err := ns.GetObject(ctx, "b", "k"); err != nil || got.Tags["t"] != "v" {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	if err := ns.DeleteBucket(ctx, "b"); !errors.Is(err, s3err.ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty bucket: %v", err)
	}
	if err := ns.DeleteObject(ctx, "b", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.GetObject(ctx, "b", "k"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := ns.DeleteBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.GetBucket(ctx, "b"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("get deleted bucket: %v", err)
	}
	// A bucket created again starts empty.
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.GetObject(ctx, "b", "k"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("get in recreated bucket: %v", err)
	}
}

// crdtHas reports whether the CRDT holds key.
func crdtHas(t *testing.T, ns *CRDTNamespace, key string) bool {
	t.Helper()
	ok, err := ns.crdtDS().Has(context.Background(), ds.NewKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// winnerVersion returns the version of the key's winning entry in ns's
// index, "" when there is none.
func winnerVersion(t *testing.T, ns *CRDTNamespace, bucket, key string) string {
	t.Helper()
	v, ok, err := ns.idx.get(winnerKey(bucket, key))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	w, err := decodeWinner(v)
	if err != nil {
		t.Fatal(err)
	}
	return w.version
}

func TestCrdtPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ns := openOfflineCRDT(t, t.TempDir(), clock)
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	put := func(etag string) string {
		t.Helper()
		if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: "k", ETag: etag}, nil); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Millisecond)
		return objectEntryKey("b", "k", winnerVersion(t, ns, "b", "k"))
	}
	v1 := put("1")
	v2 := put("2")
	if n, err := ns.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("prune within the grace period: %d, %v", n, err)
	}
	if !crdtHas(t, ns, v1) {
		t.Fatal("superseded entry pruned before its grace period")
	}
	clock.Add(time.Minute)
	if n, err := ns.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if crdtHas(t, ns, v1) || !crdtHas(t, ns, v2) {
		t.Fatal("prune removed the wrong entry")
	}
	if rec, err := ns.GetObject(ctx, "b", "k"); err != nil || rec.ETag != "2" {
		t.Fatalf("winner after prune: %+v, %v", rec, err)
	}
	// A delete marker supersedes v2; the marker itself stays.
	if err := ns.DeleteObject(ctx, "b", "k"); err != nil {
		t.Fatal(err)
	}
	marker := objectEntryKey("b", "k", winnerVersion(t, ns, "b", "k"))
	clock.Add(2 * time.Minute)
	if n, err := ns.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("prune after delete: %d, %v", n, err)
	}
	if crdtHas(t, ns, v2) || !crdtHas(t, ns, marker) {
		t.Fatal("prune after delete removed the wrong entry")
	}
	if _, err := ns.GetObject(ctx, "b", "k"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("deleted key after prune: %v", err)
	}
	if n, err := ns.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("prune with an empty queue: %d, %v", n, err)
	}
}

func TestCrdtRebuildAfterUncleanClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	cfg := CRDTConfig{Dir: dir, NodeID: "solo", NoSync: true, PruneInterval: -1}
	ns, err := OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	fillNamespace(t, ns, "b", []string{"x", "y", "z"})
	if err := ns.DeleteObject(ctx, "b", "y"); err != nil {
		t.Fatal(err)
	}
	// Lose part of the index and close as a crash would (the dirty marker
	// stays).
	if err := ns.idx.db.DeleteRange([]byte("o/"), []byte("o0"), ns.idx.wo); err != nil {
		t.Fatal(err)
	}
	ns.indexFailed.Store(true)
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	ns, err = OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	res, err := List(ctx, ns, s3api.ListObjectsInput{Bucket: "b", MaxKeys: 100})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"x", "z"}, keysOf(res)); diff != "" {
		t.Fatalf("listing after rebuild (-want +got):\n%s", diff)
	}
}

func TestCrdtVersionOrder(t *testing.T) {
	t.Parallel()
	h := hlc{now: func() time.Time { return time.UnixMilli(1000) }}
	var prev string
	for range 5 {
		ms, c := h.next()
		v := formatVersion(ms, c, "n")
		if v <= prev {
			t.Fatalf("version %q not after %q", v, prev)
		}
		prev = v
	}
	// Observing a clock ahead of ours moves later readings past it.
	h.observe(5000, 7)
	ms, c := h.next()
	if v := formatVersion(ms, c, "a"); v <= formatVersion(5000, 7, "z") {
		t.Fatalf("version %q after observing a later clock", v)
	}
	if _, err := parseEntryKey(objectEntryKey("b", "a/../b//c", formatVersion(1, 2, "n"))); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/o/x", "/o/YQ/YQ/zz", "/b/YQ/0000.n", "/q/YQ/" + formatVersion(1, 2, "n"), "/o//YQ/" + formatVersion(1, 2, "n")} {
		if _, err := parseEntryKey(bad); err == nil {
			t.Errorf("parseEntryKey(%q) succeeded", bad)
		}
	}
}
