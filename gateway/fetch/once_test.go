package fetch

import (
	"context"
	"sync/atomic"
	"testing"

	bstore "github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
)

// vanishing is a block store whose next Has of a block it lacks says it
// has it, as when a block is removed between a check and a read.
type vanishing struct {
	bstore.Blockstore
	lie atomic.Bool
}

func (v *vanishing) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if v.lie.CompareAndSwap(true, false) {
		return true, nil
	}
	return v.Blockstore.Has(ctx, c)
}

// oneBlock is an exchange that has one block.
type oneBlock struct {
	b     blocks.Block
	calls atomic.Int64
}

func (o *oneBlock) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	o.calls.Add(1)
	if c.Equals(o.b.Cid()) {
		return o.b, nil
	}
	return nil, ipld.ErrNotFound{Cid: c}
}

func (o *oneBlock) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block, 1)
	out <- o.b
	close(out)
	return out, nil
}

func (o *oneBlock) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }
func (o *oneBlock) Close() error                                           { return nil }

// TestOnceFetchesWhatVanished: a block removed (evicted, collected) between
// the once-exchange's check and its read is fetched, not reported missing.
func TestOnceFetchesWhatVanished(t *testing.T) {
	ctx := context.Background()
	store := &vanishing{Blockstore: bstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))}
	b := blocks.NewBlock([]byte("a block evicted under a read"))
	x := &oneBlock{b: b}
	o := newOnceExchange(x, store)
	store.lie.Store(true)
	got, err := o.NewSession(ctx).GetBlock(ctx, b.Cid())
	if err != nil || !got.Cid().Equals(b.Cid()) {
		t.Fatalf("GetBlock = %v, %v", got, err)
	}
	if x.calls.Load() != 1 {
		t.Fatalf("%d fetches from the exchange, want 1", x.calls.Load())
	}
}
