package exchange

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnet "github.com/ipfs/boxo/bitswap/network"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// sentTracer counts, per receiving peer and block, the blocks a node's
// Bitswap server sent.
type sentTracer struct {
	mu   sync.Mutex
	sent map[peer.ID]map[cid.Cid]int
}

func newSentTracer() *sentTracer { return &sentTracer{sent: map[peer.ID]map[cid.Cid]int{}} }

func (s *sentTracer) MessageReceived(peer.ID, bsmsg.BitSwapMessage) {}

func (s *sentTracer) MessageSent(p peer.ID, m bsmsg.BitSwapMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range m.Blocks() {
		if s.sent[p] == nil {
			s.sent[p] = map[cid.Cid]int{}
		}
		s.sent[p][b.Cid()]++
	}
}

// to returns the blocks sent to p, by CID.
func (s *sentTracer) to(p peer.ID) map[cid.Cid]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[cid.Cid]int{}
	for c, n := range s.sent[p] {
		out[c] = n
	}
	return out
}

// swarmBlocks puts n blocks of size bytes, distinct per tag, into the
// given nodes' stores; it returns them in order.
func swarmBlocks(t *testing.T, tag string, n, size int, into ...*testNode) []blocks.Block {
	t.Helper()
	out := make([]blocks.Block, n)
	for i := range out {
		data := make([]byte, size)
		copy(data, fmt.Sprintf("%s block %d", tag, i))
		out[i] = blocks.NewBlock(data)
		for _, nd := range into {
			if err := nd.store.Put(context.Background(), out[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func cidsOf(bs []blocks.Block) []cid.Cid {
	out := make([]cid.Cid, len(bs))
	for i, b := range bs {
		out[i] = b.Cid()
	}
	return out
}

// gotRecorder is a SetRequest.Got counting calls per block.
type gotRecorder struct {
	mu  sync.Mutex
	got map[cid.Cid]int
}

func (g *gotRecorder) record(b blocks.Block) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.got == nil {
		g.got = map[cid.Cid]int{}
	}
	g.got[b.Cid()]++
}

// TestSwarmFetchSet: C fetches a set of 24 blocks from A, which holds all
// of them (the writer), and B, which holds the first half. Every block
// arrives exactly once in all (no block is sent twice), is stored and
// reported once, and A sends at least the half only it holds.
func TestSwarmFetchSet(t *testing.T) {
	t.Parallel()
	trA, trB := newSentTracer(), newSentTracer()
	a := startNode(t, Config{}, nil, nodeOptions{serverTracer: trA})
	b := startNode(t, Config{}, nil, nodeOptions{serverTracer: trB})
	c := startNode(t, Config{}, nil, nodeOptions{})
	first := swarmBlocks(t, "first", 12, 64<<10, a, b)
	second := swarmBlocks(t, "second", 12, 64<<10, a)
	all := append(append([]blocks.Block(nil), first...), second...)
	connect(t, c, a)
	connect(t, c, b)

	var rec gotRecorder
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Swarm().FetchSet(ctx, SetRequest{Blocks: cidsOf(all), Got: rec.record}); err != nil {
		t.Fatalf("fetch set: %v", err)
	}
	for _, blk := range all {
		got, err := c.store.Get(ctx, blk.Cid())
		if err != nil {
			t.Fatalf("block %s not stored: %v", blk.Cid(), err)
		}
		if string(got.RawData()) != string(blk.RawData()) {
			t.Fatalf("block %s stored with other bytes", blk.Cid())
		}
		if n := rec.got[blk.Cid()]; n != 1 {
			t.Errorf("Got called %d times for %s, want 1", n, blk.Cid())
		}
	}
	fromA, fromB := trA.to(c.ID()), trB.to(c.ID())
	for _, blk := range all {
		if n := fromA[blk.Cid()] + fromB[blk.Cid()]; n != 1 {
			t.Errorf("block %s sent %d times (A %d, B %d), want once", blk.Cid(), n, fromA[blk.Cid()], fromB[blk.Cid()])
		}
	}
	for _, blk := range second {
		if fromA[blk.Cid()] != 1 {
			t.Errorf("block %s, held by A only, not sent by A", blk.Cid())
		}
	}
	t.Logf("A sent %d blocks, B %d", len(fromA), len(fromB))
}

// TestSwarmLocalAndEmpty: a set whose blocks are all local returns at
// once without calling Got; a set listing a block twice is an error.
func TestSwarmLocalAndEmpty(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	bs := swarmBlocks(t, "local", 3, 100, a)
	var rec gotRecorder
	if err := a.Swarm().FetchSet(context.Background(), SetRequest{Blocks: cidsOf(bs), Got: rec.record}); err != nil {
		t.Fatalf("fetch local set: %v", err)
	}
	if len(rec.got) != 0 {
		t.Errorf("Got called for local blocks: %v", rec.got)
	}
	if err := a.Swarm().FetchSet(context.Background(), SetRequest{}); err != nil {
		t.Fatalf("fetch empty set: %v", err)
	}
	other := blocks.NewBlock([]byte("not here"))
	err := a.Swarm().FetchSet(context.Background(), SetRequest{Blocks: []cid.Cid{other.Cid(), other.Cid()}})
	if err == nil {
		t.Fatal("a set listing a block twice was accepted")
	}
}

// TestSwarmPeerArrivesLater: a fetch waits for a holder; when one
// connects mid-fetch, it is subscribed and asked, and the fetch ends.
func TestSwarmPeerArrivesLater(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	c := startNode(t, Config{}, nil, nodeOptions{})
	bs := swarmBlocks(t, "later", 5, 10<<10, a)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done <- c.Swarm().FetchSet(ctx, SetRequest{Blocks: cidsOf(bs)})
	}()
	select {
	case err := <-done:
		t.Fatalf("fetch ended with no peer: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	connect(t, c, a)
	if err := <-done; err != nil {
		t.Fatalf("fetch set: %v", err)
	}
	for _, blk := range bs {
		if has, _ := c.store.Has(context.Background(), blk.Cid()); !has {
			t.Errorf("block %s not stored", blk.Cid())
		}
	}
}

// TestSwarmCancelWithdrawsWants: a fetch of a block no one has ends with
// its context, and its want-haves are withdrawn from the peer's ledger.
func TestSwarmCancelWithdrawsWants(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	c := startNode(t, Config{}, nil, nodeOptions{})
	connect(t, c, a)
	absent := blocks.NewBlock([]byte("no one has this"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Swarm().FetchSet(ctx, SetRequest{Blocks: []cid.Cid{absent.Cid()}}) }()
	waitFor(t, "A to register C's want-have", func() bool {
		return containsCID(a.bs.WantlistForPeer(c.ID()), absent.Cid())
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("fetch set = %v, want context.Canceled", err)
	}
	waitFor(t, "A to drop C's want-have", func() bool {
		return !containsCID(a.bs.WantlistForPeer(c.ID()), absent.Cid())
	})
	// The subscription worked: had A got the block, it would have said so.
	// A later fetch, once A has it, succeeds.
	if err := a.store.Put(context.Background(), absent); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel2()
	if err := c.Swarm().FetchSet(ctx2, SetRequest{Blocks: []cid.Cid{absent.Cid()}}); err != nil {
		t.Fatalf("fetch set after A got the block: %v", err)
	}
}

// TestSwarmHaveOnArrival: a holder that gets the block after the fetch
// began announces it (its Bitswap server kept the want-have) and is asked.
func TestSwarmHaveOnArrival(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	c := startNode(t, Config{}, nil, nodeOptions{})
	connect(t, c, a)
	late := blocks.NewBlock(make([]byte, 50<<10))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done <- c.Swarm().FetchSet(ctx, SetRequest{Blocks: []cid.Cid{late.Cid()}})
	}()
	waitFor(t, "A to register C's want-have", func() bool {
		return containsCID(a.bs.WantlistForPeer(c.ID()), late.Cid())
	})
	if err := a.store.Put(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if err := a.Exchange().NotifyNewBlocks(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("fetch set: %v", err)
	}
}

// TestSwarmHolderLeaves: when one of two holders goes away mid-fetch,
// what was asked of it is asked of the other, and the fetch completes.
func TestSwarmHolderLeaves(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	b := startNode(t, Config{}, nil, nodeOptions{})
	c := startNode(t, Config{}, nil, nodeOptions{})
	bs := swarmBlocks(t, "leaves", 40, 128<<10, a, b)
	connect(t, c, a)
	connect(t, c, b)
	first := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- c.Swarm().FetchSet(ctx, SetRequest{Blocks: cidsOf(bs), PeerWindow: 2, Got: func(blocks.Block) {
			once.Do(func() { close(first) })
		}})
	}()
	<-first
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("fetch set after B left: %v", err)
	}
	for _, blk := range bs {
		if has, _ := c.store.Has(context.Background(), blk.Cid()); !has {
			t.Errorf("block %s not stored", blk.Cid())
		}
	}
}

// BenchmarkSwarmSchedule measures one scheduling pass of a set fetch of a
// 10 GiB object (10,240 leaves of 1 MiB) with 20 peers: the writer holds
// every leaf, each office every 20th; every peer's window is full and the
// set's is not (the worst case: the pass walks every leaf and asks every
// holder). The pass runs after each block and each message of HAVEs.
func BenchmarkSwarmSchedule(b *testing.B) {
	const leaves, peers = 10240, 20
	s, _ := NewSwarm(SwarmConfig{Store: nil})
	defer s.Close()
	ids := make([]peer.ID, peers)
	for j := range ids {
		ids[j] = peer.ID(fmt.Sprintf("peer-%02d", j))
		s.peers[ids[j]] = &swarmPeer{id: ids[j], pending: map[cid.Cid]swarmEntry{}, wake: make(chan struct{}, 1)}
	}
	cs := make([]cid.Cid, leaves)
	for i := range cs {
		cs[i] = blocks.NewBlock([]byte(fmt.Sprint("leaf ", i))).Cid()
	}
	set := &swarmSet{
		order: cs, idx: map[cid.Cid]int{}, size: make([]int64, leaves), done: make([]bool, leaves),
		asked: make([]peer.ID, leaves), askedAt: make([]time.Time, leaves), holders: make([]map[peer.ID]bool, leaves),
		per: map[peer.ID]*setPeer{}, finished: make(chan struct{}),
		remaining: leaves, shareRemaining: leaves / peers,
		owners: make([]peer.ID, leaves), self: "self",
		peerWindow: DefaultSwarmPeerWindow, window: leaves,
	}
	for i := range cs {
		set.owners[i] = ids[1+i%(peers-1)]
		if i < leaves/peers {
			set.owners[i] = set.self
		}
		set.idx[cs[i]] = i
		set.size[i] = 1 << 20
		set.holders[i] = map[peer.ID]bool{ids[0]: true, ids[1+i%(peers-1)]: true}
	}
	for j, p := range ids {
		sp := set.peer(p)
		sp.next = leaves // subscribed to everything already
		if j == 0 {
			sp.haves = leaves
		} else {
			sp.haves, sp.dontHaves = leaves/peers, leaves
		}
	}
	s.mu.Lock()
	s.scheduleLocked(set) // fills the windows
	b.ResetTimer()
	for range b.N {
		s.scheduleLocked(set)
	}
	b.StopTimer()
	s.mu.Unlock()
	b.ReportMetric(float64(set.inflight), "inflight")
}

// TestSwarmSubscriptionCap: fetches in progress together keep at most
// swarmSubscribeMax want-haves at one peer, within its Bitswap ledger.
func TestSwarmSubscriptionCap(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	c := startNode(t, Config{}, nil, nodeOptions{})
	connect(t, c, a)
	absent := func(tag string) []cid.Cid {
		out := make([]cid.Cid, 400)
		for i := range out {
			out[i] = blocks.NewBlock([]byte(fmt.Sprintf("%s %d: no one has it", tag, i))).Cid()
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, tag := range []string{"one", "two"} {
		wg.Go(func() { _ = c.Swarm().FetchSet(ctx, SetRequest{Blocks: absent(tag)}) })
	}
	waitFor(t, "A to hold the capped subscriptions", func() bool {
		return len(a.bs.WantlistForPeer(c.ID())) == swarmSubscribeMax
	})
	time.Sleep(200 * time.Millisecond) // room for any excess to arrive
	if n := len(a.bs.WantlistForPeer(c.ID())); n != swarmSubscribeMax {
		t.Errorf("A holds %d of C's wants, want %d", n, swarmSubscribeMax)
	}
	cancel()
	wg.Wait()
	waitFor(t, "A to drop C's wants", func() bool { return len(a.bs.WantlistForPeer(c.ID())) == 0 })
}

// TestSwarmSeedMayServe: a seed may be asked for a block only seeds hold
// when the block is this node's share, or its owner is gone or done; an
// owner still fetching, or that has not answered yet, gets to fetch it.
func TestSwarmSeedMayServe(t *testing.T) {
	self, fetching, done, silent, gone := peer.ID("self"), peer.ID("fetching"), peer.ID("done"), peer.ID("silent"), peer.ID("gone")
	s := &Swarm{peers: map[peer.ID]*swarmPeer{}}
	for _, p := range []peer.ID{fetching, done, silent} {
		s.peers[p] = &swarmPeer{id: p}
	}
	set := &swarmSet{self: self, owners: []peer.ID{self, fetching, done, silent, gone}, per: map[peer.ID]*setPeer{}}
	set.peer(fetching).dontHaves, set.peer(fetching).haves = 3, 1
	set.peer(done).haves = 5
	for _, tc := range []struct {
		block int
		owner string
		want  bool
	}{
		{0, "this node", true},
		{1, "fetching", false},
		{2, "done (a seed)", true},
		{3, "connected, not answered yet", false},
		{4, "not connected", true},
	} {
		if got := s.seedMayServeLocked(set, tc.block); got != tc.want {
			t.Errorf("block owned by %s: may a seed serve it = %v, want %v", tc.owner, got, tc.want)
		}
	}
	set.owners = nil // alone: every block is this node's
	if !s.seedMayServeLocked(set, 1) {
		t.Error("without owners, a seed may not serve a block")
	}
}

// wantBlockTracer records, for each message a node's server got from one
// peer with want-blocks, how many want-blocks it held and how many of
// them were for blocks in watch.
type wantBlockTracer struct {
	from  peer.ID
	watch map[cid.Cid]bool
	mu    sync.Mutex
	msgs  [][2]int // {want-blocks, of which watched}
}

func (w *wantBlockTracer) MessageReceived(p peer.ID, m bsmsg.BitSwapMessage) {
	if p != w.from {
		return
	}
	var n, watched int
	for _, e := range m.Wantlist() {
		if !e.Cancel && e.WantType == 0 { // want-block
			n++
			if w.watch[e.Cid] {
				watched++
			}
		}
	}
	if n > 0 {
		w.mu.Lock()
		w.msgs = append(w.msgs, [2]int{n, watched})
		w.mu.Unlock()
	}
}

func (w *wantBlockTracer) MessageSent(peer.ID, bsmsg.BitSwapMessage) {}

// TestSwarmOwnerFetching: the blocks of a share whose owner is connected
// and fetching are not asked of the writer with this node's own; once
// this node has nothing else in flight it asks for them one at a time,
// and the fetch completes although the owner never gets them.
func TestSwarmOwnerFetching(t *testing.T) {
	t.Parallel()
	c := startNode(t, Config{}, nil, nodeOptions{})
	tr := &wantBlockTracer{from: c.ID(), watch: map[cid.Cid]bool{}}
	a := startNode(t, Config{}, nil, nodeOptions{serverTracer: tr})
	b := startNode(t, Config{}, nil, nodeOptions{}) // the owner: fetching, never gets them
	bs := swarmBlocks(t, "owned", 10, 32<<10, a)
	// B's share comes first in C's order: asked with C's own, they
	// would go out in C's first message.
	owners := make([]peer.ID, len(bs))
	for i := range owners {
		owners[i] = c.ID()
		if i < 5 {
			owners[i] = b.ID()
			tr.watch[bs[i].Cid()] = true
		}
	}
	connect(t, c, b)
	waitFor(t, "C to see B", func() bool { return c.Swarm().connectedTo(b.ID()) })
	connect(t, c, a)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Swarm().FetchSet(ctx, SetRequest{Blocks: cidsOf(bs), Owners: owners}); err != nil {
		t.Fatalf("fetch set: %v", err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	watched := 0
	for _, m := range tr.msgs {
		if m[1] > 0 && m[0] != 1 {
			t.Errorf("a message asked A for %d blocks, %d of them B's share: B's blocks must be asked alone", m[0], m[1])
		}
		watched += m[1]
	}
	if watched != 5 {
		t.Errorf("A was asked for %d of B's blocks, want 5", watched)
	}
}

// latencyNet is a Bitswap network that only knows round-trip times.
type latencyNet struct {
	bsnet.BitSwapNetwork
	rtt time.Duration
}

func (l latencyNet) Latency(peer.ID) time.Duration { return l.rtt }

// TestSwarmPeerWindow: the window per peer grows to twice the
// bandwidth-delay product on a long fat link, within its bounds.
func TestSwarmPeerWindow(t *testing.T) {
	p := peer.ID("p")
	for _, tc := range []struct {
		name     string
		rate     float64 // measured bytes/s; 0 = not measured
		rtt      time.Duration
		base     int
		want     int
		meanSize float64
	}{
		{"unmeasured, 20 ms", 0, 20 * time.Millisecond, 4, 4, 1 << 20},
		{"100 MiB/s, 100 ms", 100 << 20, 100 * time.Millisecond, 4, 20, 1 << 20},
		{"1 GiB/s, 200 ms: capped", 1 << 30, 200 * time.Millisecond, 4, swarmPeerWindowMax, 1 << 20},
		{"slow link keeps the set's window", 1 << 20, 20 * time.Millisecond, 8, 8, 1 << 20},
		{"small blocks", 10 << 20, 50 * time.Millisecond, 4, 4, 256 << 10},
		{"small blocks, fast", 50 << 20, 50 * time.Millisecond, 4, 20, 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gp := &swarmPeer{id: p}
			if tc.rate > 0 {
				gp.busy, gp.bytes = 1, tc.rate
			}
			s := &Swarm{net: latencyNet{rtt: tc.rtt}, peers: map[peer.ID]*swarmPeer{p: gp}}
			set := &swarmSet{peerWindow: tc.base, meanSize: tc.meanSize}
			if got := s.peerWindowLocked(set, p); got != tc.want {
				t.Errorf("window = %d, want %d", got, tc.want)
			}
		})
	}
}
