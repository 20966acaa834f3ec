package gateway

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

func TestSeeder(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	s := newSeeder(10*time.Second, clock.Now)
	mk := func(data string) cid.Cid {
		c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	seeded, other := mk("seeded"), mk("other")
	a, b, c := peer.ID("a"), peer.ID("b"), peer.ID("c")
	s.add([]cid.Cid{seeded})
	steps := []struct {
		after time.Duration
		p     peer.ID
		c     cid.Cid
		want  bool
	}{
		{0, b, other, true},                 // not seeded: anyone
		{0, a, seeded, true},                // the first peer to ask
		{time.Second, a, seeded, true},      // ... again
		{0, b, seeded, false},               // another peer, within the grace
		{0, c, seeded, false},               //
		{9 * time.Second, b, seeded, false}, // 10 s after the first ask: not yet
		{2 * time.Second, b, seeded, true},  // past the grace: anyone
		{seedTTL, c, seeded, true},          // expired
		{0, b, seeded, true},                //
	}
	for i, st := range steps {
		clock.Add(st.after)
		if got := s.allow(st.p, st.c); got != st.want {
			t.Errorf("step %d: allow(%s, %s) = %v, want %v", i, st.p, st.c, got, st.want)
		}
	}
	s.mu.Lock()
	n := len(s.blocks)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d seeded blocks left after the TTL", n)
	}
}
