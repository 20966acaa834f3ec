package exchange

import (
	"context"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/client"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/bitswap/server"
	"github.com/ipfs/boxo/bitswap/tracer"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// newBitswap starts Bitswap (client and server) on h, living until ctx is
// cancelled or it is closed. This is the one place where Config becomes
// Bitswap options.
//
// There is no content routing: the provider finder is nil, so sessions
// find blocks by broadcasting want-haves to every connected peer (and to
// peers as they connect), rebroadcasting every ProviderSearchDelay while
// nothing arrives. Received blocks are verified by construction: boxo
// recomputes each block's CID from its bytes with the wanted CID's prefix
// (message.NewWantlistBlock), so bytes that do not hash to a wanted CID
// are never delivered or stored.
//
// With an allowlist, the server denies every want from a peer outside it
// (WithPeerBlockRequestFilter): such wants are never queued in the peer's
// ledger, so no block is sent and the want is not recorded.
//
// traffic counts the messages: it is the client's tracer (every incoming
// message, the wants sent) and the server's for what it sends, beside
// serverTracer when that is not nil; the wants sent are counted on the
// network (countingNetwork).
//
// The Swarm returned beside it sends on the same network and sees every
// message Bitswap receives.
func newBitswap(ctx context.Context, cfg Config, h host.Host, bs blockstore.Blockstore, allow map[peer.ID]bool, traffic *trafficTracer, serverTracer tracer.Tracer) (*bitswap.Bitswap, *Swarm) {
	opts := []bitswap.Option{
		bitswap.MaxOutstandingBytesPerPeer(cfg.MaxOutstandingBytesPerPeer),
		bitswap.EngineBlockstoreWorkerCount(cfg.EngineBlockstoreWorkerCount),
		bitswap.EngineTaskWorkerCount(cfg.EngineTaskWorkerCount),
		bitswap.TaskWorkerCount(cfg.TaskWorkerCount),
		bitswap.ProviderSearchDelay(cfg.ProviderSearchDelay),
		bitswap.RebroadcastDelay(cfg.RebroadcastDelay),
		bitswap.SetSendDontHaves(true),
	}
	if len(allow) > 0 {
		opts = append(opts, bitswap.WithPeerBlockRequestFilter(func(p peer.ID, _ cid.Cid) bool {
			return allow[p]
		}))
	}
	var st tracer.Tracer = sentOnly{traffic}
	if serverTracer != nil {
		st = tracers{st, serverTracer}
	}
	opts = append(opts, bitswap.WithClientOption(client.WithTracer(traffic)), bitswap.WithServerOption(server.WithTracer(st)))
	sw, net := NewSwarm(SwarmConfig{
		Network: countingNetwork{BitSwapNetwork: bsnet.NewFromIpfsHost(h), traffic: traffic},
		Store:   bs,
		Logger:  cfg.Logger,
	})
	b := bitswap.New(ctx, net, nil, bs, opts...)
	sw.SetNotify(b.NotifyNewBlocks)
	return b, sw
}
