package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	boxopeering "github.com/ipfs/boxo/peering"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// peeringTag protects static peers in the connection manager. It is boxo's
// peering tag, which Bitswap's broadcast control recognises as "peered".
const peeringTag = boxopeering.ConnmgrTag

// connectedCheckInterval is how often a static peer's loop rechecks a
// connection it believes open, in case a disconnect notification was
// missed.
const connectedCheckInterval = 30 * time.Second

// peering keeps static peers connected: one goroutine per peer dials it
// when it is not connected, backing off exponentially between failures.
type peering struct {
	h     host.Host
	log   *slog.Logger
	cfg   Config
	peers map[peer.ID]*staticPeer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type staticPeer struct {
	info peer.AddrInfo
	// wake is signalled (without blocking) when the peer disconnects.
	wake chan struct{}
}

func newPeering(h host.Host, statics []peer.AddrInfo, cfg Config, log *slog.Logger) *peering {
	ctx, cancel := context.WithCancel(context.Background())
	pr := &peering{h: h, log: log, cfg: cfg, peers: map[peer.ID]*staticPeer{}, ctx: ctx, cancel: cancel}
	for _, ai := range statics {
		if ai.ID == h.ID() {
			continue
		}
		pr.peers[ai.ID] = &staticPeer{info: ai, wake: make(chan struct{}, 1)}
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
		h.ConnManager().Protect(ai.ID, peeringTag)
	}
	return pr
}

// start launches one reconnect loop per static peer.
func (pr *peering) start() {
	for _, sp := range pr.peers {
		pr.wg.Add(1)
		go func() {
			defer pr.wg.Done()
			pr.run(sp)
		}()
	}
}

// kick wakes p's loop after a disconnect; it never blocks.
func (pr *peering) kick(p peer.ID) {
	if sp, ok := pr.peers[p]; ok {
		select {
		case sp.wake <- struct{}{}:
		default:
		}
	}
}

// close stops the loops and waits for them.
func (pr *peering) close() {
	pr.cancel()
	pr.wg.Wait()
	for p := range pr.peers {
		pr.h.ConnManager().Unprotect(p, peeringTag)
	}
}

// run keeps sp connected until pr is closed.
func (pr *peering) run(sp *staticPeer) {
	p := sp.info.ID
	backoff := pr.cfg.ReconnectMin
	for {
		if pr.h.Network().Connectedness(p) == network.Connected {
			backoff = pr.cfg.ReconnectMin
			select {
			case <-pr.ctx.Done():
				return
			case <-sp.wake:
			case <-time.After(connectedCheckInterval):
			}
			if pr.h.Network().Connectedness(p) == network.Connected {
				continue
			}
			// Just dropped: wait a little so that both ends do not redial
			// each other at the same instant.
			if !pr.sleep(jitter(pr.cfg.ReconnectMin)) {
				return
			}
			continue
		}

		err := pr.dial(sp.info)
		if err == nil {
			pr.log.Debug("static peer dialled", "peer", p.String())
			continue
		}
		if pr.ctx.Err() != nil {
			return
		}
		wait := jitter(backoff)
		pr.log.Debug("static peer unreachable", "peer", p.String(), "err", err, "retry_in", wait)
		select {
		case <-pr.ctx.Done():
			return
		case <-sp.wake:
		case <-time.After(wait):
		}
		backoff = min(2*backoff, pr.cfg.ReconnectMax)
	}
}

// dial connects to ai once, bypassing the swarm's own (longer) dial
// backoff: this loop has its own.
func (pr *peering) dial(ai peer.AddrInfo) error {
	clearDialBackoff(pr.h, ai.ID)
	ctx, cancel := context.WithTimeout(pr.ctx, pr.cfg.DialTimeout)
	defer cancel()
	return pr.h.Connect(ctx, ai)
}

// sleep waits d or until pr is closed; it reports whether pr is still open.
func (pr *peering) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-pr.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter returns d ± 25%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d*3/4 + rand.N(d/2+1)
}

// mdnsDiscovery connects to peers found by multicast DNS on the LAN.
type mdnsDiscovery struct {
	h       host.Host
	log     *slog.Logger
	timeout time.Duration
	svc     mdns.Service

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	dialing map[peer.ID]bool
}

// mdnsServiceName names the mDNS service of a network: nodes with
// different swarm keys (or none) advertise different names and so do not
// even try to dial each other. DNS-SD service names are at most 15
// characters.
func mdnsServiceName(swarmKey []byte) string {
	if swarmKey == nil {
		return "_s3mesh._udp"
	}
	sum := sha256.Sum256(swarmKey)
	return "_s3mesh-" + hex.EncodeToString(sum[:3]) + "._udp"
}

func startMDNS(h host.Host, cfg Config, log *slog.Logger) (*mdnsDiscovery, error) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &mdnsDiscovery{h: h, log: log, timeout: cfg.DialTimeout, ctx: ctx, cancel: cancel, dialing: map[peer.ID]bool{}}
	d.svc = mdns.NewMdnsService(h, mdnsServiceName(cfg.SwarmKey), d)
	if err := d.svc.Start(); err != nil {
		cancel()
		return nil, err
	}
	log.Info("mdns discovery started", "service", mdnsServiceName(cfg.SwarmKey))
	return d, nil
}

// HandlePeerFound implements mdns.Notifee: it dials the peer in the
// background unless already connected or being dialled.
func (d *mdnsDiscovery) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == d.h.ID() || d.h.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	d.mu.Lock()
	if d.dialing[ai.ID] || d.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	d.dialing[ai.ID] = true
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.dialing, ai.ID)
			d.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
		defer cancel()
		if err := d.h.Connect(ctx, ai); err != nil {
			d.log.Debug("mdns peer unreachable", "peer", ai.ID.String(), "err", err)
			return
		}
		d.log.Info("mdns peer connected", "peer", ai.ID.String())
	}()
}

func (d *mdnsDiscovery) close() error {
	err := d.svc.Close()
	d.mu.Lock()
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
	return err
}
