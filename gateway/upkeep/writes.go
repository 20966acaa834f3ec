package upkeep

import (
	"context"
	"sync"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Writes and garbage collection
//
// GC runs beside writes: it never waits for them and never holds them for
// its mark. A write that adds or references blocks (a PUT, a part, a copy,
// a completion, a PUT by CID) is a Write from BeginWrite to End, and notes
// every block it relies on before it relies on it:
//
//   - each block it stores, before storing it (a block that is already
//     stored, say garbage an earlier write left, is kept by the note);
//   - the root of each DAG it references, right after reading the record
//     that names it (a copy's source, a completion's own new root, which
//     links the part roots).
//
// While a GC runs, notes go to it as roots to mark; a GC that starts while
// a Write is open takes every note the Write made so far. The sweep
// deletes garbage in batches; before each batch, under the writes' lock,
// it marks the roots noted since the last batch (their DAGs, through the
// blocks stored locally) and drops from the batch every block they reach.
// A note either comes before a batch (its blocks are spared) or after it
// (the blocks it notes are stored again by the write that notes them, or
// were live, hence never in a batch: a record visible when the write read
// it was marked, or was itself written during the GC, and noted).
//
// Blocks a node stores for others (fetched for a read, replicated) are not
// notes: such a block stored during a GC, under a DAG the mark did not
// find stored, may be swept, and is fetched again when needed (the
// replicator checks every block is stored after its fetch, and retries).

// Write is a write in flight that notes the blocks it relies on (see
// above). Its methods are safe for concurrent use.
type Write struct {
	u     *Upkeep
	notes []cid.Cid // guarded by u.wmu
}

// gcRun is the collection in progress, as writes see it: the roots noted
// since its last batch. Guarded by Upkeep.wmu.
type gcRun struct {
	pending []cid.Cid
}

// BeginWrite starts a write; End it once its record or part is committed,
// or once it failed.
func (n *Upkeep) BeginWrite() *Write {
	w := &Write{u: n}
	n.wmu.Lock()
	n.writes[w] = struct{}{}
	n.wmu.Unlock()
	return w
}

// Note notes blocks (or DAG roots) the write relies on: call it before
// storing a block, and right after reading a record whose root the write
// references.
func (w *Write) Note(cs ...cid.Cid) {
	if len(cs) == 0 {
		return
	}
	n := w.u
	n.wmu.Lock()
	w.notes = append(w.notes, cs...)
	if n.run != nil {
		n.run.pending = append(n.run.pending, cs...)
	}
	n.wmu.Unlock()
}

// End ends the write.
func (w *Write) End() {
	n := w.u
	n.wmu.Lock()
	delete(n.writes, w)
	w.notes = nil
	n.wmu.Unlock()
}

// DAG returns d with every node added through it noted first.
func (w *Write) DAG(d ipld.DAGService) ipld.DAGService { return &notingDAG{DAGService: d, w: w} }

type notingDAG struct {
	ipld.DAGService
	w *Write
}

func (d *notingDAG) Add(ctx context.Context, nd ipld.Node) error {
	d.w.Note(nd.Cid())
	return d.DAGService.Add(ctx, nd)
}

func (d *notingDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	cs := make([]cid.Cid, len(nds))
	for i, nd := range nds {
		cs[i] = nd.Cid()
	}
	d.w.Note(cs...)
	return d.DAGService.AddMany(ctx, nds)
}

// startRun registers a collection: writes note to it from now on, and the
// notes of the writes open now are its first roots.
func (n *Upkeep) startRun() {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	r := &gcRun{}
	for w := range n.writes {
		r.pending = append(r.pending, w.notes...)
	}
	n.run = r
}

// endRun unregisters the collection.
func (n *Upkeep) endRun() {
	n.wmu.Lock()
	n.run = nil
	n.wmu.Unlock()
}

// writesLocked runs fn with the writes' lock held (no note can be made
// meanwhile), giving it the roots noted since the last call.
func (n *Upkeep) writesLocked(fn func(noted []cid.Cid) error) error {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	noted := n.run.pending
	n.run.pending = nil
	return fn(noted)
}

// writeState is the Upkeep's side of the writes (see Write).
type writeState struct {
	wmu    sync.Mutex
	writes map[*Write]struct{}
	run    *gcRun // nil when no collection runs
}
