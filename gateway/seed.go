package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of the seeding of replicated objects (see seeder).
const (
	DefaultSeedGrace = 10 * time.Second
	seedTTL          = 10 * time.Minute
	seedMaxBlocks    = 1 << 20
)

// seeder makes the node that wrote an object of a replicated bucket send
// each of its blocks about once, however many offices fetch it at the same
// time: super-seeding.
//
// Every office fetches a new object of a replicated bucket at once, each
// starting at its own stripe (see replicator). Left alone, Bitswap asks the
// writer — for a while the only node holding any block — for nearly every
// block, and the writer's uplink sends most of the copies. With the seeder,
// the first peer that asks the writer for a block gets it; any other peer
// asking for the same block within the grace period is refused (as if the
// writer did not have it), so it fetches the block from the first one,
// which announces it to the peers that asked. After the grace period the
// writer serves anyone: a slow or vanished first peer delays a block by at
// most the grace period. Only the blocks of objects this node wrote into a
// replicated bucket in the last ten minutes are seeded; every other block
// is served as usual.
type seeder struct {
	grace time.Duration
	now   func() time.Time

	mu     sync.Mutex
	blocks map[cid.Cid]*seedBlock
}

type seedBlock struct {
	added   time.Time
	first   peer.ID // "" until a peer asked
	firstAt time.Time
}

func newSeeder(grace time.Duration, now func() time.Time) *seeder {
	return &seeder{grace: grace, now: now, blocks: map[cid.Cid]*seedBlock{}}
}

// add seeds cids from now on.
func (s *seeder) add(cids []cid.Cid) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, b := range s.blocks {
		if now.Sub(b.added) > seedTTL {
			delete(s.blocks, c)
		}
	}
	for _, c := range cids {
		if len(s.blocks) >= seedMaxBlocks {
			return
		}
		s.blocks[c] = &seedBlock{added: now}
	}
}

// allow reports whether peer p may be served block c.
func (s *seeder) allow(p peer.ID, c cid.Cid) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blocks[c]
	switch {
	case b == nil:
		return true
	case now.Sub(b.added) > seedTTL:
		delete(s.blocks, c)
		return true
	case b.first == "":
		b.first, b.firstAt = p, now
		return true
	case b.first == p:
		return true
	}
	return now.Sub(b.firstAt) > s.grace
}

// AllowBlockRequest reports whether the exchange may serve block c to
// peer p: false while the node seeds c to another peer (see seeder). Give
// it to the exchange as its block request filter.
func (n *Node) AllowBlockRequest(p peer.ID, c cid.Cid) bool {
	if n.seed == nil {
		return true
	}
	return n.seed.allow(p, c)
}

// seedObject seeds the blocks of the DAG under root, which this node just
// wrote into a replicated bucket. The DAG is read from the local store
// (it was just written); a block missing ends the walk.
func (n *Node) seedObject(root string) {
	if n.seed == nil {
		return
	}
	rc, err := cid.Decode(root)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cids []cid.Cid
	local := merkledag.NewDAGService(newBlockService(n.blocks, nil))
	_ = merkledag.Walk(ctx, merkledag.GetLinksWithDAG(local), rc, func(c cid.Cid) bool {
		cids = append(cids, c)
		return len(cids) < seedMaxBlocks
	})
	n.seed.add(cids)
}
