package fetch

import (
	"context"
	"hash/maphash"
	"sync"

	bstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// onceExchange makes the node fetch each block from peers once, whichever
// of its reads ask for it (a GET, another GET, the replicator): a session
// fetch of a block that another session is fetching waits for that fetch
// instead of asking the peers again, and the block is stored before the
// fetch ends, so a read that starts later finds it locally.
//
// Bitswap alone does not guarantee this. Its client sends a peer one want
// per block whichever sessions want it, and hands an arriving block to
// every session waiting for it; but the block is stored by the block
// service only after the session returns it. A session that asks in
// between (it looked in the block store before the block was stored, and
// asks the exchange after the wants were cancelled on arrival) sends a new
// want, and the peer sends the block again. Measured in
// TestReplicationConcurrentGetFetchesOnce before this wrapper: 6 of 199
// blocks received twice from a single peer while a GET and the replicator
// read the same object.
//
// Only sessions are wrapped (the block service's reads: GETs, PUT by CID,
// the replicator); a plain GetBlock or GetBlocks passes through, so fsck's
// repair still fetches a fresh copy of a block stored corrupt.
type onceExchange struct {
	exchange.Interface
	store bstore.Blockstore
	seed  maphash.Seed
	// stripes guard the fetches in flight, by CID.
	stripes [64]onceStripe
}

type onceStripe struct {
	mu      sync.Mutex
	flights map[cid.Cid]*flight
}

// flight is one fetch of a block from the exchange; done is closed once
// blk (stored) or err is set.
type flight struct {
	done chan struct{}
	blk  blocks.Block
	err  error
}

var _ exchange.SessionExchange = (*onceExchange)(nil)

func newOnceExchange(x exchange.Interface, store bstore.Blockstore) *onceExchange {
	o := &onceExchange{Interface: x, store: store, seed: maphash.MakeSeed()}
	for i := range o.stripes {
		o.stripes[i].flights = map[cid.Cid]*flight{}
	}
	return o
}

// NewSession implements exchange.SessionExchange: a session of the
// wrapped exchange (or the exchange itself) whose GetBlock goes through
// the node's fetches in flight.
func (o *onceExchange) NewSession(ctx context.Context) exchange.Fetcher {
	var f exchange.Fetcher = o.Interface
	if se, ok := o.Interface.(exchange.SessionExchange); ok {
		f = se.NewSession(ctx)
	}
	return &onceFetcher{o: o, f: f}
}

type onceFetcher struct {
	o *onceExchange
	f exchange.Fetcher
}

// GetBlock returns block c: from a fetch of it in flight in any session,
// from the block store if one just stored it, or else fetched through this
// session and stored.
func (s *onceFetcher) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	st := s.o.stripe(c)
	for {
		st.mu.Lock()
		if fl := st.flights[c]; fl != nil {
			st.mu.Unlock()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if fl.err == nil {
				return fl.blk, nil
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			continue // that fetch failed (its reader went away): try again
		}
		// A fetch that ended stored its block before it left the table.
		has, err := s.o.store.Has(ctx, c)
		if err != nil || has {
			st.mu.Unlock()
			if err != nil {
				return nil, err
			}
			b, err := s.o.store.Get(ctx, c)
			if ipld.IsNotFound(err) {
				continue // evicted or collected since Has: fetch it
			}
			return b, err
		}
		fl := &flight{done: make(chan struct{})}
		st.flights[c] = fl
		st.mu.Unlock()

		blk, err := s.f.GetBlock(ctx, c)
		if err == nil {
			err = s.o.store.Put(ctx, blk)
		}
		if err != nil {
			blk = nil
		}
		fl.blk, fl.err = blk, err
		st.mu.Lock()
		delete(st.flights, c)
		st.mu.Unlock()
		close(fl.done)
		return fl.blk, fl.err
	}
}

// GetBlocks implements exchange.Fetcher: the session's, unchanged (the
// namespace fetches its deltas so; no read shares them).
func (s *onceFetcher) GetBlocks(ctx context.Context, ks []cid.Cid) (<-chan blocks.Block, error) {
	return s.f.GetBlocks(ctx, ks)
}

// claim registers a fetch in flight for each block of cs that is not in
// flight already, for a fetcher other than a session (the replicator's
// swarm fetch): a session read of one of them waits for it. It returns
// the flights claimed, by CID; the caller must land every one.
func (o *onceExchange) claim(cs []cid.Cid) map[cid.Cid]*flight {
	out := make(map[cid.Cid]*flight, len(cs))
	for _, c := range cs {
		st := o.stripe(c)
		st.mu.Lock()
		if st.flights[c] == nil {
			fl := &flight{done: make(chan struct{})}
			st.flights[c] = fl
			out[c] = fl
		}
		st.mu.Unlock()
	}
	return out
}

// land ends a claimed flight: blk, stored by the caller, or err.
func (o *onceExchange) land(c cid.Cid, fl *flight, blk blocks.Block, err error) {
	if err != nil {
		blk = nil
	}
	fl.blk, fl.err = blk, err
	st := o.stripe(c)
	st.mu.Lock()
	if st.flights[c] == fl {
		delete(st.flights, c)
	}
	st.mu.Unlock()
	close(fl.done)
}

func (o *onceExchange) stripe(c cid.Cid) *onceStripe {
	return &o.stripes[maphash.Bytes(o.seed, c.Bytes())%uint64(len(o.stripes))]
}
