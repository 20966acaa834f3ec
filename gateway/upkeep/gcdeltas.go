package upkeep

import (
	"context"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Namespace deltas in flight.
//
// GC keeps every delta reachable from the CRDT's heads, but a delta
// becomes reachable only once go-ds-crdt has merged it: a local write adds
// its delta block, then makes it a head; a remote branch is fetched block
// by block, top first, and its top becomes a head only when the walk
// reaches deltas already merged. Neither step takes the GC lock (deletes,
// bucket operations and pruning publish deltas without it, and a remote
// branch is applied by go-ds-crdt's own workers), so a GC between the two
// would remove a delta about to become live. The namespace's DAG service
// therefore notes every delta block it adds and every one it fetches
// (asked for while not stored locally), and GC keeps the noted ones as
// roots until it finds them reachable from the heads, or until they are
// older than their grace: a local delta is a head within the call that
// added it; a fetched one waits at most for the walk of its branch.
const (
	deltaAddGrace   = 10 * time.Minute
	deltaFetchGrace = time.Hour
	// deltaPruneEvery bounds how often note drops expired entries.
	deltaPruneEvery = time.Minute
)

// deltaTracker is the set of delta blocks noted and not yet found live.
// The zero value is ready to use.
type deltaTracker struct {
	mu        sync.Mutex
	pending   map[string]pendingDelta // by multihash
	lastPrune time.Time
}

type pendingDelta struct {
	cid     cid.Cid
	expires time.Time
}

// note records c as in flight for grace from now.
func (t *deltaTracker) note(c cid.Cid, grace time.Duration) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = map[string]pendingDelta{}
	}
	if now.Sub(t.lastPrune) >= deltaPruneEvery {
		t.lastPrune = now
		for k, p := range t.pending {
			if now.After(p.expires) {
				delete(t.pending, k)
			}
		}
	}
	exp := now.Add(grace)
	if p, ok := t.pending[string(c.Hash())]; ok && p.expires.After(exp) {
		return
	}
	t.pending[string(c.Hash())] = pendingDelta{cid: c, expires: exp}
}

// snapshot returns the deltas noted and not expired.
func (t *deltaTracker) snapshot() []cid.Cid {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]cid.Cid, 0, len(t.pending))
	for _, p := range t.pending {
		if !now.After(p.expires) {
			out = append(out, p.cid)
		}
	}
	return out
}

// locked runs fn with the tracker locked (no delta can be noted
// meanwhile), giving it whether a multihash is noted and not expired.
func (t *deltaTracker) locked(fn func(inFlight func(mh string) bool) error) error {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	return fn(func(mh string) bool {
		p, ok := t.pending[mh]
		return ok && !now.After(p.expires)
	})
}

// forget drops the noted deltas for which live returns true.
func (t *deltaTracker) forget(live func(mh string) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.pending {
		if live(k) {
			delete(t.pending, k)
		}
	}
}

// trackingDAG is the namespace's DAG service with deltas noted for GC (see
// deltaTracker). has reports whether a block is stored locally.
type trackingDAG struct {
	ipld.DAGService
	t   *deltaTracker
	has func(ctx context.Context, c cid.Cid) (bool, error)
}

func (d *trackingDAG) Add(ctx context.Context, nd ipld.Node) error {
	d.t.note(nd.Cid(), deltaAddGrace)
	return d.DAGService.Add(ctx, nd)
}

func (d *trackingDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		d.t.note(nd.Cid(), deltaAddGrace)
	}
	return d.DAGService.AddMany(ctx, nds)
}

func (d *trackingDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	noteFetch(ctx, d.t, d.has, c)
	return d.DAGService.Get(ctx, c)
}

func (d *trackingDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	for _, c := range cs {
		noteFetch(ctx, d.t, d.has, c)
	}
	return d.DAGService.GetMany(ctx, cs)
}

// Session lets go-ds-crdt fetch a DAG walk in one Bitswap session, noted
// as the service's own fetches are.
func (d *trackingDAG) Session(ctx context.Context) ipld.NodeGetter {
	var g ipld.NodeGetter = d.DAGService
	if s, ok := d.DAGService.(interface {
		Session(context.Context) ipld.NodeGetter
	}); ok {
		g = s.Session(ctx)
	}
	return &trackingGetter{NodeGetter: g, t: d.t, has: d.has}
}

type trackingGetter struct {
	ipld.NodeGetter
	t   *deltaTracker
	has func(ctx context.Context, c cid.Cid) (bool, error)
}

func (g *trackingGetter) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	noteFetch(ctx, g.t, g.has, c)
	return g.NodeGetter.Get(ctx, c)
}

func (g *trackingGetter) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	for _, c := range cs {
		noteFetch(ctx, g.t, g.has, c)
	}
	return g.NodeGetter.GetMany(ctx, cs)
}

// noteFetch notes c when it is not stored locally, so the block a fetch
// is about to store counts as in flight. A failed check notes it too.
func noteFetch(ctx context.Context, t *deltaTracker, has func(context.Context, cid.Cid) (bool, error), c cid.Cid) {
	if ok, err := has(ctx, c); ok && err == nil {
		return
	}
	t.note(c, deltaFetchGrace)
}
