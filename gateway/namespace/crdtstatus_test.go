package namespace

import (
	"context"
	"errors"
	"fmt"
	"s3mesh/gateway/internal/gwtest"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"s3mesh/s3api/s3err"
)

func TestLagWindowSummary(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name          string
		samples       []time.Duration
		p50, p99, max time.Duration
	}{
		{"none", nil, 0, 0, 0},
		{"one", []time.Duration{7 * ms}, 7 * ms, 7 * ms, 7 * ms},
		{"unordered", []time.Duration{5 * ms, 1 * ms, 3 * ms, 2 * ms, 4 * ms}, 3 * ms, 5 * ms, 5 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w lagWindow
			at := time.Unix(1e9, 0)
			for _, s := range tt.samples {
				w.add(s, at)
			}
			got := w.summary()
			if got.Samples != len(tt.samples) || got.P50 != tt.p50 || got.P99 != tt.p99 || got.Max != tt.max {
				t.Errorf("summary = %+v; want %d samples, p50 %s, p99 %s, max %s", got, len(tt.samples), tt.p50, tt.p99, tt.max)
			}
			if len(tt.samples) > 0 && !got.Last.Equal(at) {
				t.Errorf("last = %s, want %s", got.Last, at)
			}
		})
	}
	// The window keeps the latest lagWindowSize samples only: 2000
	// samples of 1..2000 ms leave 977..2000 ms.
	var w lagWindow
	for i := 1; i <= 2000; i++ {
		w.add(time.Duration(i)*ms, time.Now())
	}
	if got := w.summary(); got.Samples != lagWindowSize || got.Max != 2000*ms || got.P50 != (2000-lagWindowSize/2+1)*ms {
		t.Errorf("after 2000 samples: %+v", got)
	}
}

// TestCrdtStatus: a node's status shows its topic peer, one head after
// sequential writes, and the lag of the entries another node wrote.
func TestCrdtStatus(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		crdtPut(t, a, "bkt", fmt.Sprintf("k%d", i), "e")
	}
	etagEverywhere(t, peers, "bkt", "k4", "e")
	// B shows k4 as soon as it applied the delta holding it; the walk of
	// the older deltas (and their lag samples) may still be finishing.
	var st NamespaceStatus
	waitFor(t, "B to finish applying A's deltas", func() error {
		st = b.ns.Status(ctx)
		if st.MaxHeight != 6 || st.Lag.Samples != 6 || st.QueuedJobs != 0 {
			return fmt.Errorf("height %d, %d lag samples, %d jobs queued", st.MaxHeight, st.Lag.Samples, st.QueuedJobs)
		}
		return nil
	})
	if st.Network != crdtTestNetwork || st.Topic != CRDTTopic(crdtTestNetwork) || st.TopicPeers != 1 ||
		st.Heads != 1 || st.MaxHeight != 6 || st.Dirty {
		t.Errorf("status of B = %+v; want 1 topic peer, 1 head at height 6, clean", st)
	}
	if st.Lag.Samples != 6 || st.Lag.Max <= 0 || st.Lag.P50 > st.Lag.P99 || st.Lag.P99 > st.Lag.Max || st.Lag.Last.IsZero() {
		t.Errorf("lag at B = %+v; want the 6 entries A wrote", st.Lag)
	}
	if st := a.ns.Status(ctx); st.Lag.Samples != 0 {
		t.Errorf("lag at A = %+v; A applied nothing from others", st.Lag)
	}
}

// TestCrdtUsage: the object count and logical bytes follow puts,
// overwrites, deletes and bucket deletion, survive a restart and a
// rebuild of the index, and agree with a full count at every step.
func TestCrdtUsage(t *testing.T) {
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
	defer func() { ns.Close() }()
	check := func(step string, objects, bytes int64) {
		t.Helper()
		o, b := ns.Usage()
		full, err := ns.countUsage()
		if err != nil {
			t.Fatal(err)
		}
		if o != objects || b != bytes || full.objects != o || full.bytes != b {
			t.Errorf("%s: usage %d objects %d bytes, full count %+v; want %d objects %d bytes", step, o, b, full, objects, bytes)
		}
	}
	put := func(bucket, key string, size int64) {
		t.Helper()
		if err := ns.PutObject(ctx, &ObjectRecord{Bucket: bucket, Key: key, ETag: "e", Root: gwtest.EmptyFileCID, Size: size}, nil); err != nil {
			t.Fatal(err)
		}
	}
	check("empty", 0, 0)
	for _, b := range []string{"b1", "b2"} {
		if err := ns.CreateBucket(ctx, BucketRecord{Name: b}); err != nil {
			t.Fatal(err)
		}
	}
	put("b1", "x", 3)
	put("b1", "y", 5)
	put("b2", "z", 7)
	check("three puts", 3, 15)
	put("b1", "x", 10)
	check("overwrite", 3, 22)
	if err := ns.DeleteObject(ctx, "b1", "y"); err != nil {
		t.Fatal(err)
	}
	check("delete", 2, 17)
	if err := ns.DeleteObject(ctx, "b2", "z"); err != nil {
		t.Fatal(err)
	}
	if err := ns.DeleteBucket(ctx, "b2"); err != nil {
		t.Fatal(err)
	}
	check("bucket deleted", 1, 10)

	// A remote entry written before the bucket's deletion arrives late:
	// it is dead and counts for nothing; one written after it counts once
	// the bucket exists again.
	early := objectEntryKey("b2", "late", formatVersion(1, 0, "other"))
	if _, _, err := ns.apply(early, entry{kind: entryPut, payload: mustEncode(t, 4)}.encode()); err != nil {
		t.Fatal(err)
	}
	check("dead remote entry", 1, 10)

	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if ns, err = OpenCRDTNamespace(cfg, nil, dag); err != nil {
		t.Fatal(err)
	}
	check("reopened", 1, 10)
	ns.indexFailed.Store(true)
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if ns, err = OpenCRDTNamespace(cfg, nil, dag); err != nil {
		t.Fatal(err)
	}
	check("rebuilt", 1, 10)
}

func mustEncode(t *testing.T, size int64) []byte {
	t.Helper()
	v, err := encodeObject(&ObjectRecord{Bucket: "b", Key: "k", ETag: "e", Root: gwtest.EmptyFileCID, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCrdtUpdateBucket: a bucket's settings change at one office and
// reach the others; its objects and creation time stay.
func TestCrdtUpdateBucket(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt", Location: "berlin"}); err != nil {
		t.Fatal(err)
	}
	crdtPut(t, a, "bkt", "k", "e1")
	etagEverywhere(t, peers, "bkt", "k", "e1")
	before, err := b.ns.GetBucket(ctx, "bkt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.ns.UpdateBucket(ctx, "bkt", func(r *BucketRecord) error {
		r.Replicated, r.Chunker = true, "buzhash"
		r.Name, r.Created = "ignored", time.Unix(1, 0) // not changeable
		return nil
	})
	if err != nil || !got.Replicated || got.Name != "bkt" || !got.Created.Equal(before.Created) {
		t.Fatalf("UpdateBucket = %+v, %v", got, err)
	}
	waitFor(t, "settings at A", func() error {
		r, err := a.ns.GetBucket(ctx, "bkt")
		if err != nil {
			return err
		}
		if !r.Replicated || r.Chunker != "buzhash" || r.Location != "berlin" || !r.Created.Equal(before.Created) {
			return fmt.Errorf("A has %+v", r)
		}
		return nil
	})
	etagEverywhere(t, peers, "bkt", "k", "e1")
	if _, err := a.ns.UpdateBucket(ctx, "nope", func(*BucketRecord) error { return nil }); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Errorf("UpdateBucket of a missing bucket: %v", err)
	}
	boom := errors.New("boom")
	if _, err := a.ns.UpdateBucket(ctx, "bkt", func(*BucketRecord) error { return boom }); err != boom {
		t.Errorf("UpdateBucket with a failing fn: %v", err)
	}
}

// TestCrdtHooks: OnObject sees objects made visible by remote puts and by
// a bucket re-created, with their writer, OnBucket sees settings changes;
// deletes call neither.
func TestCrdtHooks(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	var mu sync.Mutex
	var objects []string
	var buckets []BucketRecord
	b.close(t)
	b.mod = func(c *CRDTConfig) {
		c.OnObject = func(r *ObjectRecord) {
			mu.Lock()
			objects = append(objects, r.Key+"="+r.ETag+"@"+r.Writer)
			mu.Unlock()
		}
		c.OnBucket = func(r *BucketRecord) { mu.Lock(); buckets = append(buckets, *r); mu.Unlock() }
	}
	b.open(t)
	connectCrdtPeers(t, peers)
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	crdtPut(t, a, "bkt", "k", "e1")
	crdtPut(t, a, "bkt", "k", "e2")
	etagEverywhere(t, peers, "bkt", "k", "e2")
	for _, p := range peers {
		if w, err := p.ns.Writer("bkt", "k"); err != nil || w != a.ex.ID().String() {
			t.Errorf("%s: writer of bkt/k = %q, %v; want A", p.name, w, err)
		}
	}
	if w, err := a.ns.Writer("bkt", "absent"); err != nil || w != "" {
		t.Errorf("writer of an absent key = %q, %v; want none", w, err)
	}
	if _, err := a.ns.UpdateBucket(ctx, "bkt", func(r *BucketRecord) error { r.Replicated = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.ns.DeleteObject(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	etagEverywhere(t, peers, "bkt", "k", "")
	waitFor(t, "hooks", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(buckets) != 2 || !buckets[1].Replicated || buckets[0].Replicated {
			return fmt.Errorf("buckets %+v", buckets)
		}
		// e1 is reported only when it arrives before e2.
		w := "@" + a.ex.ID().String()
		if got := fmt.Sprint(objects); got != "[k=e1"+w+" k=e2"+w+"]" && got != "[k=e2"+w+"]" {
			return fmt.Errorf("objects %q", objects)
		}
		return nil
	})
}
