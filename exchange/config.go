package exchange

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by [Config] to zero-valued fields.
const (
	// DefaultListenTCP is the default TCP listen address.
	DefaultListenTCP = "/ip4/0.0.0.0/tcp/4001"
	// DefaultListenQUIC is the default QUIC listen address.
	DefaultListenQUIC = "/ip4/0.0.0.0/udp/4001/quic-v1"

	// DefaultConnMgrLow is the number of connections the connection
	// manager trims down to.
	DefaultConnMgrLow = 64
	// DefaultConnMgrHigh is the number of connections above which the
	// connection manager starts trimming.
	DefaultConnMgrHigh = 128
	// DefaultConnMgrGrace is how long a new connection is exempt from
	// trimming.
	DefaultConnMgrGrace = 20 * time.Second

	// DefaultReconnectMin is the first delay before redialling a static
	// peer that dropped or could not be dialled.
	DefaultReconnectMin = time.Second
	// DefaultReconnectMax caps the doubling delay between redials of a
	// static peer.
	DefaultReconnectMax = time.Minute
	// DefaultDialTimeout bounds one dial attempt to a peer.
	DefaultDialTimeout = 15 * time.Second

	// DefaultMaxOutstandingBytesPerPeer is the Bitswap server's budget of
	// block bytes queued for one peer. It is four times boxo's 1 MiB
	// because office links are few, long and fat: a deeper queue keeps a
	// 20 ms, 100 Mbit/s link busy.
	DefaultMaxOutstandingBytesPerPeer = 4 << 20
	// DefaultEngineBlockstoreWorkerCount is the number of Bitswap server
	// workers reading the blockstore (boxo's default).
	DefaultEngineBlockstoreWorkerCount = 128
	// DefaultEngineTaskWorkerCount is the number of Bitswap decision-engine
	// workers (boxo's default).
	DefaultEngineTaskWorkerCount = 8
	// DefaultTaskWorkerCount is the number of Bitswap workers sending
	// outgoing messages (boxo's default).
	DefaultTaskWorkerCount = 8
	// DefaultProviderSearchDelay is how long a Bitswap session waits for a
	// block before it broadcasts its wants again to every connected peer.
	// There is no content routing (no DHT): connected peers are the only
	// providers, so this is a rebroadcast interval, not a DHT lookup delay.
	DefaultProviderSearchDelay = time.Second
	// DefaultRebroadcastDelay is how often the Bitswap client rebroadcasts
	// a sample of its outstanding wants to all connected peers. It is
	// shorter than boxo's one minute because an office has few peers.
	DefaultRebroadcastDelay = 10 * time.Second
)

// Config configures a [Node]. The zero value is valid: it listens on
// [DefaultListenTCP] and [DefaultListenQUIC], has no static peers, no
// private-network key, accepts every peer and registers no metrics.
type Config struct {
	// ListenAddrs are the multiaddrs the host listens on, for example
	// "/ip4/0.0.0.0/tcp/4001". Empty means [DefaultListenTCP] and
	// [DefaultListenQUIC]. With a SwarmKey only TCP addresses are used
	// (see SwarmKey).
	ListenAddrs []string

	// Peers are the static office peers: full multiaddrs ending in
	// /p2p/<peer ID>. The node keeps a connection to each, redialling with
	// exponential backoff (ReconnectMin doubling up to ReconnectMax, with
	// jitter) when the link drops or the peer restarts. Static peers are
	// protected from connection-manager trimming and are always allowed by
	// AllowPeers. Several entries may name one peer (one per address).
	Peers []string

	// SwarmKey is a libp2p private-network pre-shared key in the
	// "/key/swarm/psk/1.0.0/" file format (see [GenerateSwarmKey]). When
	// set, every connection is encrypted with it, so only nodes holding the
	// same key can connect. go-libp2p supports a private network on TCP
	// only, so non-TCP ListenAddrs (QUIC, ...) are dropped with a warning.
	// Nil means a public network (any libp2p node may connect, subject to
	// AllowPeers).
	SwarmKey []byte

	// AllowPeers, when non-empty, is the list of peers this node talks to
	// (in addition to the static Peers, always allowed). A connection
	// gater refuses every other peer on dial and on accept, and the
	// Bitswap server denies every want from another peer, so a stranger
	// can neither connect, fetch blocks nor make its wants known.
	// Empty means every peer that can connect is served.
	AllowPeers []peer.ID

	// MDNS enables LAN discovery with multicast DNS: nodes on one LAN that
	// share the network (the same SwarmKey, or none) find and connect to
	// each other. The service name is derived from the SwarmKey. Default
	// false.
	MDNS bool

	// ConnMgrLow and ConnMgrHigh are the connection manager's watermarks:
	// above ConnMgrHigh connections, unprotected peers are trimmed down to
	// ConnMgrLow. Zero means [DefaultConnMgrLow] / [DefaultConnMgrHigh].
	ConnMgrLow, ConnMgrHigh int
	// ConnMgrGrace is how long a new connection is exempt from trimming.
	// Zero means [DefaultConnMgrGrace].
	ConnMgrGrace time.Duration

	// ResourceMemoryBytes and ResourceFileDescriptors size the libp2p
	// resource manager, which scales go-libp2p's default limits
	// (rcmgr.DefaultLimits: connections, streams, memory per system,
	// protocol and peer) to these totals. Zero means autoscale: one eighth
	// of system memory and half of the process's file-descriptor limit.
	ResourceMemoryBytes     int64
	ResourceFileDescriptors int

	// ReconnectMin is the first delay before redialling a static peer;
	// each failure doubles it up to ReconnectMax. Actual delays are
	// jittered by ±25%. Zero means [DefaultReconnectMin] and
	// [DefaultReconnectMax].
	ReconnectMin, ReconnectMax time.Duration
	// DialTimeout bounds one dial attempt (static peers, mDNS). Zero means
	// [DefaultDialTimeout].
	DialTimeout time.Duration

	// MaxOutstandingBytesPerPeer is the Bitswap server's queue budget per
	// peer, in bytes. Zero means [DefaultMaxOutstandingBytesPerPeer].
	MaxOutstandingBytesPerPeer int
	// EngineBlockstoreWorkerCount is the number of Bitswap server workers
	// reading the blockstore. Zero means [DefaultEngineBlockstoreWorkerCount].
	EngineBlockstoreWorkerCount int
	// EngineTaskWorkerCount is the number of Bitswap decision-engine
	// workers. Zero means [DefaultEngineTaskWorkerCount].
	EngineTaskWorkerCount int
	// TaskWorkerCount is the number of Bitswap workers sending messages.
	// Zero means [DefaultTaskWorkerCount].
	TaskWorkerCount int
	// ProviderSearchDelay: see [DefaultProviderSearchDelay]. Zero means
	// that default.
	ProviderSearchDelay time.Duration
	// RebroadcastDelay: see [DefaultRebroadcastDelay]. Zero means that
	// default.
	RebroadcastDelay time.Duration

	// Office names this node's office: 1 to 64 letters, digits, '.', '_'
	// or '-'. Nodes announce it to their peers (libp2p identify), and a
	// peer announcing the same office is a LAN peer, every other one a
	// WAN peer: traffic metrics are split by that class. Empty: every peer
	// counts as WAN.
	Office string

	// Logger receives lifecycle and peer events. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the exchange's metrics (see metrics.go) and
	// go-libp2p's own. Nil registers nothing.
	Registerer prometheus.Registerer
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{DefaultListenTCP, DefaultListenQUIC}
	}
	if c.ConnMgrLow == 0 {
		c.ConnMgrLow = DefaultConnMgrLow
	}
	if c.ConnMgrHigh == 0 {
		c.ConnMgrHigh = max(DefaultConnMgrHigh, c.ConnMgrLow)
	}
	if c.ConnMgrGrace == 0 {
		c.ConnMgrGrace = DefaultConnMgrGrace
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(DefaultReconnectMax, c.ReconnectMin)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxOutstandingBytesPerPeer == 0 {
		c.MaxOutstandingBytesPerPeer = DefaultMaxOutstandingBytesPerPeer
	}
	if c.EngineBlockstoreWorkerCount == 0 {
		c.EngineBlockstoreWorkerCount = DefaultEngineBlockstoreWorkerCount
	}
	if c.EngineTaskWorkerCount == 0 {
		c.EngineTaskWorkerCount = DefaultEngineTaskWorkerCount
	}
	if c.TaskWorkerCount == 0 {
		c.TaskWorkerCount = DefaultTaskWorkerCount
	}
	if c.ProviderSearchDelay == 0 {
		c.ProviderSearchDelay = DefaultProviderSearchDelay
	}
	if c.RebroadcastDelay == 0 {
		c.RebroadcastDelay = DefaultRebroadcastDelay
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first invalid field of c, after defaults are
// applied: unparsable multiaddrs, static peers without /p2p/, a malformed
// SwarmKey, invalid peer IDs, or inconsistent limits.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Office != "" && !validOffice(c.Office) {
		return fmt.Errorf("exchange config: office %q: use 1 to %d letters, digits, '.', '_' or '-'", c.Office, maxOfficeLen)
	}
	for _, s := range c.ListenAddrs {
		if _, err := multiaddr.NewMultiaddr(s); err != nil {
			return fmt.Errorf("exchange config: listen address %q: %w", s, err)
		}
	}
	if _, err := parsePeers(c.Peers); err != nil {
		return fmt.Errorf("exchange config: %w", err)
	}
	if c.SwarmKey != nil {
		if err := ParseSwarmKey(c.SwarmKey); err != nil {
			return fmt.Errorf("exchange config: %w", err)
		}
	}
	for _, p := range c.AllowPeers {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("exchange config: allowed peer %q: %w", p, err)
		}
	}
	var errs []error
	if c.ConnMgrLow < 0 || c.ConnMgrHigh < c.ConnMgrLow {
		errs = append(errs, fmt.Errorf("connection manager watermarks low=%d high=%d: want 0 <= low <= high", c.ConnMgrLow, c.ConnMgrHigh))
	}
	if c.ConnMgrGrace < 0 || c.DialTimeout < 0 || c.ProviderSearchDelay < 0 || c.RebroadcastDelay < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.ReconnectMin < 0 || c.ReconnectMax < c.ReconnectMin {
		errs = append(errs, fmt.Errorf("reconnect backoff min=%s max=%s: want 0 <= min <= max", c.ReconnectMin, c.ReconnectMax))
	}
	if c.ResourceMemoryBytes < 0 || c.ResourceFileDescriptors < 0 {
		errs = append(errs, errors.New("resource limits must not be negative"))
	}
	if c.MaxOutstandingBytesPerPeer < 0 || c.EngineBlockstoreWorkerCount < 0 || c.EngineTaskWorkerCount < 0 || c.TaskWorkerCount < 0 {
		errs = append(errs, errors.New("bitswap limits must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("exchange config: %w", errors.Join(errs...))
	}
	return nil
}

// parsePeers groups static peer multiaddrs by peer ID. Each must end in
// /p2p/<peer ID>.
func parsePeers(addrs []string) ([]peer.AddrInfo, error) {
	var infos []peer.AddrInfo
	index := map[peer.ID]int{}
	for _, s := range addrs {
		m, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("peer address %q: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, fmt.Errorf("peer address %q (want a multiaddr ending in /p2p/<peer ID>): %w", s, err)
		}
		if i, ok := index[ai.ID]; ok {
			infos[i].Addrs = append(infos[i].Addrs, ai.Addrs...)
			continue
		}
		index[ai.ID] = len(infos)
		infos = append(infos, *ai)
	}
	return infos, nil
}
