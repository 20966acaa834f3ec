package upkeep

import (
	"context"
	"errors"
	"fmt"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/namespace"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"s3mesh/s3api/s3err"
)

// ErrMaintenanceRunning is returned by GC and Fsck while another GC or
// Fsck runs on the node: they run one at a time.
var ErrMaintenanceRunning = errors.New("a garbage collection or fsck is already running on this node")

// ErrLiveBlockUnreadable marks a GC stopped before its sweep because a
// block of the live set could not be read or decoded, so what it links to
// is unknown.
var ErrLiveBlockUnreadable = errors.New("a live block cannot be read")

// GC phases, in order, as GCProgress.Phase reports them.
const (
	// GCPhaseMark: finding the live blocks.
	GCPhaseMark = "mark"
	// GCPhaseSweep: enumerating the stored blocks and removing the others.
	GCPhaseSweep = "sweep"
)

// gcDeleteBatch is how many blocks the sweep deletes between progress
// reports and cancellation checks.
const gcDeleteBatch = 1024

// gcReportEvery is how many objects or blocks GC and Fsck handle between
// progress reports within a phase.
const gcReportEvery = 256

// GCProgress describes a garbage collection in progress.
type GCProgress struct {
	// Phase is GCPhaseMark or GCPhaseSweep.
	Phase string
	// Total is the number of blocks stored when the collection started.
	Total int64
	// Roots is the number of roots marked so far: object records,
	// multipart parts, namespace heads and deltas in flight.
	Roots int64
	// Marked is the number of live blocks found so far, including blocks
	// of live DAGs that are not stored locally.
	Marked int64
	// Scanned is the number of stored blocks the sweep has examined so
	// far, and Garbage how many of them are not live.
	Scanned, Garbage int64
	// Removed and FreedBytes are the blocks deleted so far and the bytes
	// of data they held.
	Removed, FreedBytes int64
}

// GCResult is what a garbage collection did.
type GCResult struct {
	// Scanned is the number of stored blocks examined, Live how many of
	// them were kept.
	Scanned, Live int64
	// Removed is the number of blocks deleted and FreedBytes the bytes of
	// data they held.
	Removed, FreedBytes int64
	// Duration is the time from the call to its return.
	Duration time.Duration
}

// gcState is the node's garbage collection state. The zero value is ready.
type gcState struct {
	// busy is held by the running GC or Fsck.
	busy sync.Mutex
	// deltas are the namespace deltas in flight (see deltaTracker).
	deltas deltaTracker
}

// GC removes from the local block store every block that nothing on this
// node needs, and returns what it removed; progress, when not nil, is
// called from GC's goroutine at each phase and regularly within one, and
// must return quickly.
//
// The live set is every block reachable, through the blocks stored
// locally, from: the root of every object record of every bucket (and of
// a record hidden by its bucket's deletion, which a CreateBucket would
// make visible again); the root of every part of every multipart upload in
// progress on this node; every namespace delta reachable from the CRDT's
// heads, and the deltas in flight (added or fetched by the namespace, not
// yet merged: see gcdeltas.go). A block of a live DAG that is not stored
// locally is not an error (an object read through from peers may be
// cached in part): what lies below it is simply not known, and not kept. Everything else is garbage and removed: the blocks
// of failed or aborted PUTs and parts, of overwritten and deleted objects,
// of aborted and expired uploads, and blocks fetched from peers for reads
// that belong to no record. Raw leaves are marked by their parent's link,
// without being read; every dag-pb node of the live set is read, verified
// against its CID and decoded. A live node that cannot be read, does not
// match its CID or cannot be decoded stops the collection before anything
// is removed (its links are unknown): repair it with Fsck, or delete the
// object. Memory: about 100 bytes per live block, plus the CIDs of the
// garbage (the sweep collects them, then deletes them in batches).
//
// Concurrency: GC runs beside writes and reads, holding nothing for its
// mark: writes note the blocks they rely on (see writes.go), and each
// batch of the sweep spares what the notes made since reach. Writes wait
// only while a batch of at most gcDeleteBatch blocks is deleted. Reads go
// on; a read of an object overwritten or deleted before GC, or blocks
// fetched from peers meanwhile that no record names, may lose their
// blocks and fail or fetch them again. GC and Fsck run one at a time: a
// second call returns ErrMaintenanceRunning.
//
// When ctx ends, GC stops at once in its mark, or after the current batch
// in its sweep, and returns what it removed with an error wrapping
// ctx's; the blocks removed are garbage all the same. Every run, whatever
// its end, is counted in the node's s3mesh_gc_* metrics.
func (n *Upkeep) GC(ctx context.Context, progress func(GCProgress)) (GCResult, error) {
	if !n.gc.busy.TryLock() {
		return GCResult{}, ErrMaintenanceRunning
	}
	defer n.gc.busy.Unlock()
	start := time.Now()
	report := func(GCProgress) {}
	if progress != nil {
		report = progress
	}
	p := &GCProgress{Total: n.blocks.Stats().Blocks}
	n.startRun()
	res, err := n.collect(ctx, p, report)
	n.endRun()
	res.Duration = time.Since(start)
	n.gcm.observe(res)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	n.cfg.Logger.Info("garbage collection finished", "op", "GC", "scanned", res.Scanned, "live", res.Live,
		"removed", res.Removed, "freed_bytes", res.FreedBytes, "dur", res.Duration)
	return res, nil
}

// collect marks and sweeps; the caller registered the run (startRun).
func (n *Upkeep) collect(ctx context.Context, p *GCProgress, report func(GCProgress)) (GCResult, error) {
	p.Phase = GCPhaseMark
	report(*p)
	m := &marker{n: n, live: map[string]uint8{}, p: p, report: report}
	if err := m.markAll(ctx); err != nil {
		return GCResult{}, err
	}
	report(*p)

	p.Phase = GCPhaseSweep
	report(*p)
	keys, done, err := n.blocks.AllKeys(ctx)
	if err != nil {
		return GCResult{}, err
	}
	var garbage []cid.Cid
	for c := range keys {
		p.Scanned++
		if m.live[string(c.Hash())]&markLive == 0 {
			garbage = append(garbage, c)
			p.Garbage++
		}
		if p.Scanned%gcReportEvery == 0 {
			report(*p)
		}
	}
	res := GCResult{Scanned: p.Scanned, Live: p.Scanned - p.Garbage}
	if err := done(); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, context.Cause(ctx)
	}
	report(*p)
	for i := 0; i < len(garbage); i += gcDeleteBatch {
		batch := garbage[i:min(i+gcDeleteBatch, len(garbage))]
		removed, freed, spared, err := n.deleteBatch(ctx, m, batch)
		p.Garbage -= spared
		res.Live += spared
		p.Removed += removed
		p.FreedBytes += freed
		res.Removed, res.FreedBytes = p.Removed, p.FreedBytes
		report(*p)
		if err != nil {
			return res, err
		}
	}
	if err := n.blocks.Sync(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// deleteBatch deletes the blocks of batch that are still garbage: under
// the writes' lock, it first marks what writes noted since the last batch,
// then spares every block marked live and every namespace delta in flight
// (see trackingDAG). It returns the blocks and bytes removed and how many
// blocks of batch it spared. GC's sweep and evictions share it.
func (n *Upkeep) deleteBatch(ctx context.Context, m *marker, batch []cid.Cid) (removed, freed, spared int64, err error) {
	err = n.writesLocked(func(noted []cid.Cid) error {
		for _, c := range noted {
			if err := m.mark(ctx, c, func() string { return "a block a write relies on" }); err != nil {
				return err
			}
		}
		return n.gc.deltas.locked(func(inFlight func(mh string) bool) error {
			left := slices.DeleteFunc(slices.Clone(batch), func(c cid.Cid) bool {
				k := string(c.Hash())
				return m.live[k]&markLive != 0 || inFlight(k)
			})
			spared = int64(len(batch) - len(left))
			var err error
			removed, freed, err = n.blocks.DeleteBlocks(ctx, left)
			return err
		})
	})
	return removed, freed, spared, err
}

// Marks in marker.live, by multihash.
const (
	markLive    uint8 = 1 << iota // the block is live
	markVisited                   // its links were followed (a dag-pb block)
)

// marker finds the live set.
type marker struct {
	n      *Upkeep
	live   map[string]uint8
	stack  []cid.Cid
	p      *GCProgress
	report func(GCProgress)
}

// markAll marks every root: object records, upload parts, namespace
// deltas.
func (m *marker) markAll(ctx context.Context) error {
	n := m.n
	buckets, err := n.ns.ListBuckets(ctx)
	if err != nil {
		return fmt.Errorf("mark: %w", err)
	}
	for _, b := range buckets {
		it, err := n.ns.Objects(ctx, b.Name, "")
		if errors.Is(err, s3err.ErrNoSuchBucket) {
			continue // deleted meanwhile: its winners are marked below
		}
		if err != nil {
			return fmt.Errorf("mark: %w", err)
		}
		for it.Next() {
			rec, err := it.Record()
			if err == nil {
				err = m.markRoot(ctx, rec.Root, func() string { return "object " + b.Name + "/" + rec.Key })
			}
			if err != nil {
				it.Close()
				return fmt.Errorf("mark: %w", err)
			}
		}
		err = it.Err()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("mark: %w", err)
		}
	}
	// Every version of every key, current or not, visible or not: a
	// superset of the records above, whose DAGs are already marked; it
	// adds the non-current versions of versioned buckets and the records
	// of deleted buckets that a CreateBucket would bring back.
	if err := n.crdt.VersionRoots(ctx, func(bucket, key, root string, _ bool) error {
		return m.markRoot(ctx, root, func() string { return "object " + bucket + "/" + key })
	}); err != nil {
		return fmt.Errorf("mark: %w", err)
	}
	if err := n.idx.PartRoots(ctx, func(ref namespace.UploadRef, number int, root string) error {
		return m.markRoot(ctx, root, func() string {
			return fmt.Sprintf("part %d of upload %s of %s/%s", number, ref.ID, ref.Bucket, ref.Key)
		})
	}); err != nil {
		return fmt.Errorf("mark: %w", err)
	}
	for _, h := range n.crdt.Heads(ctx) {
		if err := m.mark(ctx, h, func() string { return "namespace delta" }); err != nil {
			return fmt.Errorf("mark: %w", err)
		}
	}
	// The deltas in flight: those now reachable from the heads are no
	// longer in flight; the others stay roots.
	n.gc.deltas.forget(func(mh string) bool { return m.live[mh]&markLive != 0 })
	for _, c := range n.gc.deltas.snapshot() {
		if err := m.mark(ctx, c, func() string { return "namespace delta" }); err != nil {
			return fmt.Errorf("mark: %w", err)
		}
	}
	return nil
}

// markRoot marks the DAG of a record's root, in its string form. A root
// that is not a CID names no block: there is nothing to keep.
func (m *marker) markRoot(ctx context.Context, root string, what func() string) error {
	c, err := cid.Decode(root)
	if err != nil {
		m.n.cfg.Logger.Warn("gc: a record's root is not a CID; it keeps no block", "op", "GC", "err", err)
		m.n.cfg.Logger.Debug("gc: malformed root", "op", "GC", "record", what())
		return nil
	}
	return m.mark(ctx, c, what)
}

// mark marks root and every block reachable from it through the blocks
// stored locally.
func (m *marker) mark(ctx context.Context, root cid.Cid, what func() string) error {
	m.p.Roots++
	bs := m.n.blocks.Blockstore()
	m.stack = append(m.stack[:0], root)
	for len(m.stack) > 0 {
		c := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		k := string(c.Hash())
		flags := m.live[k]
		if flags == 0 {
			m.p.Marked++
			if m.p.Marked%gcReportEvery == 0 {
				m.report(*m.p)
			}
		}
		if c.Prefix().Codec == cid.Raw {
			m.live[k] = flags | markLive
			continue
		}
		if flags&markVisited != 0 {
			continue
		}
		m.live[k] = flags | markLive
		b, err := bs.Get(ctx, c)
		if ipld.IsNotFound(err) {
			// Not stored here: nothing below it is known. Not visited: a
			// write may store it and note it again.
			continue
		}
		m.live[k] |= markVisited
		if err == nil {
			err = dag.Verify(c, b)
		}
		var nd ipld.Node
		if err == nil {
			nd, err = dag.DecodeNode(b)
		}
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("block %s of %s: %w: %w (nothing was removed; run fsck --repair, or delete the object)", c, what(), ErrLiveBlockUnreadable, err)
		}
		for _, l := range nd.Links() {
			m.stack = append(m.stack, l.Cid)
		}
	}
	return ctx.Err()
}
