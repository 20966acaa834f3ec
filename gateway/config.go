package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
	"s3mesh/gateway/replicate"
	"s3mesh/gateway/upkeep"
	"time"

	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/blockstore"
)

// DefaultChunkSize is the UnixFS leaf size in bytes: 1 MiB.
const DefaultChunkSize = 1 << 20

// DefaultDataDir is the data directory used when Config.DataDir is empty.
const DefaultDataDir = "s3mesh-data"

// DefaultNetwork is Config.Network's default: the namespace nodes share
// when they are given no network name.
const DefaultNetwork = "s3mesh"

// nodeIDFile, in the data directory, holds the node ID of a node given no
// Config.NodeID.
const nodeIDFile = "node-id"

// Config configures a Node. The zero value is valid: data in
// DefaultDataDir, 1 MiB chunks, local blocks only,
// 16 blocks fetched ahead, 30 s fetch timeout.
type Config struct {
	// DataDir holds the node's state: DataDir/blocks (the block store),
	// DataDir/namespace (the replicated namespace's local state: index,
	// CRDT state, multipart uploads) and, when Config.NodeID is empty,
	// DataDir/node-id. Created if missing. Default DefaultDataDir, relative
	// to the working directory.
	DataDir string
	// ChunkSize is the size in bytes of the UnixFS leaves a PUT body is cut
	// into, 1..helpers.BlockSizeLimit (2 MiB), when neither the bucket nor
	// Chunker names a chunker. Default DefaultChunkSize.
	ChunkSize int
	// Chunker is the node's chunker spec (see ParseChunker): how bodies
	// (PUTs and parts) are cut into leaves in a bucket that names none
	// (BucketRecord.Chunker, see Node.SetBucketChunker). Empty means fixed
	// ChunkSize leaves, as `ipfs add --chunker=size-ChunkSize` cuts.
	Chunker string
	// BlockstoreBackend is the block store backend for a new DataDir
	// ("pebble" or "flatfs"). Default blockstore.DefaultBackend.
	BlockstoreBackend string
	// NoSync disables fsync in the block store and the namespace: a crash
	// can lose acknowledged writes. For tests only. Default false.
	NoSync bool
	// Blockstore is an open block store for the node to use instead of
	// opening DataDir/blocks (BlockstoreBackend and NoSync then do not
	// apply to blocks). Set it to build Config.Exchange over the same store,
	// so that the exchange serves the node's blocks to peers. The Node does
	// not close it; close it after the exchange. nil opens DataDir/blocks.
	Blockstore *blockstore.Store
	// Exchange fetches blocks missing locally (Bitswap). nil = local only:
	// a block that is not in the local block store is unavailable. Every
	// block it returns is hash-verified against its CID before it is stored
	// or served; a block that does not match is dropped and counted. A
	// fetched block is stored in the local block store. The Node does not
	// close it.
	Exchange exchange.Interface
	// FetchWindow is how many blocks a content reader keeps requested ahead
	// of the block being read, within the requested range, at most: enough
	// 1 MiB blocks in flight to fill a long fat link. A reader holds at most
	// FetchWindow+1 blocks in memory. Default DefaultFetchWindow.
	FetchWindow int
	// FetchTimeout bounds the wait for a block missing locally: a fetch
	// fails once FetchTimeout has passed both since the block was requested
	// and since any block of the same read last arrived, so a slow but
	// progressing transfer never fails and a block that no reachable peer
	// provides fails within about FetchTimeout (plus the time to drain the
	// window). The failure is ErrBlockUnavailable, answered
	// ServiceUnavailable naming the block. Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Logger receives lifecycle messages. nil discards.
	Logger *slog.Logger
	// Registerer receives the node's and the block store's metrics. nil
	// registers nothing.
	Registerer prometheus.Registerer
	// Clock returns the time stamped on buckets, objects and multipart
	// uploads, and the time the multipart janitor compares upload ages
	// with. Default time.Now.
	Clock func() time.Time
	// PubSub is the GossipSub router the namespace (a CRDTNamespace)
	// broadcasts its heads on; its deltas travel as blocks over Exchange.
	// nil = no peers: the same namespace, replicated with no one. The Node
	// does not close it; cancel its context after closing the Node.
	PubSub *pubsub.PubSub
	// NodeID names this node in the namespace's entry versions: stable
	// across restarts and unique in the network (use the libp2p peer ID);
	// printable ASCII without '/' or spaces, at most 128 bytes. Required
	// with PubSub. Empty without PubSub: a random ID made on first start
	// and kept in DataDir/node-id.
	NodeID string
	// Network names the namespace: nodes replicate with the nodes of the
	// same Network only (its pubsub topic is CRDTTopic(Network)). Give
	// separate networks (different private-network keys) different names.
	// Default DefaultNetwork.
	Network string
	// RebroadcastInterval is how often the namespace broadcasts its heads
	// again, so that peers that missed an update (a message lost, a peer
	// restarting or cut off) catch up within about this time. Zero means
	// DefaultCRDTRebroadcastInterval.
	RebroadcastInterval time.Duration
	// AllowPeer, when not nil, decides which peers' namespace updates are
	// accepted: a pubsub message relayed by, or originated at, a peer for
	// which it returns false is rejected (and not relayed). nil accepts
	// every peer the host is connected to.
	AllowPeer func(peer.ID) bool
	// Swarm, when not nil, fetches the leaves of replicated objects: each
	// block asked of one peer that holds it, chosen by expected delivery
	// time (see exchange.Swarm), rather than through a Bitswap session,
	// which asks every peer. Build it on the same network and block store
	// as Exchange. nil fetches them through Exchange.
	Swarm SetFetcher
	// MultipartMaxAge is how long a multipart upload may stay in progress:
	// a background janitor aborts uploads initiated longer ago than this,
	// checking every min(1h, MultipartMaxAge/4), at least a second apart,
	// from the node's start. Their parts' blocks are then unreferenced, left
	// to garbage collection. Zero means DefaultMultipartMaxAge (7 days);
	// negative disables the janitor.
	MultipartMaxAge time.Duration
	// ReplicatedBuckets are buckets the node marks replicated (see
	// SetBucketReplicated) once it has started: each existing one that is
	// not marked yet, and each other one when it is created. Unmarking one
	// (SetBucketReplicated off) holds until the node starts again. nil
	// marks none.
	ReplicatedBuckets []string
	// ReplicationWindow is how many blocks of one object of a replicated
	// bucket the background replicator keeps requested from peers at
	// once, 1..1024. Default DefaultReplicationWindow (32).
	ReplicationWindow int
	// ReplicationObjects is how many objects the replicator fetches at
	// once, 1..64. Default DefaultReplicationObjects (2).
	ReplicationObjects int
	// CacheBudget bounds, in bytes, the blocks the node holds only because
	// it read them (not written here, not of a replicated bucket, not of
	// a multipart upload in progress): over it, the least recently read
	// are evicted (see package upkeep). Zero or negative: no budget.
	CacheBudget int64
	// MinFree is the free space, in bytes, kept on the block store's
	// disk: below it, cached blocks are evicted first, and writes of new
	// data fail with InsufficientStorage (507) until there is room; reads,
	// listings and deletes go on. Zero means DefaultMinFree (1 GiB);
	// negative turns it off.
	MinFree int64
}

// DefaultMinFree is Config.MinFree's default: 1 GiB.
const DefaultMinFree = upkeep.DefaultMinFree

// DefaultFetchWindow is Config.FetchWindow's default: 16 blocks (16 MiB of
// 1 MiB leaves) in flight per reader.
const DefaultFetchWindow = 16

// maxFetchWindow bounds Config.FetchWindow: 1024 blocks of up to 2 MiB,
// as it bounds the replication window.
const maxFetchWindow = replicate.MaxWindow

// DefaultFetchTimeout is Config.FetchTimeout's default: 30 seconds.
const DefaultFetchTimeout = fetch.DefaultTimeout

// Replication defaults (see package replicate).
const (
	// DefaultReplicationWindow is Config.ReplicationWindow's default.
	DefaultReplicationWindow = replicate.DefaultWindow
	// DefaultReplicationObjects is Config.ReplicationObjects's default.
	DefaultReplicationObjects = replicate.DefaultObjects
)

// DefaultMultipartMaxAge is the age at which an abandoned multipart upload
// is aborted when Config.MultipartMaxAge is zero: 7 days.
const DefaultMultipartMaxAge = upkeep.DefaultMultipartMaxAge

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.BlockstoreBackend == "" {
		c.BlockstoreBackend = blockstore.DefaultBackend
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.MultipartMaxAge == 0 {
		c.MultipartMaxAge = DefaultMultipartMaxAge
	}
	if c.FetchWindow == 0 {
		c.FetchWindow = DefaultFetchWindow
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.Network == "" {
		c.Network = DefaultNetwork
	}
	if c.ReplicationWindow == 0 {
		c.ReplicationWindow = DefaultReplicationWindow
	}
	if c.ReplicationObjects == 0 {
		c.ReplicationObjects = DefaultReplicationObjects
	}
	return c
}

// Validate reports whether the configuration, after defaults, is usable.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.ChunkSize < 1 || c.ChunkSize > helpers.BlockSizeLimit {
		return fmt.Errorf("gateway config: chunk size %d out of range 1..%d", c.ChunkSize, helpers.BlockSizeLimit)
	}
	if c.Chunker != "" {
		if _, err := ParseChunker(c.Chunker); err != nil {
			return fmt.Errorf("gateway config: %w", err)
		}
	}
	if c.DataDir == "" {
		return errors.New("gateway config: data dir is required")
	}
	if c.FetchWindow < 1 || c.FetchWindow > maxFetchWindow {
		return fmt.Errorf("gateway config: fetch window %d out of range 1..%d", c.FetchWindow, maxFetchWindow)
	}
	if c.FetchTimeout < 0 {
		return fmt.Errorf("gateway config: fetch timeout %s is negative", c.FetchTimeout)
	}
	if c.RebroadcastInterval < 0 {
		return fmt.Errorf("gateway config: rebroadcast interval %s is negative", c.RebroadcastInterval)
	}
	if c.ReplicationWindow < 1 || c.ReplicationWindow > replicate.MaxWindow {
		return fmt.Errorf("gateway config: replication window %d out of range 1..%d", c.ReplicationWindow, replicate.MaxWindow)
	}
	if c.ReplicationObjects < 1 || c.ReplicationObjects > replicate.MaxObjects {
		return fmt.Errorf("gateway config: replication objects %d out of range 1..%d", c.ReplicationObjects, replicate.MaxObjects)
	}
	if c.PubSub != nil && c.NodeID == "" {
		return errors.New("gateway config: a node ID is required with pubsub (use the peer ID)")
	}
	if c.NodeID != "" && !namespace.ValidNodeID(c.NodeID) {
		return fmt.Errorf("gateway config: invalid node ID %q: want printable ASCII without '/' or spaces, at most 128 bytes", c.NodeID)
	}
	return nil
}

// SetFetcher fetches a set of blocks into the node's block store (see
// replicate.SetFetcher; exchange.Swarm implements it).
type SetFetcher = replicate.SetFetcher
