package namespace

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCrdtAnnounceOnJoin: with periodic rebroadcasts effectively off (one
// a day), what an office wrote before another joined the topic reaches the
// newcomer anyway, because a peer joining the topic is sent the heads at
// once; and so does what was written while the two were disconnected.
func TestCrdtAnnounceOnJoin(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	for _, p := range peers {
		p.close(t)
		p.mod = func(c *CRDTConfig) { c.RebroadcastInterval = 24 * time.Hour }
		p.open(t)
	}
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	crdtPut(t, a, "bkt", "before-connect", "e1")
	connectCrdtPeers(t, peers)
	etagEverywhere(t, peers, "bkt", "before-connect", "e1")

	// Cut the link, write on both sides, reconnect.
	a.ex.Host().Network().ClosePeer(b.ex.ID())
	b.ex.Host().Network().ClosePeer(a.ex.ID())
	waitFor(t, "topic peers gone", func() error {
		if n := len(a.ps.ListPeers(CRDTTopic(crdtTestNetwork))) + len(b.ps.ListPeers(CRDTTopic(crdtTestNetwork))); n != 0 {
			return fmt.Errorf("%d topic peers left", n)
		}
		return nil
	})
	crdtPut(t, a, "bkt", "while-apart-a", "e2")
	crdtPut(t, b, "bkt", "while-apart-b", "e3")
	connectCrdtPeers(t, peers)
	etagEverywhere(t, peers, "bkt", "while-apart-a", "e2")
	etagEverywhere(t, peers, "bkt", "while-apart-b", "e3")
}
