package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api"
)

// Defaults for Config.
const (
	// DefaultVersion is the version /admin/v1/status reports when
	// Config.Version is empty.
	DefaultVersion = "devel"
	// DefaultIPFSGateway is the IPFS gateway's mode when Config.IPFSGateway
	// is empty.
	DefaultIPFSGateway = IPFSGatewayOff
)

// Config configures a Server. Its zero value is valid: no status page, the
// IPFS gateway off, /metrics left to S3.
type Config struct {
	// Credentials are the node's root key pair. The status page is served
	// only with them: its session cookies are keyed by a key derived from
	// the secret key. Zero: no status page (its paths are S3's).
	Credentials s3api.Credentials
	// Version is reported by the status. Default DefaultVersion.
	Version string
	// Endpoint is the S3 endpoint URL the status reports. Default none.
	Endpoint string
	// DataDir is the node's data directory, reported by the status with
	// the free space of its file system. Default none (no disk figures).
	DataDir string
	// IPFSGateway is the IPFS gateway's mode: IPFSGatewayOff (its paths
	// answer NotImplemented), IPFSGatewayAuth (root credentials) or
	// IPFSGatewayOpen (anyone). Default DefaultIPFSGateway.
	IPFSGateway string
	// RetrievalTimeout is how long the IPFS gateway waits between writes
	// of an answer (a block no peer provides) before it ends the request
	// with 504. Zero means boxo's default.
	RetrievalTimeout time.Duration
	// Metrics, when not nil, serves unsigned GET and HEAD of /metrics.
	Metrics http.Handler
	// Ready reports whether the node serves S3, for /health/ready. nil
	// means always.
	Ready func() bool
	// Registerer receives the IPFS gateway's metrics (boxo's
	// ipfs_http_gw_*). nil registers none.
	Registerer prometheus.Registerer
	// Clock returns the current time. nil means time.Now.
	Clock func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.IPFSGateway == "" {
		c.IPFSGateway = DefaultIPFSGateway
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch c.IPFSGateway {
	case "", IPFSGatewayOff, IPFSGatewayAuth, IPFSGatewayOpen:
	default:
		return fmt.Errorf("admin config: IPFS gateway mode %q: want %s, %s or %s", c.IPFSGateway, IPFSGatewayOff, IPFSGatewayAuth, IPFSGatewayOpen)
	}
	if (c.Credentials.AccessKey == "") != (c.Credentials.SecretKey == "") {
		return errors.New("admin config: credentials: set both the access key and the secret key, or neither")
	}
	if c.RetrievalTimeout < 0 {
		return fmt.Errorf("admin config: retrieval timeout %s is negative", c.RetrievalTimeout)
	}
	return nil
}

// P2P is what the admin edge reads from the libp2p node; *exchange.Node
// implements it. Its methods MUST be safe for concurrent use.
type P2P interface {
	ID() peer.ID
	Addrs() []multiaddr.Multiaddr
	Peers() []exchange.PeerInfo
	Ping(ctx context.Context, p peer.ID) (time.Duration, error)
	PeerTraffic() map[peer.ID]exchange.Traffic
}

// Blocks is what the status reads from the block store;
// *blockstore.Store implements it.
type Blocks interface {
	Stats() blockstore.Stats
}

// Server is the admin edge of a node: the admin API, the status page, the
// IPFS gateway and the probes (/metrics, /health/*). It serves nothing by
// itself: Mount returns the s3api.Mount that puts it on the S3 listener.
// Close stops the history sampler New starts.
type Server struct {
	cfg   Config
	api   *api
	ui    *uiServer // nil: no status page
	ipfs  http.Handler
	ready func() bool
}

// api serves the admin API's endpoints. A nil collaborator makes the
// endpoints that need it answer NotImplemented, so tests set only what they
// exercise.
type api struct {
	p2p         P2P
	blocks      Blocks
	namespace   func(context.Context) gateway.NamespaceStatus
	usage       func() gateway.BlockUsage  // nil: no usage in the status
	cache       func() gateway.CacheStatus // nil: no cache in the status
	started     time.Time
	now         func() time.Time
	version     string
	dataDir     string
	endpoint    string // the S3 endpoint URL
	ipfsGateway string // off, auth or open

	// buckets and history feed BucketsPath and HistoryPath.
	buckets *bucketStats
	history *history
	// maint runs GCPath and FsckPath (see maintenance.go).
	maint maintainer
	// repl serves ReplicationPath and BucketReplicatePath (see
	// replication.go).
	repl replication
	// chunkers serves ChunkerPath (see chunker.go).
	chunkers bucketChunkers
}

// New returns the admin edge of node, whose peers p2p and block store
// blocks are; it starts sampling the history (stopped by Close).
func New(cfg Config, node *gateway.Node, p2p P2P, blocks Blocks) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if node == nil || p2p == nil || blocks == nil {
		return nil, errors.New("admin: node, p2p and blocks are required")
	}
	a := &api{
		p2p: p2p, blocks: blocks, namespace: node.NamespaceStatus, usage: node.BlockUsage, cache: node.CacheStatus,
		started: cfg.Clock(), now: cfg.Clock, version: cfg.Version, dataDir: cfg.DataDir, endpoint: cfg.Endpoint,
		ipfsGateway: cfg.IPFSGateway,
		buckets:     newBucketStats(node.Namespace()),
		history:     newHistory(p2p, blocks, cfg.DataDir),
		maint:       node, repl: node, chunkers: node,
	}
	s := &Server{cfg: cfg, api: a, ready: cfg.Ready}
	if cfg.Credentials.AccessKey != "" {
		u, err := newUIServer(cfg.Credentials.AccessKey, string(cfg.Credentials.SecretKey))
		if err != nil {
			return nil, fmt.Errorf("admin: status page: %w", err)
		}
		u.now = cfg.Clock
		s.ui = u
	}
	if cfg.IPFSGateway != IPFSGatewayOff {
		h, err := newIPFSGateway(node.BlockService(), cfg.RetrievalTimeout, cfg.Registerer)
		if err != nil {
			return nil, err
		}
		s.ipfs = h
	}
	a.history.start()
	return s, nil
}

// Close stops the history sampler and waits for it. It is idempotent.
func (s *Server) Close() error {
	if s.api.history != nil {
		return s.api.history.Close()
	}
	return nil
}
