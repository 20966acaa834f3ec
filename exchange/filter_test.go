package exchange

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestRequestFilter: while A's request filter refuses B, B cannot fetch
// A's block; once it is removed, B can.
//
// A refused want is dropped, not remembered, so B learns of the block
// only when it asks again. Bitswap asks again at once only for a want it
// does not already hold: the second fetch waits until the first one's
// cancel has left B's wantlist, or it would ride on the refused want until
// the 30-second rebroadcast.
func TestRequestFilter(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	b := startNode(t, Config{}, nil, nodeOptions{})
	blk := putBlock(t, a, "filtered")
	a.SetRequestFilter(func(p peer.ID, c cid.Cid) bool { return p != b.ID() || c != blk.Cid() })
	connect(t, b, a)
	if _, err := fetch(b, blk.Cid(), 2*time.Second); err == nil {
		t.Fatal("B fetched a block A's filter refuses")
	}
	waitFor(t, "B to drop its refused want", func() bool { return !containsCID(b.bs.GetWantlist(), blk.Cid()) })
	a.SetRequestFilter(nil)
	mustFetch(t, b, blk)
}
