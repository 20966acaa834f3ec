// Package exchange is s3mesh's peer-to-peer layer: a libp2p host per
// office and Bitswap over it, through which offices fetch the blocks they
// lack from each other.
//
// [New] builds a [Node] from a [Config], the node's private key (see
// [LoadOrCreateIdentity]) and the local boxo [blockstore.Blockstore]:
//
//   - a libp2p host with Noise and TLS security, TCP and QUIC transports
//     and ping; a connection manager and a resource manager with
//     go-libp2p's scaled default limits;
//   - an optional private network: with Config.SwarmKey (see
//     [GenerateSwarmKey]) only nodes holding the same key can connect;
//   - an optional allowlist (Config.AllowPeers) enforced twice: by a
//     connection gater in both directions and by the Bitswap server;
//   - static peering: Config.Peers are kept connected and redialled with
//     exponential backoff; optional mDNS discovery on a LAN;
//   - Bitswap (client and server) without content routing: wants are
//     broadcast to connected peers, which are the only providers.
//
// [Node.Exchange] returns boxo's [exchange.Interface], for a blockservice.
// [Node.Swarm] returns a [Swarm] on the same Bitswap network: it fetches a
// set of blocks (the leaves of a replicated object) by asking chosen
// peers for chosen blocks, each block once, from the holder expected to
// deliver it first.
//
// Usage:
//
//	key, err := exchange.LoadOrCreateIdentity(dataDir)
//	if err != nil { ... }
//	n, err := exchange.New(exchange.Config{
//		Peers:    []string{"/ip4/192.0.2.7/tcp/4001/p2p/12D3KooW..."},
//		SwarmKey: swarmKeyFile,
//		Logger:   logger,
//	}, key, store.Blockstore())
//	if err != nil { ... }
//	defer n.Close()
//	blk, err := n.Exchange().GetBlock(ctx, c)
//
// Metrics (on Config.Registerer) are listed in metrics.go's
// newMetrics; go-libp2p's own metrics are registered there too.
//
// Specifications: [Bitswap], [libp2p private networks], [libp2p connection gating].
//
// [exchange.Interface]: https://pkg.go.dev/github.com/ipfs/boxo/exchange#Interface
// [blockstore.Blockstore]: https://pkg.go.dev/github.com/ipfs/boxo/blockstore#Blockstore
// [Bitswap]: https://specs.ipfs.tech/bitswap-protocol/
// [libp2p private networks]: https://github.com/libp2p/specs/blob/master/pnet/Private-Networks-PSK-V1.md
// [libp2p connection gating]: https://github.com/libp2p/go-libp2p/blob/master/core/connmgr/gater.go
package exchange
