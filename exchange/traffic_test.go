package exchange

import (
	"testing"
)

func TestPeerTraffic(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	b := startNode(t, Config{}, nil, nodeOptions{})
	if got := b.PeerTraffic(); len(got) != 0 {
		t.Errorf("PeerTraffic before any connection = %v, want empty", got)
	}
	connect(t, b, a)
	blk := putBlock(t, a, "traffic counted per peer")
	mustFetch(t, b, blk)

	// The counters are swept about once a second: wait until both ends
	// have counted at least the block in the right direction.
	waitFor(t, "traffic of the fetched block counted on both ends", func() bool {
		tb, ta := b.PeerTraffic()[a.ID()], a.PeerTraffic()[b.ID()]
		n := int64(len(blk.RawData()))
		return tb.In >= n && tb.Out > 0 && ta.Out >= n && ta.In > 0
	})
	if _, ok := b.PeerTraffic()[b.ID()]; ok {
		t.Errorf("PeerTraffic lists the node itself")
	}
	if got := len(b.PeerTraffic()); got != 1 {
		t.Errorf("B's PeerTraffic has %d peers, want only A", got)
	}
}
