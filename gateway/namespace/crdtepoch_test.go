package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// openOfflineWith opens an offline namespace named node over dag.
func openOfflineWith(t *testing.T, node string, dag ipld.DAGService) *CRDTNamespace {
	t.Helper()
	ns, err := OpenCRDTNamespace(CRDTConfig{Dir: t.TempDir(), NodeID: node, NoSync: true, PruneInterval: -1, FoldHeight: -1}, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func memDAG() ipld.DAGService {
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	return merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
}

// indexState is every winner and bucket state of ns: what must be equal
// on two converged nodes.
func indexState(t *testing.T, ns *CRDTNamespace) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{prefixWinner, prefixBState, prefixObject, prefixBucket, prefixVersion} {
		it, err := ns.idx.prefixIter(context.Background(), []byte(p))
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			out[string(it.Key())] = string(it.Value())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSnapshotInstall: a snapshot of one node's index, installed on
// another node, gives the same index; installed on a node that holds newer
// entries of some keys it keeps them, and the diff names exactly those;
// and installing is idempotent.
func TestSnapshotInstall(t *testing.T) {
	ctx := context.Background()
	dag := memDAG()
	a := openOfflineWith(t, "node-a", dag)
	for _, b := range []string{"keep", "gone", "again"} {
		if err := a.CreateBucket(ctx, BucketRecord{Name: b}); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(b, k, e string) *ObjectRecord {
		return &ObjectRecord{Bucket: b, Key: k, ETag: e, Root: "bafkqaaa", Size: int64(len(e))}
	}
	for i := range 700 { // several leaves
		if err := a.PutObject(ctx, rec("keep", fmt.Sprintf("k/%04d", i), "e1"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DeleteObject(ctx, "keep", "k/0001"); err != nil {
		t.Fatal(err)
	}
	if err := a.PutObject(ctx, rec("gone", "x", "e"), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteObject(ctx, "gone", "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteBucket(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteBucket(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateBucket(ctx, BucketRecord{Name: "again"}); err != nil {
		t.Fatal(err)
	}
	s, err := a.buildSnapshot(ctx, dag, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.header.Leaves < 3 || s.header.BucketLeaves != 1 {
		t.Fatalf("snapshot shape: %+v", s.header)
	}
	loaded, err := loadSnapshotRoot(ctx, dag, s.root)
	if err != nil {
		t.Fatal(err)
	}
	want := indexState(t, a)

	tests := []struct {
		name string
		// before writes on the installing node first (with a clock ahead
		// of a's, so its entries are newer).
		before func(t *testing.T, b *CRDTNamespace)
		// diff is how many entries the diff must name.
		diff int
	}{
		{name: "fresh", before: func(*testing.T, *CRDTNamespace) {}, diff: 0},
		{name: "newer keys", before: func(t *testing.T, b *CRDTNamespace) {
			if err := b.CreateBucket(ctx, BucketRecord{Name: "keep"}); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"k/0002", "new"} {
				if err := b.PutObject(ctx, rec("keep", k, "b-wins"), nil); err != nil {
					t.Fatal(err)
				}
			}
		}, diff: 3}, // the bucket (b's create is newer) and two keys
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openOfflineWith(t, "node-b", dag)
			b.clock.observe(time.Now().Add(time.Hour).UnixMilli(), 0)
			tt.before(t, b)
			for range 2 { // idempotent
				if err := b.installSnapshot(ctx, dag, loaded, &joinTracker{}); err != nil {
					t.Fatal(err)
				}
			}
			var diff []string
			if err := b.snapshotDiff(ctx, dag, loaded, func(e kv) error { diff = append(diff, e.key); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(diff) != tt.diff {
				t.Fatalf("diff %v, want %d entries", diff, tt.diff)
			}
			got := indexState(t, b)
			if tt.diff == 0 && !maps.Equal(got, want) {
				t.Fatalf("installed index differs: %d items, want %d", len(got), len(want))
			}
			if tt.diff > 0 {
				r, err := b.GetObject(ctx, "keep", "k/0002")
				if err != nil || r.ETag != "b-wins" {
					t.Fatalf("newer key lost: %v %v", r, err)
				}
				if _, err := b.GetObject(ctx, "keep", "k/0001"); err == nil {
					t.Fatal("deleted key visible")
				}
				if o, _ := b.Usage(); o != 700 { // 699 of a's + "new"
					t.Fatalf("%d objects visible", o)
				}
			}
		})
	}
}

// TestCrdtFoldAndJoin: an office folds its epoch; its peer follows without
// losing what it wrote meanwhile; a fresh office joins from the snapshot,
// walks only the deltas after it, and sees writes made during its join.
func TestCrdtFoldAndJoin(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 40 {
		k := fmt.Sprintf("a-%02d", i)
		crdtPut(t, a, "bkt", k, "e1")
		want[k] = "e1"
	}
	waitFor(t, "b has a's writes", func() error { return stateIs(b, "bkt", want) })
	heightBefore := a.ns.Status(ctx).MaxHeight
	root, err := a.ns.Fold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	crdtPut(t, b, "bkt", "b-during", "e2") // b may still be in epoch 0
	want["b-during"] = "e2"
	for _, p := range peers {
		waitFor(t, p.name+" in epoch 1", func() error {
			if st := p.ns.Status(ctx).Epoch; st.Epoch != 1 || st.Snapshot != root.String() {
				return fmt.Errorf("%s: epoch %d from %s", p.name, st.Epoch, st.Snapshot)
			}
			return nil
		})
	}
	crdtPut(t, a, "bkt", "a-after", "e3")
	want["a-after"] = "e3"
	for _, p := range peers {
		waitFor(t, p.name+" state", func() error { return stateIs(p, "bkt", want) })
	}

	// A fresh office.
	c := newCrdtPeersJoining(t, peers, "C")
	crdtPut(t, b, "bkt", "b-while-c-joins", "e4")
	want["b-while-c-joins"] = "e4"
	all := append(peers, c)
	for _, p := range all {
		waitFor(t, p.name+" state", func() error { return stateIs(p, "bkt", want) })
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	waitFor(t, "same winners", func() error { return sameWinners(all, "bkt", keys) })
	st := c.ns.Status(ctx)
	if st.Epoch.Epoch != 1 || st.Epoch.Join.State != "done" || st.Epoch.Join.ItemsDone < 41 {
		t.Fatalf("c's epoch status: %+v", st.Epoch)
	}
	if st.MaxHeight >= heightBefore {
		t.Fatalf("c walked %d levels, the history before the fold had %d", st.MaxHeight, heightBefore)
	}
}

// newCrdtPeersJoining starts a fresh peer and connects it to peers.
func newCrdtPeersJoining(t *testing.T, peers []*crdtPeer, name string) *crdtPeer {
	t.Helper()
	c := newCrdtPeers(t, 1)[0]
	c.name = name
	connectCrdtPeers(t, append(append([]*crdtPeer{}, peers...), c))
	return c
}

// TestCrdtFoldPartition: two sides of a partition fold independently (two
// epochs with the same number), and write on both sides, including an
// office cut off across two folds; healed, every office ends in the same
// epoch with the same listing and the same winner per key.
func TestCrdtFoldPartition(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 10 {
		k := fmt.Sprintf("k%02d", i)
		crdtPut(t, a, "bkt", k, "base")
		want[k] = "base"
	}
	for _, p := range peers {
		waitFor(t, p.name+" base", func() error { return stateIs(p, "bkt", want) })
	}
	pt := cut(t, []*crdtPeer{a, b}, []*crdtPeer{c})
	// Both sides write the same keys and new ones, and fold.
	crdtPut(t, a, "bkt", "k01", "left")
	crdtPut(t, c, "bkt", "k02", "right")
	crdtPut(t, c, "bkt", "k01", "right-later") // c's clock read is later: it wins k01
	crdtPut(t, b, "bkt", "left-new", "l")
	crdtPut(t, c, "bkt", "right-new", "r")
	if err := c.ns.DeleteObject(ctx, "bkt", "k03"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ns.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	crdtPut(t, b, "bkt", "left-after-fold", "l2")
	waitFor(t, "b in a's epoch", func() error {
		if e := b.ns.Status(ctx).Epoch.Epoch; e != 1 {
			return fmt.Errorf("b in epoch %d", e)
		}
		return nil
	})
	if _, err := a.ns.Fold(ctx); err != nil { // c is cut off across two folds
		t.Fatal(err)
	}
	if _, err := c.ns.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	crdtPut(t, c, "bkt", "right-after-fold", "r2")
	pt.heal()

	want["k01"], want["k02"], want["left-new"], want["right-new"] = "right-later", "right", "l", "r"
	want["left-after-fold"], want["right-after-fold"] = "l2", "r2"
	delete(want, "k03")
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for _, p := range peers {
		waitForDiag(t, p.name+" converged", crdtWait, func() error { return stateIs(p, "bkt", want) }, func() string {
			var s string
			for _, q := range peers {
				s += fmt.Sprintf("%s: %+v\n", q.name, q.ns.Status(ctx).Epoch)
			}
			return s
		})
	}
	waitFor(t, "same winners", func() error { return sameWinners(peers, "bkt", append(keys, "k03")) })
	waitFor(t, "same epoch", func() error {
		e0 := a.ns.Status(ctx).Epoch
		for _, p := range peers[1:] {
			if e := p.ns.Status(ctx).Epoch; e.Epoch != e0.Epoch || e.Snapshot != e0.Snapshot {
				return fmt.Errorf("%s in epoch %d/%s, %s in %d/%s", a.name, e0.Epoch, e0.Snapshot, p.name, e.Epoch, e.Snapshot)
			}
		}
		return nil
	})
}

// TestCrdtAutoFold: with a small FoldHeight the leader folds on its own
// once every office has the same heads, every office follows, and the old
// epoch's CRDT state is gone from each database.
func TestCrdtAutoFold(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	for _, p := range peers {
		p.close(t)
		p.mod = func(c *CRDTConfig) { c.FoldHeight = 8 }
		p.open(t)
	}
	connectCrdtPeers(t, peers)
	ctx := context.Background()
	if err := peers[0].ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, "bkt")
	want := map[string]string{}
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		crdtPut(t, peers[i%3], "bkt", k, "e")
		want[k] = "e"
	}
	for _, p := range peers {
		waitFor(t, p.name+" folded and converged", func() error {
			if e := p.ns.Status(ctx).Epoch.Epoch; e < 1 {
				return fmt.Errorf("%s in epoch %d", p.name, e)
			}
			return stateIs(p, "bkt", want)
		})
	}
	for _, p := range peers {
		waitFor(t, p.name+" dropped epoch 0", func() error {
			has, err := p.ns.hasPrefix(crdtNamespace + "/")
			if err != nil {
				return err
			}
			if has && p.ns.cur.Load().gen > 0 {
				return errors.New("epoch 0's CRDT state is still there")
			}
			return nil
		})
	}
}

// TestCrdtRebuildFromSeed: an unclean stop in a later epoch rebuilds the
// index from the epoch's seed and its deltas.
func TestCrdtRebuildFromSeed(t *testing.T) {
	ctx := context.Background()
	dag := memDAG()
	dir := t.TempDir()
	cfg := CRDTConfig{Dir: dir, NodeID: "solo", NoSync: true, PruneInterval: -1, FoldHeight: -1}
	ns, err := OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "bkt", Key: fmt.Sprint(i), ETag: "e", Root: "bafkqaaa"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ns.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "bkt", Key: "after", ETag: "e", Root: "bafkqaaa"}, nil); err != nil {
		t.Fatal(err)
	}
	want := indexState(t, ns)
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	// Simulate an unclean stop: the open marker stays.
	ns, err = OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.idx.db.Set(keyDirty, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Close deletes the marker: reopen without closing cleanly instead.
	ns.indexFailed.Store(true)
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	ns, err = OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if got := indexState(t, ns); !maps.Equal(got, want) {
		t.Fatalf("rebuilt index: %d items, want %d", len(got), len(want))
	}
	if o, _ := ns.Usage(); o != 21 {
		t.Fatalf("%d objects after rebuild", o)
	}
}

// TestCrdtPartitionDuringJoin: a fresh office starts joining from a
// snapshot, cannot fetch its leaves, and is then cut off; both sides
// write meanwhile (the newcomer into a bucket of its own). Healed, the
// join completes and every office has every write, with the same winners.
func TestCrdtPartitionDuringJoin(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, "bkt")
	want := map[string]string{}
	for i := range 600 { // several leaves
		k := fmt.Sprintf("k%03d", i)
		crdtPut(t, peers[i%2], "bkt", k, "e1")
		want[k] = "e1"
	}
	waitFor(t, "b has every write", func() error { return stateIs(b, "bkt", want) })
	if _, err := a.ns.Fold(ctx); err != nil {
		t.Fatal(err)
	}

	// The newcomer fetches the snapshot's root and inner nodes, not its
	// leaves (raw blocks).
	var faults dagFaults
	faults.failWhen(func(c cid.Cid) bool { return c.Prefix().Codec == cid.Raw })
	c := newCrdtPeers(t, 1)[0]
	c.name = "C"
	c.close(t)
	c.wrapDAG = faults.wrap(c)
	c.mod = func(cfg *CRDTConfig) { cfg.SnapshotTimeout = 2 * time.Second }
	c.open(t)
	all := []*crdtPeer{a, b, c}
	connectCrdtPeers(t, all)
	waitFor(t, "c's join fails", func() error {
		if j := c.ns.Status(ctx).Epoch.Join; j.State != "failed" {
			return fmt.Errorf("join %q", j.State)
		}
		return nil
	})
	pt := cut(t, []*crdtPeer{a, b}, []*crdtPeer{c})
	if err := c.ns.CreateBucket(ctx, BucketRecord{Name: "cbkt"}); err != nil {
		t.Fatal(err)
	}
	crdtPut(t, c, "cbkt", "from-c", "ec")
	crdtPut(t, a, "bkt", "k001", "a-during")
	crdtPut(t, b, "bkt", "new-b", "b-during")
	want["k001"], want["new-b"] = "a-during", "b-during"
	faults.failWhen(nil)
	pt.heal()

	for _, p := range all {
		waitFor(t, p.name+" converged", func() error {
			if err := stateIs(p, "bkt", want); err != nil {
				return err
			}
			return stateIs(p, "cbkt", map[string]string{"from-c": "ec"})
		})
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	waitFor(t, "same winners", func() error { return sameWinners(all, "bkt", keys) })
	if j := c.ns.Status(ctx).Epoch.Join; j.State != "done" || j.Republished < 2 {
		t.Fatalf("c's join: %+v (want done, with its bucket and object republished)", j)
	}
}

// TestEnvelope: announcements round-trip through their envelope, epoch 0
// without blocks keeps go-ds-crdt's bare format, and an attached block
// whose bytes do not hash to its CID makes the announcement malformed.
func TestEnvelope(t *testing.T) {
	seed := cid.NewCidV1(cid.Raw, mustHash(t, []byte("seed")))
	blk := blocks.NewBlock([]byte("a delta"))
	heads := []byte{0x0a, 0x02, 0x01, 0x02}
	tests := []struct {
		name     string
		id       epochID
		attached []blocks.Block
		bare     bool
	}{
		{name: "epoch 0, bare", id: epochID{}, bare: true},
		{name: "epoch 0, blocks", id: epochID{}, attached: []blocks.Block{blk}},
		{name: "epoch 3", id: epochID{number: 3, seed: seed}},
		{name: "epoch 3, blocks", id: epochID{number: 3, seed: seed}, attached: []blocks.Block{blk, blk}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := wrapHeads(tt.id, heads, tt.attached)
			if tt.bare != (string(data) == string(heads)) {
				t.Fatalf("bare %v, got %x", tt.bare, data)
			}
			id, h, att, err := unwrapHeads(data)
			if err != nil || !id.equal(tt.id) || string(h) != string(heads) || len(att) != len(tt.attached) {
				t.Fatalf("unwrap: %v %v %x %d", err, id, h, len(att))
			}
			if len(tt.attached) > 0 {
				// Flip a byte of the first block's data: rejected.
				bad := slices.Clone(data)
				i := bytes.Index(bad, blk.RawData())
				bad[i] ^= 1
				if _, _, _, err := unwrapHeads(bad); err == nil {
					t.Fatal("a tampered block was accepted")
				}
			}
			for cut := 1; cut < len(data)-len(heads) && !tt.bare; cut++ {
				if _, _, _, err := unwrapHeads(data[:cut]); err == nil && cut > len(envelopeMagic) {
					// A truncated envelope must not parse as one.
					t.Fatalf("truncated at %d parsed", cut)
				}
			}
		})
	}
}

func mustHash(t *testing.T, b []byte) mh.Multihash {
	t.Helper()
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFoldRefusedWhileVersioned: a snapshot carries each key's current
// version only, so a namespace with a versioned bucket is not folded.
func TestFoldRefusedWhileVersioned(t *testing.T) {
	ctx := context.Background()
	ns, err := OpenCRDTNamespace(CRDTConfig{Dir: t.TempDir(), NodeID: "solo", NoSync: true, PruneInterval: -1, FoldHeight: -1}, nil, memDAG())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "plain"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Fold(ctx); err != nil {
		t.Fatalf("fold without versioned buckets: %v", err)
	}
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.UpdateBucket(ctx, "kept", func(b *BucketRecord) error { b.Versioning = VersioningEnabled; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Fold(ctx); !errors.Is(err, ErrFoldRefused) {
		t.Fatalf("fold with a versioned bucket: %v, want ErrFoldRefused", err)
	}
}
