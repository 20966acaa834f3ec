package upkeep

import (
	"context"
	"fmt"
	"s3mesh/gateway/namespace"
	"sync"
	"time"
)

// DefaultUsageScanInterval is how often a node recounts its blocks as
// owned or cached (see ScanUsage).
const DefaultUsageScanInterval = 10 * time.Minute

// BlockUsage splits the blocks of the local store by why they are here.
type BlockUsage struct {
	// Owned blocks belong to objects this node wrote, to its multipart
	// uploads in progress, or to the namespace's deltas: the copies this
	// office is the source of.
	OwnedBlocks, OwnedBytes int64
	// Cached blocks belong only to objects written at other offices:
	// copies fetched from peers (read, or held for a replicated bucket).
	CachedBlocks, CachedBytes int64
	// Unreferenced blocks belong to nothing: the next GC removes them.
	UnreferencedBlocks, UnreferencedBytes int64
	// At is when the scan ended.
	At time.Time
}

// usageState is the latest BlockUsage, for the metrics.
type usageState struct {
	mu   sync.Mutex
	last BlockUsage
}

func (u *usageState) get() BlockUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// BlockUsage returns the latest ScanUsage (zero At before the first).
func (n *Upkeep) BlockUsage() BlockUsage { return n.usage.get() }

// ScanUsage counts the stored blocks as owned, cached or unreferenced (see
// BlockUsage): it walks the DAGs of every record and of the namespace
// through the local store, then lists the store, like GC's mark and sweep
// but without removing anything and without holding writes back; blocks
// written meanwhile may be counted as unreferenced until the next scan. A
// block both owned and cached counts as owned. The metrics show the latest
// scan; the node runs one every DefaultUsageScanInterval.
func (n *Upkeep) ScanUsage(ctx context.Context) (BlockUsage, error) {
	noop := func(GCProgress) {}
	owned := &marker{n: n, live: map[string]uint8{}, p: &GCProgress{}, report: noop}
	cached := &marker{n: n, live: map[string]uint8{}, p: &GCProgress{}, report: noop}
	err := n.crdt.WinningRoots(ctx, func(bucket, key, root string, own bool) error {
		m := cached
		if own {
			m = owned
		}
		return m.markRoot(ctx, root, func() string { return "object " + bucket + "/" + key })
	})
	if err == nil {
		err = n.idx.PartRoots(ctx, func(ref namespace.UploadRef, number int, root string) error {
			return owned.markRoot(ctx, root, func() string { return fmt.Sprintf("part %d of an upload", number) })
		})
	}
	if err != nil {
		return BlockUsage{}, fmt.Errorf("scan usage: %w", err)
	}
	for _, h := range n.crdt.Heads(ctx) {
		if err := owned.mark(ctx, h, func() string { return "namespace delta" }); err != nil {
			return BlockUsage{}, fmt.Errorf("scan usage: %w", err)
		}
	}
	var u BlockUsage
	keys, done, err := n.blocks.AllKeys(ctx)
	if err != nil {
		return BlockUsage{}, fmt.Errorf("scan usage: %w", err)
	}
	bs := n.blocks.Blockstore()
	for c := range keys {
		size, err := bs.GetSize(ctx, c)
		if err != nil {
			continue // removed meanwhile
		}
		k, sz := string(c.Hash()), int64(size)
		switch {
		case owned.live[k]&markLive != 0:
			u.OwnedBlocks++
			u.OwnedBytes += sz
		case cached.live[k]&markLive != 0:
			u.CachedBlocks++
			u.CachedBytes += sz
		default:
			u.UnreferencedBlocks++
			u.UnreferencedBytes += sz
		}
	}
	if err := done(); err != nil {
		return BlockUsage{}, fmt.Errorf("scan usage: %w", err)
	}
	u.At = n.cfg.Clock()
	n.usage.mu.Lock()
	n.usage.last = u
	n.usage.mu.Unlock()
	return u, nil
}

// usageLoop runs ScanUsage a minute after the start, then every interval,
// until ctx ends.
func (n *Upkeep) usageLoop(ctx context.Context, interval time.Duration) {
	every(ctx, time.Minute, interval, func() {
		if _, err := n.ScanUsage(ctx); err != nil && ctx.Err() == nil {
			n.cfg.Logger.Warn("counting owned and cached blocks", "err", err)
		}
		n.pruneAccess(ctx)
	})
}
