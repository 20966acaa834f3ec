package upkeep

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"s3mesh/blockstore"
	"s3mesh/gateway/namespace"
	"s3mesh/s3api/s3err"
)

// The cache and the disk
//
// A node keeps two kinds of blocks. Kept blocks are never evicted: those
// of objects this node wrote, of every object of a replicated bucket, of
// multipart uploads in progress here, and the namespace's deltas. Every
// other stored block is cache: fetched from peers for a read (or left
// unreferenced), evictable. Config.CacheBudget bounds the cache: when its
// use goes over, the least recently read cached blocks are evicted until
// it is below 90% of the budget. Config.MinFree bounds the disk: below it,
// cached blocks are evicted first, and writes of new data fail with
// InsufficientStorage until there is room again (reads, listings and
// deletes go on).
//
// Neither is a block an open read needs (the DAG of every object being
// read is kept while it is read), nor one a write in flight noted (see
// writes.go). An eviction is a collection that keeps more: it marks the
// kept roots, then removes cached blocks in the order they were last read
// (blocks never read since the node started first), in batches that spare
// what writes noted meanwhile, as GC's sweep does.
//
// Cache use is counted by each eviction and usage scan, and grows in
// between with every block fetched from peers for a read that does not
// keep it.

// Cache and disk defaults.
const (
	// DefaultMinFree is Config.MinFree's default: 1 GiB.
	DefaultMinFree = 1 << 30
	// evictEvery bounds how often the background evictor counts the cache.
	evictEvery = 10 * time.Second
	// spaceCheckEvery is how many bytes a write stores between two checks
	// of the free space.
	spaceCheckEvery = 64 << 20
)

// cacheState is the Upkeep's view of the cache.
type cacheState struct {
	mu sync.Mutex
	// access is when each block not known to be kept was last read (Unix
	// ns), by multihash.
	access map[string]int64
	// reads are the roots of the reads open now.
	reads map[*openRead]struct{}
	// counted is the cache use (bytes) at the last count; fetched the bytes
	// fetched for reads since.
	counted, fetched atomic.Int64
	// evictMu makes one eviction for free space at a time.
	evictMu sync.Mutex
	wake    chan struct{}
	// lastFull is when a write was last refused for want of space (Unix
	// ns; 0: never).
	lastFull atomic.Int64
	// hits and misses count the blocks reads (that do not keep them) found
	// local or fetched; evicted and evictedBytes what evictions removed.
	hits, misses, evicted, evictedBytes atomic.Int64
}

type openRead struct{ root cid.Cid }

// Use returns the cache use estimate: cached bytes at the last count plus
// the bytes fetched since.
func (n *Upkeep) cacheUse() int64 { return n.cache.counted.Load() + n.cache.fetched.Load() }

// Touch records a read of block c (size bytes, from a peer or local). A
// read that keeps its blocks (the replicator's) passes keep: they are not
// cache.
func (n *Upkeep) Touch(c cid.Cid, size int, fromPeer, keep bool) {
	if keep {
		return
	}
	// Only cached blocks are tracked: those fetched from peers, read
	// again later. (The kept ones never leave; tracking them would only
	// grow the map.)
	now := time.Now().UnixNano()
	k := string(c.Hash())
	n.cache.mu.Lock()
	if _, known := n.cache.access[k]; known || fromPeer {
		n.cache.access[k] = now
	}
	n.cache.mu.Unlock()
	if !fromPeer {
		n.cache.hits.Add(1)
	} else {
		n.cache.misses.Add(1)
		n.cache.fetched.Add(int64(size))
		n.cm.cacheFetched.Add(float64(size))
		if b := n.cfg.CacheBudget; b > 0 && n.cacheUse() > b {
			n.wakeEvictor()
		}
	}
}

// Reading registers an open read of the DAG under root: no eviction
// removes its blocks until done is called.
func (n *Upkeep) Reading(root cid.Cid) (done func()) {
	r := &openRead{root: root}
	n.cache.mu.Lock()
	n.cache.reads[r] = struct{}{}
	n.cache.mu.Unlock()
	return func() {
		n.cache.mu.Lock()
		delete(n.cache.reads, r)
		n.cache.mu.Unlock()
	}
}

func (n *Upkeep) wakeEvictor() {
	select {
	case n.cache.wake <- struct{}{}:
	default:
	}
}

// evictLoop evicts whenever the cache use goes over the budget (or the
// disk below MinFree), at most every evictEvery, until ctx ends.
func (n *Upkeep) evictLoop(ctx context.Context) {
	t := time.NewTicker(evictEvery)
	defer t.Stop()
	var last time.Time
	if n.cfg.CacheBudget > 0 && n.gc.busy.TryLock() {
		// Count the cache the node starts with (removing nothing yet).
		_, err := n.evict(ctx, 0)
		n.gc.busy.Unlock()
		if err != nil && ctx.Err() == nil {
			n.cfg.Logger.Warn("counting cached blocks", "err", err)
		}
		n.wakeEvictor()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.cache.wake:
		case <-t.C:
		}
		if d := time.Until(last.Add(evictEvery)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		need := int64(0)
		if b := n.cfg.CacheBudget; b > 0 && n.cacheUse() > b {
			need = n.cacheUse() - b*9/10
		}
		if short := n.shortOfSpace(); short > need {
			need = short
		}
		if need <= 0 {
			continue
		}
		last = time.Now()
		if !n.gc.busy.TryLock() {
			continue // a GC or fsck runs: next time
		}
		_, err := n.evict(ctx, need)
		n.gc.busy.Unlock()
		if err != nil && ctx.Err() == nil {
			n.cfg.Logger.Warn("evicting cached blocks", "err", err)
		}
	}
}

// shortOfSpace returns how many bytes are missing to have Config.MinFree
// free (0 when there are enough, or MinFree is off).
func (n *Upkeep) shortOfSpace() int64 {
	if n.cfg.MinFree <= 0 || n.cfg.DiskPath == "" {
		return 0
	}
	free, _, err := blockstore.Disk(n.cfg.DiskPath)
	if err != nil {
		return 0
	}
	n.cm.diskFree.Set(float64(free))
	if int64(free) >= n.cfg.MinFree {
		return 0
	}
	return n.cfg.MinFree - int64(free)
}

// EnsureSpace returns nil when the disk has Config.MinFree free, evicting
// cached blocks first when it has not (unless a GC or fsck runs); else an
// InsufficientStorage error. Writes of new data call it before they
// start.
func (n *Upkeep) EnsureSpace(ctx context.Context) error {
	short := n.shortOfSpace()
	if short == 0 {
		return nil
	}
	n.cache.evictMu.Lock()
	defer n.cache.evictMu.Unlock()
	if short = n.shortOfSpace(); short == 0 {
		return nil // another write's eviction made room
	}
	if n.gc.busy.TryLock() {
		_, err := n.evict(ctx, short+short/10)
		n.gc.busy.Unlock()
		if err != nil {
			n.cfg.Logger.Warn("evicting cached blocks to make room", "err", err)
		}
		if short = n.shortOfSpace(); short == 0 {
			return nil
		}
	}
	return n.full(short)
}

// full is the error of a write refused for want of space.
func (n *Upkeep) full(short int64) error {
	n.cache.lastFull.Store(time.Now().UnixNano())
	n.cm.refused.Inc()
	return &s3err.Error{
		Code: s3err.ErrInsufficientStorage,
		Err:  fmt.Errorf("disk of %s: %d bytes short of the %d kept free (min free)", n.cfg.DiskPath, short, n.cfg.MinFree),
	}
}

// SpaceCheck returns a function a write calls with the bytes it stored so
// far: every spaceCheckEvery bytes it checks the free space, and returns
// an InsufficientStorage error once the disk is below Config.MinFree.
func (n *Upkeep) SpaceCheck() func(stored int64) error {
	next := int64(spaceCheckEvery)
	return func(stored int64) error {
		if stored < next {
			return nil
		}
		next = stored + spaceCheckEvery
		if short := n.shortOfSpace(); short > 0 {
			n.wakeEvictor()
			return n.full(short)
		}
		return nil
	}
}

// EvictResult is what an eviction did.
type EvictResult struct {
	// Cached is the cache use it counted, Evicted and EvictedBytes the
	// blocks and bytes it removed.
	Cached, Evicted, EvictedBytes int64
}

// Evict removes at least need bytes of cached blocks, least recently read
// first, or every cached block when there are fewer; it waits for a GC or
// fsck that runs. Kept blocks are never removed (see cache.go).
func (n *Upkeep) Evict(ctx context.Context, need int64) (EvictResult, error) {
	n.gc.busy.Lock()
	defer n.gc.busy.Unlock()
	return n.evict(ctx, need)
}

// evict is Evict; the caller holds gc.busy.
func (n *Upkeep) evict(ctx context.Context, need int64) (EvictResult, error) {
	n.startRun()
	defer n.endRun()
	var res EvictResult
	noop := func(GCProgress) {}
	m := &marker{n: n, live: map[string]uint8{}, p: &GCProgress{}, report: noop}
	if err := n.markKept(ctx, m); err != nil {
		return res, fmt.Errorf("evict: %w", err)
	}
	n.cache.mu.Lock()
	reads := make([]cid.Cid, 0, len(n.cache.reads))
	for r := range n.cache.reads {
		reads = append(reads, r.root)
	}
	n.cache.mu.Unlock()
	for _, c := range reads {
		if err := m.mark(ctx, c, func() string { return "an open read" }); err != nil {
			return res, fmt.Errorf("evict: %w", err)
		}
	}
	// The cached blocks, by last read.
	type cand struct {
		c    cid.Cid
		size int64
		at   int64
	}
	var cands []cand
	keys, done, err := n.blocks.AllKeys(ctx)
	if err != nil {
		return res, fmt.Errorf("evict: %w", err)
	}
	bs := n.blocks.Blockstore()
	n.cache.mu.Lock()
	access := n.cache.access
	n.cache.mu.Unlock()
	fetchedBefore := n.cache.fetched.Load()
	for c := range keys {
		if m.live[string(c.Hash())]&markLive != 0 {
			continue
		}
		size, err := bs.GetSize(ctx, c)
		if err != nil {
			continue // removed meanwhile
		}
		n.cache.mu.Lock()
		at := access[string(c.Hash())]
		n.cache.mu.Unlock()
		cands = append(cands, cand{c: c, size: int64(size), at: at})
		res.Cached += int64(size)
	}
	if err := done(); err != nil {
		return res, fmt.Errorf("evict: %w", err)
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(a.at, b.at) })
	// Remove the oldest until need is met, in batches that spare what
	// writes noted meanwhile.
	var batch []cid.Cid
	var batchBytes int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		removed, freed, _, err := n.deleteBatch(ctx, m, batch)
		res.Evicted += removed
		res.EvictedBytes += freed
		n.cache.mu.Lock()
		for _, c := range batch {
			delete(n.cache.access, string(c.Hash()))
		}
		n.cache.mu.Unlock()
		batch, batchBytes = batch[:0], 0
		return err
	}
	for _, cd := range cands {
		if res.EvictedBytes+batchBytes >= need {
			break
		}
		batch = append(batch, cd.c)
		batchBytes += cd.size
		if len(batch) == gcDeleteBatch {
			if err := flush(); err != nil {
				return res, fmt.Errorf("evict: %w", err)
			}
			if err := ctx.Err(); err != nil {
				return res, context.Cause(ctx)
			}
		}
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("evict: %w", err)
	}
	// Forget the reads of blocks that are no longer cached candidates.
	keep := make(map[string]struct{}, len(cands))
	for _, cd := range cands {
		keep[string(cd.c.Hash())] = struct{}{}
	}
	n.cache.mu.Lock()
	for k := range n.cache.access {
		if _, ok := keep[k]; !ok {
			delete(n.cache.access, k)
		}
	}
	n.cache.mu.Unlock()
	n.cache.counted.Store(res.Cached - res.EvictedBytes)
	n.cache.fetched.Add(-fetchedBefore)
	n.cm.evicted.Add(float64(res.Evicted))
	n.cm.evictedBytes.Add(float64(res.EvictedBytes))
	n.cache.evicted.Add(res.Evicted)
	n.cache.evictedBytes.Add(res.EvictedBytes)
	if res.Evicted > 0 {
		n.cfg.Logger.Info("evicted cached blocks", "blocks", res.Evicted, "bytes", res.EvictedBytes, "cached_bytes", res.Cached-res.EvictedBytes)
	}
	return res, nil
}

// markKept marks the kept blocks (see cache.go): the objects this node
// wrote, every object of a replicated bucket, multipart parts, namespace
// deltas and the deltas in flight.
func (n *Upkeep) markKept(ctx context.Context, m *marker) error {
	bs, err := n.ns.ListBuckets(ctx)
	if err != nil {
		return err
	}
	replicated := map[string]bool{}
	for _, b := range bs {
		replicated[b.Name] = b.Replicated
	}
	// Every version: a non-current version this node wrote is owned too.
	if err := n.crdt.VersionRoots(ctx, func(bucket, key, root string, own bool) error {
		if !own && !replicated[bucket] {
			return nil
		}
		return m.markRoot(ctx, root, func() string { return "object " + bucket + "/" + key })
	}); err != nil {
		return err
	}
	if err := n.idx.PartRoots(ctx, func(ref namespace.UploadRef, number int, root string) error {
		return m.markRoot(ctx, root, func() string { return fmt.Sprintf("part %d of an upload", number) })
	}); err != nil {
		return err
	}
	for _, h := range n.crdt.Heads(ctx) {
		if err := m.mark(ctx, h, func() string { return "namespace delta" }); err != nil {
			return err
		}
	}
	for _, c := range n.gc.deltas.snapshot() {
		if err := m.mark(ctx, c, func() string { return "namespace delta" }); err != nil {
			return err
		}
	}
	return nil
}

// pruneAccess forgets the reads of blocks no longer stored (removed by
// GC), so the read times the node tracks stay in step with its cache.
func (n *Upkeep) pruneAccess(ctx context.Context) {
	n.cache.mu.Lock()
	keys := make([]string, 0, len(n.cache.access))
	for k := range n.cache.access {
		keys = append(keys, k)
	}
	n.cache.mu.Unlock()
	bs := n.blocks.Blockstore()
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		if ok, err := bs.Has(ctx, cid.NewCidV1(cid.Raw, []byte(k))); err == nil && !ok {
			n.cache.mu.Lock()
			delete(n.cache.access, k)
			n.cache.mu.Unlock()
		}
	}
}

// CacheStatus is the cache and disk state, for the status page.
type CacheStatus struct {
	// Budget is Config.CacheBudget (0: none); Used the cache use estimate.
	Budget, Used int64
	// MinFree is Config.MinFree (0: off); DiskFree the disk's free bytes.
	MinFree  int64
	DiskFree uint64
	// Full is true while writes are refused for want of space.
	Full bool
	// Hits and Misses count the blocks reads found local or fetched from
	// peers since the node started (replication's reads aside); Evicted
	// and EvictedBytes what evictions removed.
	Hits, Misses, Evicted, EvictedBytes int64
}

// CacheStatus returns the cache and disk state.
func (n *Upkeep) CacheStatus() CacheStatus {
	st := CacheStatus{Budget: max(n.cfg.CacheBudget, 0), Used: n.cacheUse(), MinFree: max(n.cfg.MinFree, 0),
		Hits: n.cache.hits.Load(), Misses: n.cache.misses.Load(), Evicted: n.cache.evicted.Load(), EvictedBytes: n.cache.evictedBytes.Load()}
	if n.cfg.DiskPath != "" {
		st.DiskFree, _, _ = blockstore.Disk(n.cfg.DiskPath)
	}
	st.Full = n.shortOfSpace() > 0
	return st
}
