package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api"
)

// runServe runs a node until ctx is done, then shuts it down in order:
// HTTP (bounded by ShutdownTimeout), then the storage.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("serve", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	logger.Info("starting", "version", version(), "config", cfg)

	if err := prepareDataDir(cfg.Data); err != nil {
		return err
	}
	creds, source, err := loadCredentials(cfg.Data, getenv)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	blocks, err := blockstore.Open(blockstore.Config{
		Path:       filepath.Join(cfg.Data, "blocks"),
		Backend:    cfg.Blockstore,
		Logger:     logger.With("component", "blockstore"),
		Registerer: reg,
	})
	if err != nil {
		return fmt.Errorf("open block store in %s: %w", cfg.Data, err)
	}
	defer closeLogged(logger, "block store", blocks.Close)

	p2p, nsNet, err := startExchange(cfg, logger, reg, blocks)
	if err != nil {
		return err
	}
	defer closeLogged(logger, "exchange", p2p.Close)

	// GossipSub carries the namespace's heads. It lives until its context
	// is cancelled: after the storage (the namespace) is closed, before
	// the exchange (deferred calls run in reverse).
	psCtx, psCancel := context.WithCancel(context.Background())
	defer psCancel()
	ps, err := pubsub.NewGossipSub(psCtx, p2p.Host())
	if err != nil {
		return fmt.Errorf("start pubsub: %w", err)
	}

	node, err := gateway.New(gateway.Config{
		DataDir:           cfg.Data,
		ChunkSize:         cfg.ChunkSize,
		Chunker:           cfg.Chunker,
		Blockstore:        blocks,
		Exchange:          p2p.Exchange(),
		Swarm:             p2p.Swarm(),
		FetchTimeout:      cfg.FetchTimeout,
		FetchWindow:       cfg.FetchWindow,
		MultipartMaxAge:   cfg.MultipartMaxAge,
		ReplicatedBuckets: cfg.ReplicatedBuckets,
		PubSub:            ps,
		NodeID:            p2p.ID().String(),
		Network:           nsNet.name,
		AllowPeer:         nsNet.allow,
		Logger:            logger.With("component", "gateway"),
		Registerer:        reg,
	})
	if err != nil {
		return fmt.Errorf("open storage in %s: %w", cfg.Data, err)
	}
	defer closeLogged(logger, "storage", node.Close)

	store, err := s3api.NewStoreWithMetrics(node, reg)
	if err != nil {
		return fmt.Errorf("store metrics: %w", err)
	}
	s3h, err := s3api.New(s3api.Config{
		Credentials:     s3api.Credentials{AccessKey: creds.AccessKey, SecretKey: creds.SecretKey},
		Region:          cfg.Region,
		Domains:         cfg.Domains,
		Logger:          logger.With("component", "s3api"),
		Registerer:      reg,
		BodyIdleTimeout: cfg.BodyIdleTimeout,
		RequestTimeout:  cfg.RequestTimeout,
		MaxRequests:     cfg.MaxRequests,
		MaxHeaderBytes:  cfg.MaxHeaderBytes,
	}, store)
	if err != nil {
		return fmt.Errorf("s3 api: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is in use (another s3mesh or server runs there); choose another with --listen", cfg.Listen)
		}
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var ipfs http.Handler
	if cfg.IPFSGateway != ipfsGatewayOff {
		if ipfs, err = newIPFSGateway(blocks, p2p.Exchange(), cfg.FetchTimeout, reg); err != nil {
			ln.Close()
			return err
		}
	}
	endpoint := "http://" + ln.Addr().String()
	admin := &adminAPI{p2p: p2p, blocks: blocks.Stats, namespace: node.NamespaceStatus, usage: node.BlockUsage, started: time.Now(), dataDir: cfg.Data, endpoint: endpoint, ipfsGateway: cfg.IPFSGateway}
	admin.buckets = newBucketStats(node.Namespace())
	admin.maint = node
	admin.repl = node
	admin.chunkers = node
	admin.history = newHistory(p2p, blocks.Stats, cfg.Data)
	admin.history.start()
	defer admin.history.Close()
	ui, err := newUIServer(creds.AccessKey, string(creds.SecretKey), s3h.Authenticate)
	if err != nil {
		ln.Close()
		return fmt.Errorf("status page: %w", err)
	}
	var ready atomic.Bool
	srv, err := s3api.NewServer(s3api.ServerConfig{
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		WriteIdleTimeout:  cfg.WriteIdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		MaxConns:          cfg.MaxConns,
		Logger:            logger,
	}, rootHandler(root{s3: s3h, reg: reg, ready: &ready, admin: admin, ipfs: ipfs, ipfsMode: cfg.IPFSGateway, ui: ui}))
	if err != nil {
		ln.Close()
		return fmt.Errorf("http server: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	ready.Store(true)

	logger.Info("serving S3", "endpoint", endpoint, "data", cfg.Data)
	// The banner is written in one piece, so a reader that sees its first
	// line sees all of it.
	var banner bytes.Buffer
	fmt.Fprintf(&banner, "s3mesh %s: S3 endpoint %s (data in %s)\n", version(), endpoint, cfg.Data)
	fmt.Fprintf(&banner, "Peer ID %s; other offices add one of:\n", p2p.ID())
	for _, a := range p2p.Addrs() {
		fmt.Fprintf(&banner, "  --peer %s\n", a)
	}
	switch source {
	case generated:
		fmt.Fprintf(&banner, "Generated root credentials, saved in %s/%s and shown only now:\n", cfg.Data, credentialsFile)
		fmt.Fprintf(&banner, "  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n", creds.AccessKey, string(creds.SecretKey))
	case fromFile:
		fmt.Fprintf(&banner, "Root access key %s (secret in %s/%s)\n", creds.AccessKey, cfg.Data, credentialsFile)
	case fromEnv:
		fmt.Fprintf(&banner, "Root access key %s (from S3MESH_ACCESS_KEY)\n", creds.AccessKey)
	}

	stdout.Write(banner.Bytes())

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	ready.Store(false)
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("in-flight requests aborted at shutdown", "err", err)
		srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// root is what rootHandler serves beside the S3 API.
type root struct {
	s3       *s3api.Handler
	reg      *prometheus.Registry
	ready    *atomic.Bool
	admin    http.Handler // the admin API, served to requests signed with the root credentials
	ipfs     http.Handler // the IPFS gateway; nil when ipfsMode is off
	ipfsMode string       // off, auth or open
	ui       *uiServer    // the status page; nil serves none
}

// rootHandler routes requests on the S3 listener, in order:
//
//   - unsigned GET/HEAD of /metrics and /health/*: served as such; a signed
//     request for the same path (a bucket called "metrics" or "health")
//     still reaches S3;
//   - CreateBucket of a reserved name ("admin", "ipfs", "ui"): InvalidBucketName
//     (after authentication), so the paths below never shadow a bucket;
//   - path-style requests under /admin/v1/: the admin API, after
//     authentication with the root credentials (JSON errors), or for a
//     GET/HEAD the status page's session cookie;
//   - path-style requests under /ui/ (and an unsigned GET of /ui): the
//     status page, which authenticates them itself (see ui.go);
//   - path-style requests under /ipfs/{cid}: the IPFS gateway,
//     authenticated in "auth" mode, anyone in "open" mode, 501
//     NotImplemented when off;
//   - everything else, and every virtual-hosted-style request: S3.
func rootHandler(rt root) http.Handler {
	metrics := promhttp.HandlerFor(rt.reg, promhttp.HandlerOpts{Registry: rt.reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !signed(r) {
			switch r.URL.Path {
			case "/metrics":
				metrics.ServeHTTP(w, r)
				return
			case "/health/live":
				w.WriteHeader(http.StatusOK)
				return
			case "/health/ready":
				if !rt.ready.Load() {
					http.Error(w, "not ready", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, "ready\n")
				return
			}
		}
		target := rt.s3.Resolve(r)
		switch {
		case target.Op == s3api.OpCreateBucket && reservedBuckets[target.Bucket] != "":
			if err := rt.s3.Authenticate(r); err != nil {
				rt.s3.WriteError(w, r, err)
				return
			}
			rt.s3.WriteError(w, r, errReservedBucket(target.Bucket))
			return
		case !target.VirtualHost && isAdminPath(r.URL.Path):
			if err := rt.ui.sessionOr(rt.s3.Authenticate, r); err != nil {
				writeAdminError(w, r, err)
				return
			}
			rt.admin.ServeHTTP(w, r)
			return
		case rt.ui != nil && !target.VirtualHost && isUIPath(r):
			rt.ui.ServeHTTP(w, r)
			return
		case !target.VirtualHost && isIPFSPath(r.URL.Path):
			if rt.ipfs == nil {
				rt.s3.WriteError(w, r, errIPFSGatewayOff)
				return
			}
			if rt.ipfsMode != ipfsGatewayOpen {
				if err := rt.s3.Authenticate(r); err != nil {
					rt.s3.WriteError(w, r, err)
					return
				}
			}
			rt.ipfs.ServeHTTP(w, r)
			return
		}
		rt.s3.ServeHTTP(w, r)
	})
}

// signed reports whether r carries S3 credentials, in a header or a
// presigned query.
func signed(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	q := r.URL.RawQuery
	return q != "" && (r.URL.Query().Has("X-Amz-Signature") || r.URL.Query().Has("Signature"))
}

// namespaceNet is what the namespace needs to know of the p2p network: its
// name (which names the pubsub topic) and who may send updates.
type namespaceNet struct {
	name  string
	allow func(peer.ID) bool // nil: every peer
}

// namespaceNetwork names the namespace of the network a swarm key defines:
// gateway.DefaultNetwork on an open network; on a private one, a name
// derived from the key (a hash: the key itself is secret), so separate
// networks never share a pubsub topic even if their nodes meet.
func namespaceNetwork(swarmKey []byte) (string, error) {
	if swarmKey == nil {
		return gateway.DefaultNetwork, nil
	}
	psk, err := pnet.DecodeV1PSK(bytes.NewReader(swarmKey))
	if err != nil {
		return "", fmt.Errorf("swarm key: %w", err)
	}
	h := sha256.New()
	h.Write([]byte("s3mesh namespace network\x00"))
	h.Write(psk)
	return gateway.DefaultNetwork + "-" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// allowedPeers returns the namespace's pubsub validator for the exchange's
// allowlist (AllowPeers plus static peers plus this node), or nil when no
// allowlist is configured.
func allowedPeers(self peer.ID, allow []peer.ID, peers []string) (func(peer.ID) bool, error) {
	if len(allow) == 0 {
		return nil, nil
	}
	set := map[peer.ID]bool{self: true}
	for _, p := range allow {
		set[p] = true
	}
	for _, s := range peers {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("peer %q: %w", s, err)
		}
		set[ai.ID] = true
	}
	return func(p peer.ID) bool { return set[p] }, nil
}

// startExchange opens the libp2p host and Bitswap over the block store,
// and describes the network for the namespace.
func startExchange(cfg Config, logger *slog.Logger, reg prometheus.Registerer, blocks *blockstore.Store) (*exchange.Node, namespaceNet, error) {
	key, err := exchange.LoadOrCreateIdentity(cfg.Data)
	if err != nil {
		return nil, namespaceNet{}, err
	}
	swarmKey, swarmKeyPath, err := loadSwarmKey(cfg)
	if err != nil {
		return nil, namespaceNet{}, err
	}
	network, err := namespaceNetwork(swarmKey)
	if err != nil {
		return nil, namespaceNet{}, err
	}
	allow, err := parseAllowPeers(cfg.AllowPeers)
	if err != nil {
		return nil, namespaceNet{}, err
	}
	n, err := exchange.New(exchange.Config{
		ListenAddrs:                cfg.P2PListen,
		Peers:                      cfg.Peers,
		SwarmKey:                   swarmKey,
		AllowPeers:                 allow,
		MDNS:                       cfg.MDNS,
		Office:                     cfg.Office,
		MaxOutstandingBytesPerPeer: cfg.PeerOutstandingBytes,
		Logger:                     logger.With("component", "exchange"),
		Registerer:                 reg,
	}, key, blocks.Blockstore())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, namespaceNet{}, fmt.Errorf("p2p listen %v: an address is in use (another s3mesh or IPFS node runs there); choose others with --p2p-listen: %w", cfg.P2PListen, err)
		}
		return nil, namespaceNet{}, fmt.Errorf("start peer-to-peer exchange: %w", err)
	}
	allowNS, err := allowedPeers(n.ID(), allow, cfg.Peers)
	if err != nil {
		n.Close()
		return nil, namespaceNet{}, err
	}
	logger.Info("exchange started", "peer_id", n.ID().String(), "private_network", swarmKeyPath != "", "swarm_key", swarmKeyPath,
		"static_peers", len(cfg.Peers), "allowlist", len(allow), "namespace_network", network)
	return n, namespaceNet{name: network, allow: allowNS}, nil
}

// closeLogged closes a component at shutdown, logging a failure.
func closeLogged(logger *slog.Logger, what string, close func() error) {
	if err := close(); err != nil {
		logger.Error("closing "+what, "err", err)
	}
}

func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), nil
}
