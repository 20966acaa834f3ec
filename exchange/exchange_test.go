package exchange

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"s3mesh/internal/poll"
	"strings"
	"sync"
	"testing"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// waitTimeout bounds every wait for a network event in these tests. It is
// generous: the race detector on a loaded 2-core machine is slow.
const waitTimeout = 30 * time.Second

const loopbackTCP = "/ip4/127.0.0.1/tcp/0"

type testNode struct {
	*Node
	store blockstore.Blockstore
}

func newKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, err := LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func startNode(t *testing.T, cfg Config, key crypto.PrivKey, opts nodeOptions) *testNode {
	t.Helper()
	if cfg.ListenAddrs == nil {
		cfg.ListenAddrs = []string{loopbackTCP}
	}
	if key == nil {
		key = newKey(t)
	}
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	n, err := newNode(cfg, key, bs, opts)
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &testNode{Node: n, store: bs}
}

func addr(t *testing.T, n *Node) string {
	t.Helper()
	addrs := n.Addrs()
	if len(addrs) == 0 {
		t.Fatal("node has no addresses")
	}
	return addrs[0].String()
}

func putBlock(t *testing.T, n *testNode, data string) blocks.Block {
	t.Helper()
	b := blocks.NewBlock([]byte(data))
	if err := n.store.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// fetch gets c through n's exchange within d.
func fetch(n *testNode, c cid.Cid, d time.Duration) (blocks.Block, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return n.Exchange().GetBlock(ctx, c)
}

func mustFetch(t *testing.T, n *testNode, want blocks.Block) {
	t.Helper()
	got, err := fetch(n, want.Cid(), waitTimeout)
	if err != nil {
		t.Fatalf("get block %s: %v", want.Cid(), err)
	}
	if !got.Cid().Equals(want.Cid()) || !bytes.Equal(got.RawData(), want.RawData()) {
		t.Fatalf("got block %s %q, want %s %q", got.Cid(), got.RawData(), want.Cid(), want.RawData())
	}
}

// waitFor waits until cond holds (see poll.Until), within waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, waitTimeout, poll.True(what, cond))
}

func connected(a, b *testNode) bool {
	return a.Host().Network().Connectedness(b.ID()) == network.Connected
}

func connect(t *testing.T, from, to *testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := from.Connect(ctx, addr(t, to.Node)); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

func TestFetchBlockFromPeer(t *testing.T) {
	t.Parallel()
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a := startNode(t, Config{
		ListenAddrs: []string{loopbackTCP, "/ip4/127.0.0.1/udp/0/quic-v1"},
		Registerer:  regA,
	}, nil, nodeOptions{})
	b := startNode(t, Config{Registerer: regB}, nil, nodeOptions{})

	var sawQUIC bool
	for _, m := range a.Addrs() {
		if _, err := m.ValueForProtocol(multiaddr.P_QUIC_V1); err == nil {
			sawQUIC = true
		}
		if _, err := m.ValueForProtocol(multiaddr.P_P2P); err != nil {
			t.Errorf("address %s has no /p2p/ component", m)
		}
	}
	if !sawQUIC {
		t.Errorf("addrs %v: no QUIC address", a.Addrs())
	}

	blk := putBlock(t, a, "hello from office A")
	connect(t, b, a)
	mustFetch(t, b, blk)

	// Counters are read from Bitswap at scrape time.
	waitFor(t, "A's blocks_sent_total to reach 1", func() bool {
		return gatherValue(t, regA, "s3mesh_exchange_blocks_sent_total") == 1
	})
	if err := testutil.GatherAndCompare(regB, strings.NewReader(`
# HELP s3mesh_exchange_blocks_received_total Blocks received from peers by Bitswap, duplicates included.
# TYPE s3mesh_exchange_blocks_received_total counter
s3mesh_exchange_blocks_received_total 1
# HELP s3mesh_exchange_duplicate_blocks_received_total Blocks received from peers that were already present or already received.
# TYPE s3mesh_exchange_duplicate_blocks_received_total counter
s3mesh_exchange_duplicate_blocks_received_total 0
# HELP s3mesh_exchange_peers_connected Peers with at least one open libp2p connection.
# TYPE s3mesh_exchange_peers_connected gauge
s3mesh_exchange_peers_connected 1
`), "s3mesh_exchange_blocks_received_total", "s3mesh_exchange_duplicate_blocks_received_total",
		"s3mesh_exchange_peers_connected"); err != nil {
		t.Error(err)
	}
	if got := gatherValue(t, regB, "s3mesh_exchange_blocks_received_bytes_total"); got != float64(len(blk.RawData())) {
		t.Errorf("B received %v block bytes, want %d", got, len(blk.RawData()))
	}
	// libp2p's bandwidth totals are updated by a background sweep.
	waitFor(t, "B's transport byte counter to count the block", func() bool {
		return gatherValue(t, regB, "s3mesh_exchange_transport_received_bytes_total") >= float64(len(blk.RawData()))
	})
	if got := gatherLabeled(t, regB, "s3mesh_exchange_connection_events_total", "event", "connected"); got < 1 {
		t.Errorf("B connection_events_total{event=connected} = %v, want >= 1", got)
	}
}

// gatherValue returns the value of the unlabelled metric name in reg.
func gatherValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return gatherLabeled(t, reg, name, "", "")
}

func gatherLabeled(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, label, value)
	return 0
}

func TestMissingBlockFailsWithinDeadline(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	b := startNode(t, Config{}, nil, nodeOptions{})
	connect(t, b, a)
	missing := blocks.NewBlock([]byte("nobody has this"))
	_, err := fetch(b, missing.Cid(), 2*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get missing block: %v, want context.DeadlineExceeded", err)
	}
}

func TestStaticPeerReconnects(t *testing.T) {
	t.Parallel()
	keyA := newKey(t)
	a := startNode(t, Config{}, keyA, nodeOptions{})
	addrA := addr(t, a.Node) // /ip4/127.0.0.1/tcp/PORT/p2p/ID
	b := startNode(t, Config{
		Peers:        []string{addrA},
		ReconnectMin: 100 * time.Millisecond,
		ReconnectMax: time.Second,
	}, nil, nodeOptions{})

	waitFor(t, "B to dial its static peer A", func() bool { return connected(b, a) })
	if !b.Host().ConnManager().IsProtected(a.ID(), peeringTag) {
		t.Error("static peer A is not protected in B's connection manager")
	}

	// A goes away: B notices.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see A disconnected", func() bool {
		return b.Host().Network().Connectedness(a.ID()) != network.Connected
	})

	// A comes back with the same key and address: B redials on its own.
	listenA := strings.TrimSuffix(addrA, "/p2p/"+a.ID().String())
	a2 := startNode(t, Config{ListenAddrs: []string{listenA}}, keyA, nodeOptions{})
	if a2.ID() != a.ID() {
		t.Fatalf("restarted A has ID %s, want %s", a2.ID(), a.ID())
	}
	waitFor(t, "B to reconnect to the restarted A", func() bool { return connected(b, a2) })

	blk := putBlock(t, a2, "after restart")
	mustFetch(t, b, blk)

	var info *PeerInfo
	for _, p := range b.Peers() {
		if p.ID == a.ID() {
			info = &p
		}
	}
	if info == nil || !info.Static || !info.Connected {
		t.Errorf("B.Peers() entry for A = %+v, want static and connected", info)
	}
}

func TestStaticPeerListedWhileDown(t *testing.T) {
	t.Parallel()
	// A peer ID with an address nobody listens on.
	down := startNode(t, Config{}, nil, nodeOptions{})
	downAddr := addr(t, down.Node)
	downID := down.ID()
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, Config{Peers: []string{downAddr}}, nil, nodeOptions{})
	peers := b.Peers()
	if len(peers) != 1 || peers[0].ID != downID || peers[0].Connected || !peers[0].Static || len(peers[0].Addrs) == 0 {
		t.Fatalf("Peers() = %+v, want one static, disconnected peer %s with its address", peers, downID)
	}
}

func TestSwarmKey(t *testing.T) {
	t.Parallel()
	key1, err := GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	key2, err := GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a := startNode(t, Config{
		SwarmKey:    key1,
		ListenAddrs: []string{loopbackTCP, "/ip4/127.0.0.1/udp/0/quic-v1"},
		Logger:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, nil, nodeOptions{})
	if s := logs.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "quic-v1") {
		t.Errorf("no warning about the dropped QUIC address; log:\n%s", s)
	}
	if hexKey := strings.Split(string(key1), "\n")[2]; strings.Contains(logs.String(), hexKey) {
		t.Error("log contains the swarm key")
	}
	for _, m := range a.Addrs() {
		if !isPlainTCP(m.Decapsulate(multiaddr.StringCast("/p2p/" + a.ID().String()))) {
			t.Errorf("private-network node listens on non-TCP address %s", m)
		}
	}
	blk := putBlock(t, a, "private network block")

	t.Run("same key", func(t *testing.T) {
		b := startNode(t, Config{SwarmKey: key1}, nil, nodeOptions{})
		connect(t, b, a)
		mustFetch(t, b, blk)
	})
	for name, key := range map[string][]byte{"no key": nil, "other key": key2} {
		t.Run(name, func(t *testing.T) {
			c := startNode(t, Config{SwarmKey: key}, nil, nodeOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := c.Connect(ctx, addr(t, a.Node)); err == nil {
				t.Fatal("connect across networks succeeded, want an error")
			}
			if connected(c, a) || connected(a, c) {
				t.Fatal("nodes of different networks are connected")
			}
			if _, err := fetch(c, blk.Cid(), 3*time.Second); err == nil {
				t.Fatal("fetch across networks succeeded, want an error")
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAllowPeersGater(t *testing.T) {
	t.Parallel()
	friend := startNode(t, Config{}, nil, nodeOptions{})
	a := startNode(t, Config{AllowPeers: []peer.ID{friend.ID()}}, nil, nodeOptions{})
	stranger := startNode(t, Config{}, nil, nodeOptions{})
	blk := putBlock(t, a, "for friends only")
	seen := &peerRecorder{peers: map[peer.ID]bool{}}
	a.Host().Network().Notify(&network.NotifyBundle{ConnectedF: seen.connected})

	connect(t, friend, a)
	mustFetch(t, friend, blk)

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// The stranger's dial may complete its side of the handshake before A
	// refuses the authenticated peer and closes the connection, so its
	// Connect can return nil; A must never accept the connection.
	_ = stranger.Connect(ctx, addr(t, a.Node))
	if err := a.Connect(ctx, addr(t, stranger.Node)); err == nil {
		t.Error("A dialled the stranger, want refused by its gater")
	}
	waitFor(t, "the stranger's refused connection to close", func() bool {
		return !connected(stranger, a) && !connected(a, stranger)
	})
	if _, err := fetch(stranger, blk.Cid(), 3*time.Second); err == nil {
		t.Fatal("stranger fetched a block from A")
	}
	if seen.saw(stranger.ID()) {
		t.Error("A accepted a connection from the stranger")
	}
	if !seen.saw(friend.ID()) {
		t.Error("A never saw its friend connect: the check above proves nothing")
	}
}

// peerRecorder records the peers a network reported connected.
type peerRecorder struct {
	mu    sync.Mutex
	peers map[peer.ID]bool
}

func (r *peerRecorder) connected(_ network.Network, c network.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.peers[c.RemotePeer()] = true
}

func (r *peerRecorder) saw(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers[p]
}

// wantTracer records, per peer, the CIDs wanted in messages the Bitswap
// server has finished processing.
type wantTracer struct {
	mu    sync.Mutex
	wants map[peer.ID]map[cid.Cid]bool
}

func (w *wantTracer) MessageReceived(p peer.ID, m bsmsg.BitSwapMessage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range m.Wantlist() {
		if e.Cancel {
			continue
		}
		if w.wants[p] == nil {
			w.wants[p] = map[cid.Cid]bool{}
		}
		w.wants[p][e.Cid] = true
	}
}

func (w *wantTracer) MessageSent(peer.ID, bsmsg.BitSwapMessage) {}

func (w *wantTracer) saw(p peer.ID, c cid.Cid) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wants[p][c]
}

// TestAllowPeersBitswapFilter checks the Bitswap half of the allowlist on
// its own: the gater is disabled so that the stranger does connect, as if
// it had got past it.
func TestAllowPeersBitswapFilter(t *testing.T) {
	t.Parallel()
	tr := &wantTracer{wants: map[peer.ID]map[cid.Cid]bool{}}
	friend := startNode(t, Config{}, nil, nodeOptions{})
	a := startNode(t, Config{AllowPeers: []peer.ID{friend.ID()}}, nil, nodeOptions{noGater: true, serverTracer: tr})
	stranger := startNode(t, Config{}, nil, nodeOptions{})
	blk := putBlock(t, a, "served to the allowlist only")
	absent := blocks.NewBlock([]byte("A does not have this"))

	connect(t, stranger, a)
	connect(t, friend, a)

	// Control: a friend's want for a block A lacks stays in A's ledger.
	friendDone := make(chan error, 1)
	go func() {
		_, err := fetch(friend, absent.Cid(), waitTimeout)
		friendDone <- err
	}()
	waitFor(t, "A to process the friend's want", func() bool { return tr.saw(friend.ID(), absent.Cid()) })
	if !containsCID(a.bs.WantlistForPeer(friend.ID()), absent.Cid()) {
		t.Fatalf("A's wantlist for the friend %v lacks %s: the check below would prove nothing", a.bs.WantlistForPeer(friend.ID()), absent.Cid())
	}

	// The stranger's want reaches A, is processed and dropped.
	strangerDone := make(chan error, 1)
	go func() {
		_, err := fetch(stranger, blk.Cid(), 3*time.Second)
		strangerDone <- err
	}()
	waitFor(t, "A to process the stranger's want", func() bool { return tr.saw(stranger.ID(), blk.Cid()) })
	if wl := a.bs.WantlistForPeer(stranger.ID()); len(wl) != 0 {
		t.Errorf("A's wantlist for the stranger = %v, want empty", wl)
	}
	if err := <-strangerDone; err == nil {
		t.Error("stranger fetched a block from A")
	}
	if has, _ := stranger.store.Has(context.Background(), blk.Cid()); has {
		t.Error("stranger's blockstore holds A's block")
	}
	if r := a.bs.LedgerForPeer(stranger.ID()); r != nil && r.Sent != 0 {
		t.Errorf("A sent the stranger %d bytes", r.Sent)
	}

	// The friend is served: its outstanding want completes once A has it.
	if err := a.store.Put(context.Background(), absent); err != nil {
		t.Fatal(err)
	}
	if err := a.Exchange().NotifyNewBlocks(context.Background(), absent); err != nil {
		t.Fatal(err)
	}
	if err := <-friendDone; err != nil {
		t.Errorf("friend's fetch: %v", err)
	}
}

func containsCID(cs []cid.Cid, c cid.Cid) bool {
	for _, x := range cs {
		if x.Equals(c) {
			return true
		}
	}
	return false
}

func TestPeersRTT(t *testing.T) {
	t.Parallel()
	a := startNode(t, Config{}, nil, nodeOptions{})
	b := startNode(t, Config{}, nil, nodeOptions{})
	connect(t, b, a)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rtt, err := b.Ping(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if rtt <= 0 {
		t.Errorf("ping RTT = %s, want > 0", rtt)
	}
	peers := b.Peers()
	if len(peers) != 1 {
		t.Fatalf("Peers() = %+v, want exactly A", peers)
	}
	p := peers[0]
	if p.ID != a.ID() || !p.Connected || p.Static || p.RTT <= 0 || len(p.Addrs) == 0 {
		t.Errorf("Peers()[0] = %+v, want A, connected, not static, RTT > 0, with an address", p)
	}
}

func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	n, err := New(Config{ListenAddrs: []string{loopbackTCP}, Peers: []string{
		fmt.Sprintf("/ip4/127.0.0.1/tcp/9/p2p/%s", mustPeerID(t)),
	}}, newKey(t), bs)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("first close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func mustPeerID(t *testing.T) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
