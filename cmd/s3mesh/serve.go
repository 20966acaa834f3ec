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

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"s3mesh/admin"
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

	_, diskTotal, err := blockstore.Disk(cfg.Data)
	if err != nil {
		return fmt.Errorf("open storage in %s: %w", cfg.Data, err)
	}
	cacheSize, _ := parseDiskSize(cfg.CacheSize) // checked by Validate
	minFree, _ := parseDiskSize(cfg.MinFree)
	node, err := gateway.New(gateway.Config{
		CacheBudget:       cacheSize.resolve(diskTotal),
		MinFree:           minFree.resolve(diskTotal),
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
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is in use (another s3mesh or server runs there); choose another with --listen", cfg.Listen)
		}
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	endpoint := "http://" + ln.Addr().String()
	rootCreds := s3api.Credentials{AccessKey: creds.AccessKey, SecretKey: creds.SecretKey}
	var ready atomic.Bool
	// The admin edge (admin API, status page, IPFS gateway, probes) is
	// served through the S3 handler's request wrapper.
	adm, err := admin.New(admin.Config{
		Credentials:      rootCreds,
		Version:          version(),
		Endpoint:         endpoint,
		DataDir:          cfg.Data,
		IPFSGateway:      cfg.IPFSGateway,
		RetrievalTimeout: cfg.FetchTimeout,
		Metrics:          promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		Ready:            ready.Load,
		Registerer:       reg,
	}, node, p2p, blocks)
	if err != nil {
		ln.Close()
		return fmt.Errorf("admin: %w", err)
	}
	defer closeLogged(logger, "admin", adm.Close)
	s3h, err := s3api.New(s3api.Config{
		Credentials:     rootCreds,
		Region:          cfg.Region,
		Domains:         cfg.Domains,
		Logger:          logger.With("component", "s3api"),
		Registerer:      reg,
		Mounts:          []s3api.Mount{adm.Mount()},
		BodyIdleTimeout: cfg.BodyIdleTimeout,
		RequestTimeout:  cfg.RequestTimeout,
		MaxRequests:     cfg.MaxRequests,
		MaxHeaderBytes:  cfg.MaxHeaderBytes,
	}, store)
	if err != nil {
		ln.Close()
		return fmt.Errorf("s3 api: %w", err)
	}
	srv, err := s3api.NewServer(s3api.ServerConfig{
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		WriteIdleTimeout:  cfg.WriteIdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		MaxConns:          cfg.MaxConns,
		Logger:            logger,
	}, s3h)
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
