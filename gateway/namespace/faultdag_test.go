package namespace

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	boxobs "github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// dagFaults controls the faults injected into one peer's DAG service. It
// outlives the peer's restarts: crdtPeer.wrapDAG (see wrap) builds a new
// faultDAG over it at each open. Only fetches of blocks the peer does not
// hold in its block store are affected, that is, fetches that would go to
// the network; the node's own deltas and blocks it already fetched are
// served as usual.
type dagFaults struct {
	// fail, when set, decides which fetches fail.
	fail atomic.Pointer[func(cid.Cid) bool]
	// delay, in nanoseconds, is waited before each fetch.
	delay atomic.Int64

	failed  atomic.Int64 // fetches failed
	fetched atomic.Int64 // fetches let through
}

// failWhen makes the fetch of every block for which fn returns true fail;
// nil stops failing.
func (f *dagFaults) failWhen(fn func(cid.Cid) bool) {
	if fn == nil {
		f.fail.Store(nil)
		return
	}
	f.fail.Store(&fn)
}

func failAll(cid.Cid) bool { return true }

// wrap returns a crdtPeer.wrapDAG for p.
func (f *dagFaults) wrap(p *crdtPeer) func(ipld.DAGService) ipld.DAGService {
	return func(d ipld.DAGService) ipld.DAGService { return &faultDAG{DAGService: d, f: f, blocks: p.blocks} }
}

// check delays and fails the fetch of c as configured.
func (f *dagFaults) check(ctx context.Context, blocks boxobs.Blockstore, c cid.Cid) error {
	if local, err := blocks.Has(ctx, c); err != nil || local {
		return err
	}
	if d := time.Duration(f.delay.Load()); d > 0 {
		tm := time.NewTimer(d)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		}
	}
	if fn := f.fail.Load(); fn != nil && (*fn)(c) {
		f.failed.Add(1)
		return fmt.Errorf("%w: %s", errInjected, c)
	}
	f.fetched.Add(1)
	return nil
}

func (f *dagFaults) get(ctx context.Context, blocks boxobs.Blockstore, ng ipld.NodeGetter, c cid.Cid) (ipld.Node, error) {
	if err := f.check(ctx, blocks, c); err != nil {
		return nil, err
	}
	return ng.Get(ctx, c)
}

// getMany reports the failed fetches first, then what ng fetched of the
// others.
func (f *dagFaults) getMany(ctx context.Context, blocks boxobs.Blockstore, ng ipld.NodeGetter, cids []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cids))
	go func() {
		defer close(out)
		var pass []cid.Cid
		for _, c := range cids {
			if err := f.check(ctx, blocks, c); err != nil {
				out <- &ipld.NodeOption{Err: err} // out holds len(cids)
				continue
			}
			pass = append(pass, c)
		}
		if len(pass) == 0 {
			return
		}
		// Drain ng's channel (it closes when ctx ends) even once the
		// reader is gone.
		for opt := range ng.GetMany(ctx, pass) {
			select {
			case out <- opt:
			case <-ctx.Done():
			}
		}
	}()
	return out
}

// faultDAG is an ipld.DAGService whose fetches go through a dagFaults.
// go-ds-crdt fetches with Get and GetMany, and walks a branch through
// Session when the service has one: all three are covered.
type faultDAG struct {
	ipld.DAGService
	f      *dagFaults
	blocks boxobs.Blockstore
}

func (d *faultDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	return d.f.get(ctx, d.blocks, d.DAGService, c)
}

func (d *faultDAG) GetMany(ctx context.Context, cids []cid.Cid) <-chan *ipld.NodeOption {
	return d.f.getMany(ctx, d.blocks, d.DAGService, cids)
}

// Session is go-ds-crdt's optional SessionDAGService method (see
// syncingDAG).
func (d *faultDAG) Session(ctx context.Context) ipld.NodeGetter {
	var ng ipld.NodeGetter = d.DAGService
	if s, ok := d.DAGService.(interface {
		Session(context.Context) ipld.NodeGetter
	}); ok {
		ng = s.Session(ctx)
	}
	return &faultGetter{ng: ng, f: d.f, blocks: d.blocks}
}

type faultGetter struct {
	ng     ipld.NodeGetter
	f      *dagFaults
	blocks boxobs.Blockstore
}

func (g *faultGetter) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	return g.f.get(ctx, g.blocks, g.ng, c)
}

func (g *faultGetter) GetMany(ctx context.Context, cids []cid.Cid) <-chan *ipld.NodeOption {
	return g.f.getMany(ctx, g.blocks, g.ng, cids)
}

// withFaults restarts p with its DAG service wrapped by a new dagFaults
// and its configuration adjusted by mod (may be nil), reconnects peers,
// and returns the dagFaults.
func withFaults(t *testing.T, peers []*crdtPeer, p *crdtPeer, mod func(*CRDTConfig)) *dagFaults {
	t.Helper()
	f := &dagFaults{}
	p.close(t)
	p.wrapDAG, p.mod = f.wrap(p), mod
	p.open(t)
	connectCrdtPeers(t, peers)
	return f
}
