package blockstore

import (
	"context"
	"fmt"

	bstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// AllKeys enumerates every stored block, as garbage collection needs: the
// CIDs carry the stored multihash (CIDv1 raw; the store is keyed by
// multihash, so the codec a block was written under is not kept). The
// enumeration ends early when ctx ends; done, called once the channel is
// drained, reports an error that ended it early (nil when every block was
// delivered). Blocks written or deleted meanwhile may or may not appear.
// Delete nothing while enumerating: collect, then call DeleteBlocks.
func (s *Store) AllKeys(ctx context.Context) (keys <-chan cid.Cid, done func() error, err error) {
	if e, ok := s.inner.(bstore.AllKeysChanWithErrer); ok {
		keys, done, err = e.AllKeysChanWithErr(ctx)
	} else {
		keys, err = s.inner.AllKeysChan(ctx)
		done = func() error { return nil }
	}
	if err != nil {
		return nil, nil, fmt.Errorf("enumerate blocks: %w", err)
	}
	return keys, done, nil
}

// DeleteBlocks deletes the blocks cs and returns how many were deleted and
// the bytes of data they held; a block already absent is skipped, not
// counted. The size accounting is updated block by block. It stops at the
// first error or when ctx ends, returning what it deleted so far. The
// deletions are durable once a later Sync returns nil.
func (s *Store) DeleteBlocks(ctx context.Context, cs []cid.Cid) (removed, freed int64, err error) {
	for _, c := range cs {
		if err := ctx.Err(); err != nil {
			return removed, freed, fmt.Errorf("delete blocks: %w", err)
		}
		size, ok, err := s.acct.deleteSized(ctx, c)
		if err != nil {
			return removed, freed, fmt.Errorf("delete block %s: %w", c, err)
		}
		if ok {
			removed++
			freed += int64(size)
		}
	}
	return removed, freed, nil
}

// deleteSized is DeleteBlock that reports the size of what it deleted; ok
// is false when the block was absent.
func (a *accounting) deleteSized(ctx context.Context, c cid.Cid) (size int, ok bool, err error) {
	mu := &a.locks[stripe(c)]
	mu.Lock()
	defer mu.Unlock()
	size, err = a.Blockstore.GetSize(ctx, c)
	if err != nil {
		if ipld.IsNotFound(err) {
			return 0, false, nil
		}
		return 0, false, err
	}
	if err := a.Blockstore.DeleteBlock(ctx, c); err != nil {
		return 0, false, err
	}
	a.usage.add(-1, -int64(size))
	return size, true, nil
}
