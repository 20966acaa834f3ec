package exchange

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/tracer"
	"github.com/ipfs/boxo/blockstore"
	boxoexchange "github.com/ipfs/boxo/exchange"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
)

// Node is one office's libp2p host with Bitswap (client and server) over
// it, static peering and optional mDNS discovery. Its methods are safe for
// concurrent use. Close releases everything New started.
type Node struct {
	cfg  Config
	log  *slog.Logger
	host host.Host
	bw   *metrics.BandwidthCounter
	// traffic counts Bitswap traffic by source class.
	traffic *trafficTracer
	bs      *bitswap.Bitswap
	swarm   *Swarm
	peers   *peering
	mdns    *mdnsDiscovery
	notify  *network.NotifyBundle
	static  map[peer.ID]bool
	m       *exchangeMetrics // nil without a Registerer

	cancel context.CancelFunc // cancels the lifetime context given to bitswap

	closeOnce sync.Once
	closeErr  error
}

// PeerInfo describes one peer, for `s3mesh peers` and status pages.
type PeerInfo struct {
	// ID is the peer's ID.
	ID peer.ID
	// Addrs are the remote addresses of open connections when connected,
	// otherwise the known addresses of a static peer.
	Addrs []string
	// RTT is the smoothed round-trip time from pings (zero when never
	// measured).
	RTT time.Duration
	// Connected reports whether at least one connection is open.
	Connected bool
	// Static reports whether the peer is one of Config.Peers.
	Static bool
	// Office is the office the peer announced ("" when none, or before
	// identify completed) and Class its source class (ClassLAN or
	// ClassWAN; see Config.Office).
	Office, Class string
}

// New starts a node with identity key, serving peers the blocks in bs. It listens on cfg.ListenAddrs and starts dialling
// cfg.Peers in the background; New does not wait for any peer. Blocks are
// found by asking connected peers only (Bitswap broadcast): there is no
// content routing.
func New(cfg Config, key crypto.PrivKey, bs blockstore.Blockstore) (*Node, error) {
	return newNode(cfg, key, bs, nodeOptions{})
}

// nodeOptions are test seams, not configuration.
type nodeOptions struct {
	// noGater skips the connection gater while keeping the Bitswap
	// allowlist, to test the latter on its own.
	noGater bool
	// serverTracer sees each message after the Bitswap server processed it.
	serverTracer tracer.Tracer
}

func newNode(cfg Config, key crypto.PrivKey, bs blockstore.Blockstore, opts nodeOptions) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if key == nil || bs == nil {
		return nil, errors.New("exchange: new: nil key or blockstore")
	}
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, static: map[peer.ID]bool{}}
	n.traffic = &trafficTracer{class: n.PeerClass}
	if cfg.Registerer != nil {
		n.m = newMetrics(n)
	}

	statics, _ := parsePeers(cfg.Peers) // validated above
	for _, ai := range statics {
		n.static[ai.ID] = true
	}
	allow := allowSet(cfg.AllowPeers, statics)

	h, bw, err := n.newHost(key, allow, opts)
	if err != nil {
		return nil, err
	}
	n.host, n.bw = h, bw

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.bs, n.swarm = newBitswap(ctx, cfg, h, bs, allow, n.traffic, opts.serverTracer)

	if n.m != nil {
		if err := n.m.register(cfg.Registerer); err != nil {
			n.Close()
			return nil, err
		}
	}

	n.peers = newPeering(h, statics, cfg, n.log)
	n.notify = &network.NotifyBundle{
		ConnectedF:    n.connected,
		DisconnectedF: n.disconnected,
	}
	h.Network().Notify(n.notify)
	n.peers.start()
	if cfg.MDNS {
		n.mdns, err = startMDNS(h, cfg, n.log)
		if err != nil {
			n.Close()
			return nil, err
		}
	}
	n.log.Info("p2p node started", "peer", h.ID().String(), "addrs", fmt.Sprint(n.Addrs()),
		"static_peers", len(statics), "private_network", cfg.SwarmKey != nil,
		"allowlist", len(cfg.AllowPeers), "mdns", cfg.MDNS)
	return n, nil
}

// newHost builds the libp2p host: Noise and TLS security, TCP and QUIC
// transports (TCP only on a private network), ping, the connection gater,
// manager and resource manager.
func (n *Node) newHost(key crypto.PrivKey, allow map[peer.ID]bool, opts nodeOptions) (host.Host, *metrics.BandwidthCounter, error) {
	cfg := n.cfg
	listen := cfg.ListenAddrs
	var psk pnet.PSK
	if cfg.SwarmKey != nil {
		var err error
		if psk, err = decodeSwarmKey(cfg.SwarmKey); err != nil {
			return nil, nil, fmt.Errorf("exchange: new: %w", err)
		}
		var dropped []string
		listen, dropped = tcpOnly(listen)
		if len(dropped) > 0 {
			n.log.Warn("private network supports TCP only: not listening on non-TCP addresses", "dropped", fmt.Sprint(dropped))
		}
		if len(listen) == 0 {
			return nil, nil, errors.New("exchange: new: a private network needs at least one TCP listen address")
		}
	}

	cm, err := connmgr.NewConnManager(cfg.ConnMgrLow, cfg.ConnMgrHigh, connmgr.WithGracePeriod(cfg.ConnMgrGrace))
	if err != nil {
		return nil, nil, fmt.Errorf("exchange: connection manager: %w", err)
	}
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	var concrete rcmgr.ConcreteLimitConfig
	if cfg.ResourceMemoryBytes == 0 && cfg.ResourceFileDescriptors == 0 {
		concrete = limits.AutoScale()
	} else {
		auto := limits.AutoScale()
		mem, fd := cfg.ResourceMemoryBytes, cfg.ResourceFileDescriptors
		if mem == 0 {
			mem = auto.ToPartialLimitConfig().System.Memory.Build(0)
		}
		if fd == 0 {
			fd = auto.ToPartialLimitConfig().System.FD.Build(0)
		}
		concrete = limits.Scale(mem, fd)
	}
	var rcOpts []rcmgr.Option
	if cfg.Registerer == nil {
		rcOpts = append(rcOpts, rcmgr.WithMetricsDisabled())
	} else {
		rcmgr.MustRegisterWith(cfg.Registerer)
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), rcOpts...)
	if err != nil {
		cm.Close()
		return nil, nil, fmt.Errorf("exchange: resource manager: %w", err)
	}

	bw := metrics.NewBandwidthCounter()
	lopts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.DefaultMuxers,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.BandwidthReporter(bw),
		libp2p.Ping(true),
		libp2p.DisableRelay(),
		libp2p.UserAgent(agentVersion(n.cfg.Office)),
	}
	if psk != nil {
		lopts = append(lopts, libp2p.PrivateNetwork(psk))
	} else {
		lopts = append(lopts, libp2p.Transport(quic.NewTransport))
	}
	if len(allow) > 0 && !opts.noGater {
		lopts = append(lopts, libp2p.ConnectionGater(allowGater(allow)))
	}
	if cfg.Registerer != nil {
		lopts = append(lopts, libp2p.PrometheusRegisterer(cfg.Registerer))
	} else {
		lopts = append(lopts, libp2p.DisableMetrics())
	}
	h, err := libp2p.New(lopts...)
	if err != nil {
		// libp2p.New closes what it built on failure, except options'
		// own resources.
		cm.Close()
		rm.Close()
		return nil, nil, fmt.Errorf("exchange: new host: %w", err)
	}
	return h, bw, nil
}

// tcpOnly splits addrs into plain TCP addresses (ip4/ip6/dns + tcp) and the
// rest.
func tcpOnly(addrs []string) (keep, dropped []string) {
	for _, s := range addrs {
		m, err := multiaddr.NewMultiaddr(s)
		if err == nil && isPlainTCP(m) {
			keep = append(keep, s)
		} else {
			dropped = append(dropped, s)
		}
	}
	return keep, dropped
}

func isPlainTCP(m multiaddr.Multiaddr) bool {
	if len(m) != 2 {
		return false
	}
	switch m[0].Protocol().Code {
	case multiaddr.P_IP4, multiaddr.P_IP6, multiaddr.P_DNS, multiaddr.P_DNS4, multiaddr.P_DNS6:
	default:
		return false
	}
	return m[1].Protocol().Code == multiaddr.P_TCP
}

// allowSet returns the allowed peers (AllowPeers plus static peers), or nil
// when AllowPeers is empty (every peer allowed).
func allowSet(allowPeers []peer.ID, statics []peer.AddrInfo) map[peer.ID]bool {
	if len(allowPeers) == 0 {
		return nil
	}
	allow := map[peer.ID]bool{}
	for _, p := range allowPeers {
		allow[p] = true
	}
	for _, ai := range statics {
		allow[ai.ID] = true
	}
	return allow
}

// allowGater refuses connections with peers outside its set, in both
// directions. Inbound connections are checked once the peer is
// authenticated (InterceptSecured), before any protocol runs.
type allowGater map[peer.ID]bool

func (g allowGater) InterceptPeerDial(p peer.ID) bool                        { return g[p] }
func (g allowGater) InterceptAddrDial(p peer.ID, _ multiaddr.Multiaddr) bool { return g[p] }
func (g allowGater) InterceptAccept(network.ConnMultiaddrs) bool             { return true }
func (g allowGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g[p]
}

func (g allowGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

func (n *Node) connected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	n.log.Debug("p2p connection opened", "peer", p.String(), "addr", c.RemoteMultiaddr().String(), "dir", c.Stat().Direction.String())
	if n.m != nil {
		n.m.connEvents.WithLabelValues("connected").Inc()
	}
	if len(n.host.Network().ConnsToPeer(p)) == 1 {
		n.log.Info("peer connected", "peer", p.String(), "static", n.static[p])
	}
}

func (n *Node) disconnected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	if n.m != nil {
		n.m.connEvents.WithLabelValues("disconnected").Inc()
	}
	if n.host.Network().Connectedness(p) != network.Connected {
		n.log.Info("peer disconnected", "peer", p.String(), "static", n.static[p])
		n.peers.kick(p)
	}
}

// Exchange returns the Bitswap exchange, for a blockservice. GetBlock asks
// every connected peer and returns when a peer sends the block (whose hash
// Bitswap verifies against the CID: a block's CID is recomputed from the
// received bytes, so wrong bytes never match a want) or when ctx ends.
// The exchange does not store fetched blocks: its caller (a blockservice)
// does. It reads the blockstore given to New to serve peers.
func (n *Node) Exchange() boxoexchange.Interface { return n.bs }

// Swarm returns the node's fetcher of block sets, which asks chosen peers
// for chosen blocks over the same Bitswap network (see Swarm).
func (n *Node) Swarm() *Swarm { return n.swarm }

// Host returns the libp2p host, for protocols beyond Bitswap (pubsub).
func (n *Node) Host() host.Host { return n.host }

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs returns the node's listen addresses as full multiaddrs ending in
// /p2p/<ID>, suitable for another office's Config.Peers.
func (n *Node) Addrs() []multiaddr.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// Connect dials addr, a full multiaddr ending in /p2p/<peer ID>, and
// returns once connected or when the dial fails (refused by the gater, a
// different private network, unreachable) or ctx ends. The peer is not
// redialled if the connection drops: use Config.Peers for that.
func (n *Node) Connect(ctx context.Context, addr string) error {
	m, err := multiaddr.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("connect %q: %w", addr, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return fmt.Errorf("connect %q: %w", addr, err)
	}
	if err := n.host.Connect(ctx, *ai); err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	return nil
}

// Ping measures one round trip to a connected (or dialable) peer and
// records it in the peerstore, from which [Node.Peers] reports RTT.
func (n *Node) Ping(ctx context.Context, p peer.ID) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	select {
	case res, ok := <-ping.Ping(ctx, n.host, p):
		if !ok {
			return 0, fmt.Errorf("ping %s: %w", p, ctx.Err())
		}
		if res.Error != nil {
			return 0, fmt.Errorf("ping %s: %w", p, res.Error)
		}
		return res.RTT, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("ping %s: %w", p, ctx.Err())
	}
}

// Peers lists connected peers and static peers (connected or not), sorted
// by ID.
func (n *Node) Peers() []PeerInfo {
	nw := n.host.Network()
	ps := n.host.Peerstore()
	seen := map[peer.ID]bool{}
	var out []PeerInfo
	add := func(p peer.ID) {
		if seen[p] {
			return
		}
		seen[p] = true
		info := PeerInfo{ID: p, RTT: ps.LatencyEWMA(p), Static: n.static[p], Office: n.PeerOffice(p), Class: n.PeerClass(p)}
		if conns := nw.ConnsToPeer(p); len(conns) > 0 {
			info.Connected = true
			for _, c := range conns {
				info.Addrs = append(info.Addrs, c.RemoteMultiaddr().String())
			}
		} else {
			for _, a := range ps.Addrs(p) {
				info.Addrs = append(info.Addrs, a.String())
			}
		}
		out = append(out, info)
	}
	for _, p := range nw.Peers() {
		add(p)
	}
	for p := range n.static {
		add(p)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Close stops Bitswap, peering, mDNS and the host, in that order, and
// waits for their goroutines. It is idempotent: later calls return the
// first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.swarm != nil {
			n.swarm.Close()
		}
		if n.bs != nil {
			errs = append(errs, n.bs.Close())
		}
		if n.cancel != nil {
			n.cancel()
		}
		if n.peers != nil {
			n.peers.close()
		}
		if n.mdns != nil {
			errs = append(errs, n.mdns.close())
		}
		if n.host != nil {
			if n.notify != nil {
				n.host.Network().StopNotify(n.notify)
			}
			errs = append(errs, n.host.Close())
		}
		if err := errors.Join(errs...); err != nil {
			n.closeErr = fmt.Errorf("exchange: close: %w", err)
		}
		n.log.Info("p2p node stopped")
	})
	return n.closeErr
}

// clearDialBackoff forgets the swarm's dial backoff for p, so that our own
// (shorter, bounded) reconnect schedule decides when to redial.
func clearDialBackoff(h host.Host, p peer.ID) {
	if sw, ok := h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
}
