package upkeep

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"

	"s3mesh/blockstore"
	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
)

// newTestUpkeep returns an Upkeep started over a namespace and a block
// store of its own, offline, all closed at the test's end.
func newTestUpkeep(t *testing.T, cfg Config) *Upkeep {
	t.Helper()
	dir := t.TempDir()
	bs, err := blockstore.Open(blockstore.Config{Path: filepath.Join(dir, "blocks"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	f, err := fetch.New(fetch.Config{}, bs.Blockstore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	u, err := New(cfg, bs)
	if err != nil {
		t.Fatal(err)
	}
	dags := merkledag.NewDAGService(f.BlockService())
	ns, err := namespace.OpenCRDTNamespace(namespace.CRDTConfig{Dir: filepath.Join(dir, "namespace"), NodeID: "solo", NoSync: true}, nil, u.TrackDeltas(dags))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	u.Start(ns, f)
	t.Cleanup(u.Close)
	return u
}

// TestGCKeepsDeltasInFlight: a delta added to the namespace's DAG service
// and not yet a head (go-ds-crdt makes it one right after) survives GC.
func TestGCKeepsDeltasInFlight(t *testing.T) {
	t.Parallel()
	n := newTestUpkeep(t, Config{})
	ctx := context.Background()
	d := n.TrackDeltas(merkledag.NewDAGService(n.fetch.BlockService()))
	nd := merkledag.NodeWithData([]byte("a delta about to become a head"))
	if err := d.Add(ctx, nd); err != nil {
		t.Fatal(err)
	}
	res, err := n.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := n.blocks.Blockstore().Has(ctx, nd.Cid()); !ok {
		t.Fatalf("GC removed a delta in flight (%+v)", res)
	}
	// Once not noted any more (expired), it is garbage like any block.
	n.gc.deltas.forget(func(string) bool { return true })
	if _, err := n.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if ok, _ := n.blocks.Blockstore().Has(ctx, nd.Cid()); ok {
		t.Fatal("a block no root reaches survived GC")
	}
}

// TestJanitorLifecycle: the janitor runs from Start to Close, and not at
// all with a negative MultipartMaxAge.
func TestJanitorLifecycle(t *testing.T) {
	t.Parallel()
	n := newTestUpkeep(t, Config{})
	if n.janitorDone == nil {
		t.Fatal("no janitor running")
	}
	n.Close()
	select {
	case <-n.janitorDone:
	default:
		t.Error("Close returned with the janitor still running")
	}
	off := newTestUpkeep(t, Config{MultipartMaxAge: -1})
	if off.janitorDone != nil {
		t.Error("a negative MultipartMaxAge started the janitor")
	}
}

func TestJanitorInterval(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ age, want time.Duration }{
		{DefaultMultipartMaxAge, time.Hour},
		{2 * time.Hour, 30 * time.Minute},
		{time.Second, time.Second},
	} {
		if got := janitorInterval(c.age); got != c.want {
			t.Errorf("janitorInterval(%v) = %v, want %v", c.age, got, c.want)
		}
	}
	if got := (Config{}).withDefaults().MultipartMaxAge; got != DefaultMultipartMaxAge {
		t.Errorf("default MultipartMaxAge = %v", got)
	}
}

// TestAccessTracksCacheOnly: read times are kept for blocks fetched from
// peers (and read again), not for the node's own blocks, and forgotten
// once the block is gone.
func TestAccessTracksCacheOnly(t *testing.T) {
	t.Parallel()
	n := newTestUpkeep(t, Config{})
	ctx := context.Background()
	own := merkledag.NodeWithData([]byte("own"))
	fetched := merkledag.NodeWithData([]byte("fetched"))
	for _, nd := range []*merkledag.ProtoNode{own, fetched} {
		if err := n.blocks.Blockstore().Put(ctx, nd); err != nil {
			t.Fatal(err)
		}
	}
	n.Touch(own.Cid(), 3, false, false)
	n.Touch(fetched.Cid(), 7, true, false)
	n.Touch(fetched.Cid(), 7, false, false)
	n.Touch(merkledag.NodeWithData([]byte("kept")).Cid(), 4, true, true)
	tracked := func() int {
		n.cache.mu.Lock()
		defer n.cache.mu.Unlock()
		return len(n.cache.access)
	}
	if got := tracked(); got != 1 {
		t.Fatalf("%d blocks tracked, want 1 (the fetched one)", got)
	}
	if _, _, err := n.blocks.DeleteBlocks(ctx, []cid.Cid{fetched.Cid()}); err != nil {
		t.Fatal(err)
	}
	n.pruneAccess(ctx)
	if got := tracked(); got != 0 {
		t.Fatalf("%d blocks tracked after the fetched one was removed, want 0", got)
	}
}
