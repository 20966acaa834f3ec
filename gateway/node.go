package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
	"s3mesh/gateway/replicate"
	"s3mesh/gateway/upkeep"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	ipld "github.com/ipfs/go-ipld-format"

	"s3mesh/blockstore"
	"s3mesh/s3api"
)

// ErrBlockUnavailable marks a read that failed because a block of the
// object is neither stored locally nor retrievable from the exchange within
// Config.FetchTimeout (see fetch.ErrBlockUnavailable).
var ErrBlockUnavailable = fetch.ErrBlockUnavailable

// BlockUnavailableError reports a block that cannot be had (see
// fetch.BlockUnavailableError).
type BlockUnavailableError = fetch.BlockUnavailableError

// Node is an s3mesh node's storage: an s3api.ObjectStore over UnixFS DAGs
// in a local block store, with object records in a Namespace. Its methods
// are safe for concurrent use.
type Node struct {
	cfg    Config
	blocks *blockstore.Store
	// ownBlocks is true when the node opened blocks and closes it.
	ownBlocks bool
	// fetch is the node's one way to a block: local, then peers.
	fetch *fetch.Fetcher
	dag   ipld.DAGService
	// ns is the replicated namespace (alone when Config.PubSub is nil).
	ns Namespace
	// crdt is ns, and idx its local index.
	crdt *namespace.CRDTNamespace
	idx  *namespace.PebbleNamespace
	// uploads keeps multipart state, local to the node (the namespace's
	// local index holds it); only completion publishes, through ns.
	uploads namespace.UploadStore
	metrics *metrics
	// repl fetches the objects of replicated buckets.
	repl *replicate.Replicator

	// lastUploadTime is the time prefix of the last upload ID made, in
	// Unix nanoseconds: IDs made by one node strictly increase.
	lastUploadTime atomic.Int64
	// upkeep is GC, fsck, the usage scan and the multipart janitor.
	upkeep *upkeep.Upkeep

	closeOnce sync.Once
	closeErr  error
}

var _ s3api.ObjectStore = (*Node)(nil)

// New opens the node's state in cfg.DataDir, creating it if needed.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	bs, ownBlocks := cfg.Blockstore, false
	if bs == nil {
		var err error
		bs, err = blockstore.Open(blockstore.Config{
			Path:       filepath.Join(cfg.DataDir, "blocks"),
			Backend:    cfg.BlockstoreBackend,
			NoSync:     cfg.NoSync,
			Logger:     cfg.Logger,
			Registerer: cfg.Registerer,
		})
		if err != nil {
			return nil, fmt.Errorf("new node: %w", err)
		}
		ownBlocks = true
	}
	closeBlocks := func() {
		if ownBlocks {
			bs.Close()
		}
	}
	nodeID := cfg.NodeID
	if nodeID == "" {
		var err error
		if nodeID, err = loadOrCreateNodeID(cfg.DataDir); err != nil {
			closeBlocks()
			return nil, fmt.Errorf("new node: %w", err)
		}
	}
	// The uploads gauge may be read before the namespace is open.
	var openUploads atomic.Pointer[namespace.PebbleNamespace]
	m, err := newMetrics(cfg.Registerer, func() int64 {
		if idx := openUploads.Load(); idx != nil {
			return idx.OpenUploads()
		}
		return 0
	})
	if err != nil {
		closeBlocks()
		return nil, fmt.Errorf("new node: %w", err)
	}
	n := &Node{cfg: cfg, blocks: bs, ownBlocks: ownBlocks, metrics: m}
	n.upkeep, err = upkeep.New(upkeep.Config{
		MultipartMaxAge: cfg.MultipartMaxAge, FetchTimeout: cfg.FetchTimeout, Clock: cfg.Clock,
		OnUploadExpired: func() { m.uploads.WithLabelValues("expired").Inc() },
		CacheBudget:     cfg.CacheBudget, MinFree: cfg.MinFree, DiskPath: bs.Path(),
		Logger: cfg.Logger, Registerer: cfg.Registerer,
	}, bs)
	if err != nil {
		m.unregister()
		closeBlocks()
		return nil, fmt.Errorf("new node: %w", err)
	}
	n.fetch, err = fetch.New(fetch.Config{Timeout: cfg.FetchTimeout, Registerer: cfg.Registerer, Logger: cfg.Logger, OnRead: n.upkeep.Touch}, bs.Blockstore(), cfg.Exchange)
	if err != nil {
		n.upkeep.Close()
		m.unregister()
		closeBlocks()
		return nil, fmt.Errorf("new node: %w", err)
	}
	n.dag = merkledag.NewDAGService(n.fetch.BlockService())
	n.repl, err = replicate.New(replicate.Config{
		Self: nodeID, Window: cfg.ReplicationWindow, Objects: cfg.ReplicationObjects,
		FetchTimeout: cfg.FetchTimeout, ReplicatedBuckets: cfg.ReplicatedBuckets, Swarm: cfg.Swarm,
		PubSub: cfg.PubSub, Network: cfg.Network, Logger: cfg.Logger, Registerer: cfg.Registerer,
	})
	if err != nil {
		n.fetch.Close()
		m.unregister()
		closeBlocks()
		return nil, fmt.Errorf("new node: %w", err)
	}
	ns, err := namespace.OpenCRDTNamespace(namespace.CRDTConfig{
		Dir:                 filepath.Join(cfg.DataDir, "namespace"),
		NodeID:              nodeID,
		Network:             cfg.Network,
		NoSync:              cfg.NoSync,
		AllowPeer:           cfg.AllowPeer,
		RebroadcastInterval: cfg.RebroadcastInterval,
		Clock:               cfg.Clock,
		Logger:              cfg.Logger.With("component", "namespace"),
		Registerer:          cfg.Registerer,
		OnObject:            n.repl.OnObject,
		OnBucket:            n.repl.OnBucket,
	}, cfg.PubSub, n.upkeep.TrackDeltas(&syncingDAG{DAGService: n.dag, blocks: bs}))
	if err != nil {
		n.upkeep.Close()
		n.fetch.Close()
		m.unregister()
		closeBlocks()
		return nil, fmt.Errorf("new node: %w", err)
	}
	n.ns, n.crdt, n.idx, n.uploads = ns, ns, ns.Index(), ns.Index()
	openUploads.Store(n.idx)
	if err := n.repl.Start(ns, n.fetch, bs.Blockstore()); err != nil {
		ns.Close()
		n.upkeep.Close()
		n.fetch.Close()
		m.unregister()
		closeBlocks()
		return nil, fmt.Errorf("new node: %w", err)
	}
	n.upkeep.Start(ns, n.fetch)
	cfg.Logger.Info("node opened", "data_dir", cfg.DataDir, "chunk_size", cfg.ChunkSize, "chunker", cfg.Chunker, "exchange", cfg.Exchange != nil,
		"node_id", nodeID, "network", cfg.Network, "pubsub", cfg.PubSub != nil,
		"fetch_window", cfg.FetchWindow, "fetch_timeout", cfg.FetchTimeout, "multipart_max_age", cfg.MultipartMaxAge)
	return n, nil
}

// Close stops the multipart janitor and closes the namespace and the block
// store it opened. It does not close Config.Exchange, Config.Blockstore or
// Config.PubSub: close them after the Node. Idempotent. Calls in flight MUST have returned, and
// content readers MUST be closed, before Close is called.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.upkeep.Close()
		n.repl.Stop() // before the namespace: it writes its queue there
		err1 := n.crdt.Close()
		var err2 error
		if n.ownBlocks {
			err2 = n.blocks.Close()
		}
		n.fetch.Close()
		n.metrics.unregister()
		n.closeErr = errors.Join(err1, err2)
	})
	return n.closeErr
}

// NamespaceStatus returns the replication status of the node's namespace.
func (n *Node) NamespaceStatus(ctx context.Context) NamespaceStatus { return n.crdt.Status(ctx) }

// Namespace returns the node's namespace.
func (n *Node) Namespace() Namespace { return n.ns }

// ListBuckets implements s3api.ObjectStore.
func (n *Node) ListBuckets(ctx context.Context) ([]s3api.BucketInfo, error) {
	bs, err := n.ns.ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]s3api.BucketInfo, len(bs))
	for i, b := range bs {
		out[i] = s3api.BucketInfo{Name: b.Name, CreationDate: b.Created, Location: b.Location}
	}
	return out, nil
}

// CreateBucket implements s3api.ObjectStore.
func (n *Node) CreateBucket(ctx context.Context, in s3api.CreateBucketInput) error {
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		return fmt.Errorf("create bucket %s: %w", in.Bucket, err)
	}
	return n.ns.CreateBucket(ctx, BucketRecord{Name: in.Bucket, Created: n.cfg.Clock().UTC(), Location: in.Location})
}

// HeadBucket implements s3api.ObjectStore.
func (n *Node) HeadBucket(ctx context.Context, bucket string) (*s3api.BucketInfo, error) {
	b, err := n.ns.GetBucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	return &s3api.BucketInfo{Name: b.Name, CreationDate: b.Created, Location: b.Location}, nil
}

// DeleteBucket implements s3api.ObjectStore. Multipart uploads in progress
// in the bucket do not keep it from being deleted: they are discarded with
// it.
func (n *Node) DeleteBucket(ctx context.Context, bucket string) error {
	return n.ns.DeleteBucket(ctx, bucket)
}

// HeadObject implements s3api.ObjectStore.
func (n *Node) HeadObject(ctx context.Context, bucket, key string) (*s3api.ObjectInfo, error) {
	rec, err := n.ns.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	return rec.Info(), nil
}

// DeleteObject implements s3api.ObjectStore. The object's blocks stay in
// the block store until garbage collection.
func (n *Node) DeleteObject(ctx context.Context, bucket, key string) error {
	return n.ns.DeleteObject(ctx, bucket, key)
}

// syncingDAG is the DAG service the namespace stores its deltas in: the
// node's, over the block store and the exchange, made durable on Add so
// that a delta is on disk before go-ds-crdt records it as a head (a head
// whose block a crash lost could never be served to peers).
type syncingDAG struct {
	ipld.DAGService
	blocks *blockstore.Store
}

func (d *syncingDAG) Add(ctx context.Context, nd ipld.Node) error {
	if err := d.DAGService.Add(ctx, nd); err != nil {
		return err
	}
	return d.blocks.Sync(ctx)
}

func (d *syncingDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	if err := d.DAGService.AddMany(ctx, nds); err != nil {
		return err
	}
	return d.blocks.Sync(ctx)
}

// Session lets go-ds-crdt fetch a DAG walk in one Bitswap session.
func (d *syncingDAG) Session(ctx context.Context) ipld.NodeGetter {
	if s, ok := d.DAGService.(interface {
		Session(context.Context) ipld.NodeGetter
	}); ok {
		return s.Session(ctx)
	}
	return d.DAGService
}

// loadOrCreateNodeID returns the node ID kept in dir/node-id, making a
// random one on first use.
func loadOrCreateNodeID(dir string) (string, error) {
	p := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !namespace.ValidNodeID(id) {
			return "", fmt.Errorf("node ID in %s: invalid %q", p, id)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node ID: %w", err)
	}
	var r [16]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	id := "node-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(r[:]))
	tmp, err := os.CreateTemp(dir, nodeIDFile+".tmp*")
	if err != nil {
		return "", fmt.Errorf("node ID: %w", err)
	}
	_, err = tmp.WriteString(id + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("node ID: %w", err)
	}
	return id, nil
}

// BlockService returns the node's block service: local blocks first, then
// peers through the node's one fetch path (each block fetched once per
// node, hash-verified, stored, counted). The IPFS gateway reads through it.
func (n *Node) BlockService() blockservice.BlockService { return n.fetch.BlockService() }

// ListObjects implements s3api.ObjectStore with range scans (see
// namespace.List).
func (n *Node) ListObjects(ctx context.Context, in s3api.ListObjectsInput) (*s3api.ListObjectsResult, error) {
	return namespace.List(ctx, n.ns, in)
}
