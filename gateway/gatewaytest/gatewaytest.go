// Package gatewaytest runs several s3mesh gateway nodes in one process,
// each with its own data directory, block store and real Bitswap exchange,
// over an in-memory libp2p network (go-libp2p's mocknet), for tests that
// move blocks between nodes:
//
//	net := gatewaytest.NewNet(t)
//	a, b := net.NewNode(t), net.NewNode(t)
//	net.Connect(a, b)
//	// PUT on a, read on b; net.Disconnect(a, b) takes a away from b.
//
// Nodes made by NewNode replicate no namespace: each has its own buckets
// and records (copy a record with Namespace().PutObject). Nodes made by
// NewReplicatedNode also run GossipSub, so their namespaces replicate
// between connected nodes, as in a real office network.
//
// Everything is closed by t.Cleanup.
package gatewaytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/go-cid"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
)

// Net is an in-memory network of nodes.
type Net struct {
	t  testing.TB
	mn mocknet.Mocknet
	// BitswapOptions are given to the Bitswap of every node made after
	// they are set, after the settings an s3mesh node uses (exchange's
	// defaults). nil: those alone.
	BitswapOptions []bitswap.Option
}

// NewNet returns an empty network, closed when t ends.
func NewNet(t testing.TB) *Net {
	t.Helper()
	n := &Net{t: t, mn: mocknet.New()}
	t.Cleanup(func() { n.mn.Close() })
	return n
}

// Node is a gateway node on a Net with its Bitswap exchange.
type Node struct {
	*gateway.Node
	// Host is the node's libp2p host on the in-memory network.
	Host host.Host
	// Bitswap is the node's exchange, serving its block store.
	Bitswap *bitswap.Bitswap
	// Swarm is the node's set fetcher, on Bitswap's network (the
	// gateway's Config.Swarm).
	Swarm *exchange.Swarm
	// Blocks is the node's block store.
	Blocks *blockstore.Store
	// PubSub is the node's GossipSub router; nil unless made by
	// NewReplicatedNode.
	PubSub *pubsub.PubSub

	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// NewNode starts a node in a fresh directory of t's, with NoSync and a
// Bitswap exchange on net; mods adjust its gateway config (DataDir,
// Blockstore and Exchange are set by NewNode). It is connected to no one.
// It is closed when t ends.
func (n *Net) NewNode(t testing.TB, mods ...func(*gateway.Config)) *Node {
	t.Helper()
	return n.newNode(t, false, mods)
}

// NewReplicatedNode is NewNode with GossipSub on the node's host: its
// namespace replicates with the other replicated nodes it is connected to
// (Config.PubSub and Config.NodeID, the host's peer ID, are set by it;
// RebroadcastInterval defaults to 500 ms; mods may set the rest, such as
// Network or AllowPeer).
func (n *Net) NewReplicatedNode(t testing.TB, mods ...func(*gateway.Config)) *Node {
	t.Helper()
	return n.newNode(t, true, mods)
}

func (n *Net) newNode(t testing.TB, replicated bool, mods []func(*gateway.Config)) *Node {
	t.Helper()
	return n.newNodeIn(t, t.TempDir(), replicated, mods)
}

// NewReplicatedNodeIn is NewReplicatedNode with the node's data (blocks
// and namespace) in dir, which the test made (a small file system, say).
func (n *Net) NewReplicatedNodeIn(t testing.TB, dir string, mods ...func(*gateway.Config)) *Node {
	t.Helper()
	return n.newNodeIn(t, dir, true, mods)
}

func (n *Net) newNodeIn(t testing.TB, dir string, replicated bool, mods []func(*gateway.Config)) *Node {
	t.Helper()
	h, err := n.mn.GenPeer()
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	bs, err := blockstore.Open(blockstore.Config{Path: dir + "/blocks", NoSync: true})
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sw, net := exchange.NewSwarm(exchange.SwarmConfig{Network: bsnet.NewFromIpfsHost(h), Store: bs.Blockstore()})
	// The settings an s3mesh node runs Bitswap with (exchange.Config's
	// defaults), then the Net's.
	opts := append([]bitswap.Option{
		bitswap.MaxOutstandingBytesPerPeer(exchange.DefaultMaxOutstandingBytesPerPeer),
		bitswap.ProviderSearchDelay(exchange.DefaultProviderSearchDelay),
		bitswap.RebroadcastDelay(exchange.DefaultRebroadcastDelay),
		bitswap.SetSendDontHaves(true),
	}, n.BitswapOptions...)
	bsw := bitswap.New(ctx, net, nil, bs.Blockstore(), opts...)
	sw.SetNotify(bsw.NotifyNewBlocks)
	cfg := gateway.Config{DataDir: dir, NoSync: true, MultipartMaxAge: -1}
	if replicated {
		// GossipSub drops the first messages to a peer just connected; a
		// short rebroadcast makes the namespace catch up quickly.
		cfg.RebroadcastInterval = 500 * time.Millisecond
	}
	for _, m := range mods {
		m(&cfg)
	}
	cfg.DataDir, cfg.Blockstore, cfg.Exchange = dir, bs, bsw
	cfg.Swarm = sw
	var ps *pubsub.PubSub
	if replicated {
		// GossipSub lives until cancel, after the gateway node closed.
		if ps, err = pubsub.NewGossipSub(ctx, h); err != nil {
			bsw.Close()
			cancel()
			bs.Close()
			t.Fatalf("new node: %v", err)
		}
		cfg.PubSub, cfg.NodeID = ps, h.ID().String()
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		bsw.Close()
		cancel()
		bs.Close()
		t.Fatalf("new node: %v", err)
	}
	nd := &Node{Node: gw, Host: h, Bitswap: bsw, Swarm: sw, Blocks: bs, PubSub: ps, cancel: cancel}
	t.Cleanup(func() {
		if err := nd.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return nd
}

// Connect links a and b and connects them; Bitswap on each then sees the
// other. It fails the Net's test on error; call it from the test's
// goroutine.
func (n *Net) Connect(a, b *Node) {
	n.t.Helper()
	if _, err := n.mn.LinkPeers(a.Host.ID(), b.Host.ID()); err != nil {
		n.t.Fatalf("connect: %v", err)
	}
	if _, err := n.mn.ConnectPeers(a.Host.ID(), b.Host.ID()); err != nil {
		n.t.Fatalf("connect: %v", err)
	}
}

// Disconnect closes the connections between a and b and unlinks them, so
// that neither can reach the other until Connect. It fails the Net's test
// on error; call it from the test's goroutine.
func (n *Net) Disconnect(a, b *Node) {
	n.t.Helper()
	if err := n.mn.UnlinkPeers(a.Host.ID(), b.Host.ID()); err != nil {
		n.t.Fatalf("disconnect: %v", err)
	}
	if err := n.mn.DisconnectPeers(a.Host.ID(), b.Host.ID()); err != nil {
		n.t.Fatalf("disconnect: %v", err)
	}
}

// Wantlist returns the blocks the node's Bitswap client wants now.
func (nd *Node) Wantlist() []cid.Cid { return nd.Bitswap.GetWantlist() }

// Close closes, in order, the gateway node, its exchange and pubsub, its
// block store and its host. Idempotent.
func (nd *Node) Close() error {
	nd.closeOnce.Do(func() {
		err := nd.Node.Close()
		nd.Swarm.Close()
		nd.Bitswap.Close()
		nd.cancel()
		if cerr := nd.Blocks.Close(); err == nil {
			err = cerr
		}
		if cerr := nd.Host.Close(); err == nil {
			err = cerr
		}
		nd.closeErr = err
	})
	return nd.closeErr
}
