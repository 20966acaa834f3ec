package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/s3api/s3err"
)

// Defaults of CRDTConfig.
const (
	DefaultCRDTNetwork             = "default"
	DefaultCRDTRebroadcastInterval = 10 * time.Second
	DefaultCRDTPruneGrace          = time.Hour
	DefaultCRDTPruneInterval       = 10 * time.Minute
	DefaultCRDTDAGSyncTimeout      = 5 * time.Minute
	DefaultCRDTRepairInterval      = time.Minute

	// crdtTopicPrefix is followed by the network name.
	crdtTopicPrefix = "/s3mesh/namespace/1/"
	// pruneBatch bounds the entries deleted in one CRDT delta.
	pruneBatch = 1000
)

// CRDTTopic returns the pubsub topic on which the namespace of network
// broadcasts its heads.
func CRDTTopic(network string) string {
	if network == "" {
		network = DefaultCRDTNetwork
	}
	return crdtTopicPrefix + network
}

// CRDTConfig configures a CRDTNamespace.
type CRDTConfig struct {
	// Dir is the database directory (the local index, the CRDT's state
	// and the node's multipart state), created if missing. Required.
	Dir string
	// NodeID names this node in entry versions; it MUST be stable across
	// restarts and unique in the network: use the libp2p peer ID.
	// Printable ASCII without '/' or spaces, at most 128 bytes. Required.
	NodeID string
	// Network names the namespace: nodes replicate with the nodes of the
	// same Network only (see CRDTTopic). Empty means DefaultCRDTNetwork.
	Network string
	// RebroadcastInterval is how often the current heads are broadcast
	// again, so that peers that missed updates (or were down) catch up.
	// Zero means DefaultCRDTRebroadcastInterval.
	RebroadcastInterval time.Duration
	// DAGSyncTimeout bounds the fetch of one delta block from peers. A
	// broadcast whose deltas could not all be fetched is unwound (see
	// walkGuard) and walked again when its writer next rebroadcasts its
	// heads. Zero means DefaultCRDTDAGSyncTimeout.
	DAGSyncTimeout time.Duration
	// RepairInterval is how often, while the store is marked dirty (a
	// delta could not be fetched or applied), go-ds-crdt walks the DAG
	// from the heads and applies any delta there not yet applied. A walk
	// runs at open too when the last run left the store dirty. Zero means
	// DefaultCRDTRepairInterval.
	RepairInterval time.Duration
	// FoldHeight is the DAG height of the current epoch at which the
	// leading node folds it into a snapshot that seeds a new epoch (see
	// crdtepoch.go): it bounds the deltas every node keeps and a joining
	// node walks. Zero means DefaultCRDTFoldHeight; negative means this
	// node never folds (it still follows the epochs others start).
	FoldHeight int
	// FoldWait is how long the leading node waits for every office it
	// knows to announce the same heads before folding anyway (the
	// horizon past which an office that lags or is cut off catches up by
	// snapshot). Zero means DefaultCRDTFoldWait.
	FoldWait time.Duration
	// InlineDeltaBytes is the most bytes of delta blocks attached to one
	// announcement of heads (see Inline deltas in crdtepoch.go), so that
	// peers need not fetch fresh deltas over Bitswap. Zero means
	// DefaultCRDTInlineDeltaBytes; negative attaches none, and the
	// announcements of epoch 0 then stay in go-ds-crdt's own format,
	// which nodes of earlier versions understand (a rolling upgrade).
	InlineDeltaBytes int
	// SnapshotTimeout bounds fetching and installing one snapshot. Zero
	// means DefaultCRDTSnapshotTimeout.
	SnapshotTimeout time.Duration
	// PruneGrace is how long an entry this node wrote stays in the CRDT
	// after it stopped mattering (superseded by a later version of its
	// key, or older than its bucket's deletion). Zero means
	// DefaultCRDTPruneGrace.
	PruneGrace time.Duration
	// PruneInterval is how often the background pruner runs. Zero means
	// DefaultCRDTPruneInterval; negative disables it (Prune can still be
	// called).
	PruneInterval time.Duration
	// NoSync commits without fsync: a crash can lose acknowledged writes.
	// For tests only. Default false.
	NoSync bool
	// AllowPeer, when not nil and a PubSub is given, validates the
	// messages of the namespace's topic: a message received from, or
	// originated at, a peer for which it returns false is rejected (not
	// delivered, not relayed) and counted. Local publications are
	// validated too: it MUST accept this node's own peer ID. nil accepts
	// every message.
	AllowPeer func(peer.ID) bool
	// OnObject, when not nil, is called after an object record becomes
	// visible in the index (put, copied or overwritten, here or at another
	// node; also when a re-created bucket makes it visible again). It runs
	// on the path that applies entries: it MUST NOT block or call back
	// into the namespace's write methods.
	OnObject func(rec *ObjectRecord)
	// OnBucket, when not nil, is called likewise after a bucket's record
	// changes (created, its settings updated); not on deletion.
	OnBucket func(b *BucketRecord)
	// Clock returns the current time. nil means time.Now.
	Clock func() time.Time
	// Logger receives the namespace's and go-ds-crdt's messages. nil
	// discards.
	Logger *slog.Logger
	// Registerer receives the namespace's metrics. nil registers nothing.
	Registerer prometheus.Registerer
}

func (c CRDTConfig) withDefaults() CRDTConfig {
	if c.Network == "" {
		c.Network = DefaultCRDTNetwork
	}
	if c.RebroadcastInterval == 0 {
		c.RebroadcastInterval = DefaultCRDTRebroadcastInterval
	}
	if c.DAGSyncTimeout == 0 {
		c.DAGSyncTimeout = DefaultCRDTDAGSyncTimeout
	}
	if c.RepairInterval == 0 {
		c.RepairInterval = DefaultCRDTRepairInterval
	}
	if c.PruneGrace == 0 {
		c.PruneGrace = DefaultCRDTPruneGrace
	}
	if c.InlineDeltaBytes == 0 {
		c.InlineDeltaBytes = DefaultCRDTInlineDeltaBytes
	}
	if c.FoldHeight == 0 {
		c.FoldHeight = DefaultCRDTFoldHeight
	}
	if c.FoldWait == 0 {
		c.FoldWait = DefaultCRDTFoldWait
	}
	if c.SnapshotTimeout == 0 {
		c.SnapshotTimeout = DefaultCRDTSnapshotTimeout
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = DefaultCRDTPruneInterval
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first invalid field of c.
func (c CRDTConfig) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("crdt namespace: Dir is required")
	case !ValidNodeID(c.NodeID):
		return fmt.Errorf("crdt namespace: invalid NodeID %q", c.NodeID)
	case c.RebroadcastInterval < 0, c.DAGSyncTimeout < 0, c.RepairInterval < 0, c.PruneGrace < 0, c.FoldWait < 0, c.SnapshotTimeout < 0:
		return errors.New("crdt namespace: negative duration")
	}
	return nil
}

// CRDTNamespace is a Namespace replicated between nodes as a Merkle-CRDT
// (github.com/ipfs/go-ds-crdt): every write is published as a delta, an
// IPLD block added to the DAGService given to OpenCRDTNamespace (so peers
// fetch it over Bitswap), and the new heads are broadcast on a GossipSub
// topic (CRDTTopic). Reads are served by a local ordered index kept up to
// date from the CRDT's put hook, in the same layout as PebbleNamespace,
// whose read paths serve them.
//
// # Entries and winners
//
// An object is not one mutable CRDT key: go-ds-crdt resolves concurrent
// values by DAG height, then bytes, and a delete loses to a concurrent put.
// Instead every PutObject, UpdateObject and DeleteObject adds a new
// immutable entry under the key's own prefix, versioned by a hybrid logical
// clock and the writer's NodeID (see crdtentry.go); a delete adds a delete
// marker. The index keeps, per key, the entry with the greatest version:
// last writer wins, the same winner on every node whatever the order
// entries arrive in, and a write made after seeing another always wins over
// it even when clocks are skewed. Buckets work alike.
//
// # Consistency
//
// On one node reads, listings and conditional writes are strongly
// consistent: the index is updated before a write returns, and a
// conditional write (PutCheck, UpdateObject) is checked against the index
// under the key's lock. Across nodes they are best effort: two offices may
// both pass a check (say If-None-Match: *) for a key neither has seen
// written yet; both writes are then kept as entries and the greater version
// wins everywhere. CreateBucket and DeleteBucket checks are local likewise.
//
// # Bucket deletion
//
// A bucket delete marker at version D makes every object entry of that
// bucket with a version below D dead for ever: DeleteBucket removes every
// object written before it (by version order), wherever it was written,
// and a later CreateBucket starts without them. An object written
// concurrently at another office with a version above D stays recorded;
// it is invisible while the bucket does not exist and visible again if the
// bucket is created again.
//
// # Pruning
//
// Superseded entries would otherwise accumulate for ever. When an entry
// this node wrote stops mattering — a greater version of its key was
// applied, or it is older than its bucket's last delete marker — the node
// queues it; once it has been queued for PruneGrace, Prune deletes the CRDT
// key (one delta for up to 1000 keys). Deleting an entry that is not the
// winner never changes the winner, on any node, whatever the order deltas
// arrive in: the index only ever moves to a greater version. Each node
// prunes only what it wrote, so nothing is deleted twice. Not pruned: a
// winning delete marker (it must keep out older puts that may still be in
// flight), bucket delete markers (they define the bucket's cut), and the
// entries of a node that never runs again. go-ds-crdt keeps a tombstone
// per pruned entry and its DAG of deltas grows with every write; it has no
// compaction, so pruning bounds the live set and the index, not the DAG:
// epochs do (see Epochs in crdtepoch.go), folding the history into a
// snapshot every FoldHeight levels.
//
// # Interrupted updates
//
// A broadcast whose branch of deltas could not be walked in full (a delta
// no peer provided in time, a Close or a crash in the middle) is unwound
// and walked again from its tip when its writer next broadcasts its heads
// (every RebroadcastInterval, and at once to a peer that joins the topic);
// see walkGuard, which works around go-ds-crdt v0.6.5 leaving such a branch
// half applied for ever.
//
// # Crash recovery
//
// The CRDT state and the index share one Pebble database. A marker key is
// present while the namespace is open; if it is found at open, the last run
// ended without Close and the index is rebuilt from the CRDT's entries (one
// pass over the live set).
type CRDTNamespace struct {
	cfg   CRDTConfig
	log   *slog.Logger
	idx   *PebbleNamespace
	store *pebbleds.Datastore
	dag   ipld.DAGService
	clock hlc

	// cur is the current epoch and its CRDT (see crdtepoch.go); crdtMu is
	// held shared by the users of cur's CRDT that must not see it
	// change (the committer) and exclusively by a switch. switchMu
	// serialises folds and switches.
	cur      atomic.Pointer[epochState]
	crdtMu   sync.RWMutex
	switchMu sync.Mutex
	ep       epochs
	// epochWake wakes the epoch loop when a newer epoch is announced;
	// stopEpoch stops it and the demultiplexer.
	epochWake            chan struct{}
	stopEpoch            context.CancelFunc
	epochDone, demuxDone chan struct{}
	// prefetchSem bounds the prefetches in flight (see prefetch).
	prefetchSem chan struct{}

	seed          maphash.Seed
	applyMu       [256]sync.Mutex // serialises index updates per key
	applyBucketMu sync.RWMutex    // bucket updates (exclusive) vs object updates

	// objects and logicalBytes count the visible objects and the sum of
	// their sizes; counted at open, then kept up to date by the index.
	objects, logicalBytes atomic.Int64

	// indexFailed is set when a hook could not update the index; the
	// dirty marker then stays, so the next open rebuilds.
	indexFailed atomic.Bool

	metrics *crdtMetrics

	cancelBcast context.CancelFunc
	// commits queue the writers' changes for the committer (see
	// crdtcommit.go); stopCommits stops it, commitDone says it stopped.
	commits     chan *commitReq
	stopCommits chan struct{}
	commitDone  chan struct{}

	// bcast is the topic broadcaster and ps its router (nil without
	// PubSub).
	bcast *topicBroadcaster
	ps    *pubsub.PubSub
	// validating is the PubSub a topic validator was registered on (nil
	// when none was).
	validating *pubsub.PubSub
	stopPrune  context.CancelFunc
	pruneDone  chan struct{}

	closeOnce sync.Once
	closeErr  error
}

var _ Namespace = (*CRDTNamespace)(nil)

// OpenCRDTNamespace opens (creating if needed) the replicated namespace in
// cfg.Dir. dag stores and fetches the CRDT's deltas: build it over the
// node's block service (block store plus Bitswap) so peers can fetch them.
// ps is the GossipSub router heads are broadcast on; nil runs the namespace
// alone (no peers), the same code otherwise. The caller keeps ownership of
// ps and dag and MUST close the namespace before them.
func OpenCRDTNamespace(cfg CRDTConfig, ps *pubsub.PubSub, dag ipld.DAGService) (*CRDTNamespace, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dag == nil {
		return nil, errors.New("crdt namespace: nil DAGService")
	}
	cfg = cfg.withDefaults()
	idx, err := OpenPebbleNamespace(PebbleNamespaceConfig{Dir: cfg.Dir, NoSync: cfg.NoSync, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	n := &CRDTNamespace{cfg: cfg, log: cfg.Logger, idx: idx, dag: dag, seed: maphash.MakeSeed(), clock: hlc{now: cfg.Clock}}
	n.ep.peers = map[peer.ID]peerAnnounce{}
	n.ep.fetching = map[cid.Cid]struct{}{}
	n.prefetchSem = make(chan struct{}, prefetchLimit)
	n.epochWake = make(chan struct{}, 1)
	fail := func(err error) (*CRDTNamespace, error) {
		if n.cancelBcast != nil {
			n.cancelBcast()
		}
		n.unregisterValidator()
		if n.metrics != nil {
			n.metrics.unregister()
		}
		idx.Close()
		return nil, fmt.Errorf("open crdt namespace %s: %w", cfg.Dir, err)
	}
	if n.metrics, err = newCRDTMetrics(cfg.Registerer, n.Usage); err != nil {
		return fail(err)
	}
	if err := n.loadClock(); err != nil {
		return fail(err)
	}
	// Before the dirty check: a rebuild clears the records a database
	// written by PebbleNamespace holds, so they are staged first.
	staged, err := n.stageLegacy()
	if err != nil {
		return fail(err)
	}
	_, dirty, err := idx.get(keyDirty)
	if err != nil {
		return fail(err)
	}
	format, _, err := idx.get(keyIndexFormat)
	if err != nil {
		return fail(err)
	}
	if !dirty && !bytes.Equal(format, indexFormat) {
		n.log.Info("namespace index has an older format; rebuilding it from the CRDT")
		dirty = true
	}
	if dirty {
		if format != nil {
			n.log.Warn("namespace index was not closed cleanly; rebuilding it from the CRDT")
		}
		if err := n.clearIndex(); err != nil {
			return fail(err)
		}
	}
	{
		b := idx.db.NewBatch()
		err := errors.Join(b.Set(keyDirty, nil, nil), b.Set(keyIndexFormat, indexFormat, nil), b.Commit(pebble.Sync))
		b.Close()
		if err != nil {
			return fail(err)
		}
	}
	// Before anything is applied: from here on the index keeps the counts.
	u, err := n.countUsage()
	if err != nil {
		return fail(err)
	}
	n.addUsage(u)
	n.store, err = pebbleds.NewDatastore("", pebbleds.WithPebbleDB(idx.db), pebbleds.WithPebbleWriteOptions(idx.wo))
	if err != nil {
		return fail(err)
	}
	gen, epoch, err := n.loadEpoch()
	if err != nil {
		return fail(err)
	}
	if err := n.dropOtherGens(gen); err != nil {
		return fail(err)
	}
	if ps != nil && cfg.AllowPeer != nil {
		if err := ps.RegisterTopicValidator(CRDTTopic(cfg.Network), n.validate); err != nil {
			return fail(fmt.Errorf("register topic validator: %w", err))
		}
		n.validating = ps
	}
	if ps != nil {
		ctx, cancel := context.WithCancel(context.Background())
		n.cancelBcast = cancel
		b, err := newTopicBroadcaster(ctx, ps, CRDTTopic(cfg.Network), n.log)
		if err != nil {
			return fail(err)
		}
		n.bcast, n.ps = b, ps
	}
	cur, err := n.openGen(gen, epoch)
	if err != nil {
		return fail(err)
	}
	n.cur.Store(cur)
	if n.bcast != nil {
		n.bcast.start(n.announcement)
	}
	n.commits, n.stopCommits, n.commitDone = make(chan *commitReq, maxGroupEntries), make(chan struct{}), make(chan struct{})
	go n.committer()
	stopEarly := func() {
		close(n.stopCommits)
		<-n.commitDone
		n.crdtDS().Close()
	}
	if dirty {
		if err := n.rebuild(context.Background()); err != nil {
			stopEarly()
			return fail(err)
		}
	}
	if err := n.migrateStaged(context.Background(), staged); err != nil {
		stopEarly()
		return fail(err)
	}
	if cfg.PruneInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		n.stopPrune, n.pruneDone = cancel, make(chan struct{})
		go n.pruneLoop(ctx)
	}
	ectx, ecancel := context.WithCancel(context.Background())
	n.stopEpoch, n.epochDone, n.demuxDone = ecancel, make(chan struct{}), make(chan struct{})
	go n.epochLoop(ectx)
	if n.bcast != nil {
		go n.demux(ectx)
	} else {
		close(n.demuxDone)
	}
	n.log.Info("namespace opened", "kind", "crdt", "network", cfg.Network, "topic", CRDTTopic(cfg.Network),
		"peers", ps != nil, "rebuilt", dirty, "epoch", epoch.number)
	return n, nil
}

// Close stops the pruner and the CRDT and closes the database. Idempotent.
// Calls in flight MUST have returned.
func (n *CRDTNamespace) Close() error {
	n.closeOnce.Do(func() {
		if n.stopPrune != nil {
			n.stopPrune()
			<-n.pruneDone
		}
		n.stopEpoch()
		<-n.epochDone
		<-n.demuxDone
		if n.commitDone != nil {
			close(n.stopCommits)
			<-n.commitDone
		}
		// go-ds-crdt: cancel the broadcaster before closing the store.
		if n.cancelBcast != nil {
			n.cancelBcast()
			<-n.bcast.done // no announcement reads the CRDT any more
		}
		cur := n.cur.Load()
		if cur.view != nil {
			cur.view.close()
		}
		err1 := cur.crdt.Close()
		n.unregisterValidator()
		var err2 error
		if !n.indexFailed.Load() {
			err2 = n.idx.db.Delete(keyDirty, pebble.Sync)
		}
		err3 := n.idx.Close()
		n.metrics.unregister()
		n.closeErr = errors.Join(err1, err2, err3)
		if n.closeErr != nil {
			n.closeErr = fmt.Errorf("close crdt namespace: %w", n.closeErr)
		}
	})
	return n.closeErr
}

// validate is the topic validator installed when CRDTConfig.AllowPeer is
// set: both the peer that sent the message and the one that signed it
// (its origin) must be allowed.
func (n *CRDTNamespace) validate(_ context.Context, from peer.ID, msg *pubsub.Message) bool {
	if n.cfg.AllowPeer(from) && n.cfg.AllowPeer(msg.GetFrom()) {
		return true
	}
	n.metrics.rejected.Inc()
	n.log.Debug("rejected a namespace update from a peer outside the allowlist", "from", from.String(), "origin", msg.GetFrom().String())
	return false
}

func (n *CRDTNamespace) unregisterValidator() {
	if n.validating == nil {
		return
	}
	// Fails only when the PubSub has already stopped: nothing to undo.
	_ = n.validating.UnregisterTopicValidator(CRDTTopic(n.cfg.Network))
	n.validating = nil
}

// NamespaceStatus describes the replicated namespace for the admin status.
type NamespaceStatus struct {
	// Network is the namespace's network name, Topic its pubsub topic.
	Network, Topic string
	// TopicPeers is how many peers this node currently sees on Topic.
	TopicPeers int
	// Heads and MaxHeight describe the CRDT's DAG of deltas: its current
	// heads (more than one while concurrent writes are not yet merged by
	// a later write) and the greatest height, which grows by one per
	// write this node sees in sequence.
	Heads     int
	MaxHeight uint64
	// QueuedJobs is how many deltas wait to be applied.
	QueuedJobs int
	// Dirty is true while a delta could not be fetched or applied and a
	// repair walk is due (see CRDTConfig.RepairInterval).
	Dirty bool
	// Lag summarises the replication lag of recent updates from others.
	Lag LagSummary
	// Epoch describes the snapshot the node's current epoch started from,
	// the backlog of deltas since, and the latest join (see crdtepoch.go).
	Epoch EpochStatus
}

// Status returns the namespace's replication status.
func (n *CRDTNamespace) Status(ctx context.Context) NamespaceStatus {
	c := n.crdtDS()
	st := c.InternalStats(ctx)
	out := NamespaceStatus{
		Network: n.cfg.Network, Topic: CRDTTopic(n.cfg.Network),
		Heads: len(st.Heads), MaxHeight: st.MaxHeight, QueuedJobs: st.QueuedJobs,
		Dirty: c.IsDirty(ctx), Lag: n.metrics.recent.summary(), Epoch: n.epochStatus(st),
	}
	if n.ps != nil {
		out.TopicPeers = len(n.ps.ListPeers(out.Topic))
	}
	return out
}

func (n *CRDTNamespace) addUsage(u usage) {
	n.objects.Add(u.objects)
	n.logicalBytes.Add(u.bytes)
}

// Usage returns the number of visible objects and the sum of their sizes.
func (n *CRDTNamespace) Usage() (objects, logicalBytes int64) {
	return n.objects.Load(), n.logicalBytes.Load()
}

// Index returns the PebbleNamespace holding the local index. Its read
// methods see the replicated namespace; its write methods MUST NOT be used
// (they would bypass replication). It also keeps the node's multipart
// state, which is never replicated.
func (n *CRDTNamespace) Index() *PebbleNamespace { return n.idx }

func (n *CRDTNamespace) applyLock(bucket, key string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(n.seed)
	h.WriteString(bucket)
	h.WriteByte('/')
	h.WriteString(key)
	return &n.applyMu[h.Sum64()%uint64(len(n.applyMu))]
}

// putHook is go-ds-crdt's PutHook: it runs for every entry merged, local
// or remote, before the CRDT's own batch commits.
func (n *CRDTNamespace) putHook(k ds.Key, v []byte) {
	pk, e, err := n.apply(k.String(), v)
	if errors.Is(err, errBadEntry) {
		// A peer published a delta we cannot read: ignore it.
		n.log.Warn("ignored malformed namespace entry", "err", err)
		n.metrics.badEntries.Inc()
		return
	}
	if err != nil {
		n.indexFailed.Store(true)
		n.log.Error("namespace index update failed; it will be rebuilt at next open", "err", err)
		return
	}
	if !n.own(pk.version) {
		now := n.cfg.Clock()
		lag := now.Sub(e.written)
		n.metrics.lag.Observe(lag.Seconds())
		n.metrics.recent.add(lag, now)
	}
}

// rebuild installs the current epoch's seed and applies every live CRDT
// entry to an empty index.
func (n *CRDTNamespace) rebuild(ctx context.Context) error {
	if err := n.installSeed(ctx); err != nil {
		return fmt.Errorf("rebuild index: seed: %w", err)
	}
	res, err := n.crdtDS().Query(ctx, query.Query{})
	if err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	defer res.Close()
	count := 0
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("rebuild index: %w", r.Error)
		}
		if _, _, err := n.apply(r.Key, r.Value); err != nil && !errors.Is(err, errBadEntry) {
			return fmt.Errorf("rebuild index: %w", err)
		}
		count++
	}
	n.log.Info("namespace index rebuilt", "entries", count)
	return nil
}

// commit writes one new entry under the key crdtKey(version) and returns
// once the index shows it. It is not cancelled by ctx once started: a
// half-published delta helps no one.
func (n *CRDTNamespace) commit(ctx context.Context, kind byte, payload []byte, crdtKey func(version string) string) error {
	_, err := n.commitVersion(ctx, kind, payload, crdtKey)
	return err
}

// commitVersion is commit, and returns the entry's version.
func (n *CRDTNamespace) commitVersion(ctx context.Context, kind byte, payload []byte, crdtKey func(version string) string) (string, error) {
	ms, c := n.clock.next()
	ver := formatVersion(ms, c, n.cfg.NodeID)
	k := crdtKey(ver)
	v := entry{kind: kind, written: n.cfg.Clock(), payload: payload}.encode()
	if err := n.publish(ctx, []kv{{k, v}}, nil); err != nil {
		return "", err
	}
	// The hook has applied the entry; applying it again is a no-op that
	// reports an index failure the hook could only log.
	_, _, err := n.apply(k, v)
	return ver, err
}

// CreateBucket implements Namespace. The check for an existing bucket is
// local (see CRDTNamespace).
func (n *CRDTNamespace) CreateBucket(ctx context.Context, b BucketRecord) error {
	v, err := encodeBucket(b)
	if err != nil {
		return err
	}
	n.idx.bucketMu.Lock()
	defer n.idx.bucketMu.Unlock()
	ok, err := n.idx.bucketExists(b.Name)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", b.Name, err)
	}
	if ok {
		return fmt.Errorf("create bucket %s: %w", b.Name, s3err.ErrBucketAlreadyOwnedByYou)
	}
	if err := n.commit(ctx, entryCreate, v, func(ver string) string { return bucketEntryKey(b.Name, ver) }); err != nil {
		return fmt.Errorf("create bucket %s: %w", b.Name, err)
	}
	return nil
}

// UpdateBucket replaces the settings of an existing bucket (Replicated,
// Chunker, Location; not its name or creation time) with what fn makes of
// the current record, and returns the new record. It returns
// s3err.ErrNoSuchBucket, or fn's error unchanged.
//
// The change is a new create entry of the bucket with a greater version:
// every node applies it as the bucket's winner. If another office deleted
// the bucket concurrently and the change has the greater version, the
// bucket exists again afterwards, without the objects written before the
// delete (see Bucket deletion).
func (n *CRDTNamespace) UpdateBucket(ctx context.Context, name string, fn func(b *BucketRecord) error) (*BucketRecord, error) {
	n.idx.bucketMu.Lock()
	defer n.idx.bucketMu.Unlock()
	cur, err := n.idx.GetBucket(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("update bucket %s: %w", name, err)
	}
	b := *cur
	if err := fn(&b); err != nil {
		return nil, err
	}
	b.Name, b.Created = cur.Name, cur.Created
	v, err := encodeBucket(b)
	if err != nil {
		return nil, err
	}
	if err := n.commit(ctx, entryCreate, v, func(ver string) string { return bucketEntryKey(name, ver) }); err != nil {
		return nil, fmt.Errorf("update bucket %s: %w", name, err)
	}
	return &b, nil
}

// GetBucket implements Namespace.
func (n *CRDTNamespace) GetBucket(ctx context.Context, name string) (*BucketRecord, error) {
	return n.idx.GetBucket(ctx, name)
}

// ListBuckets implements Namespace.
func (n *CRDTNamespace) ListBuckets(ctx context.Context) ([]BucketRecord, error) {
	return n.idx.ListBuckets(ctx)
}

// DeleteBucket implements Namespace: it adds a bucket delete marker (see
// CRDTNamespace for what that does to objects written elsewhere) and
// discards this node's multipart uploads into the bucket. The emptiness
// check is local.
func (n *CRDTNamespace) DeleteBucket(ctx context.Context, name string) error {
	n.idx.bucketMu.Lock()
	defer n.idx.bucketMu.Unlock()
	ok, err := n.idx.bucketExists(name)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("delete bucket %s: %w", name, s3err.ErrNoSuchBucket)
	}
	nonEmpty, err := n.idx.hasObjects(ctx, name)
	if err == nil && !nonEmpty {
		// Non-current versions and delete markers count, as in S3.
		nonEmpty, err = n.hasVersions(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if nonEmpty {
		return fmt.Errorf("delete bucket %s: %w", name, s3err.ErrBucketNotEmpty)
	}
	if err := n.commit(ctx, entryDelete, nil, func(ver string) string { return bucketEntryKey(name, ver) }); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	b := n.idx.db.NewBatch()
	defer b.Close()
	dropped, err := n.idx.deleteBucketUploads(ctx, b, name)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if err := b.Commit(n.idx.wo); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	n.idx.openUploads.Add(-dropped)
	return nil
}

// GetObject implements Namespace. A Versioned record comes with its
// Version.
func (n *CRDTNamespace) GetObject(ctx context.Context, bucket, key string) (*ObjectRecord, error) {
	rec, err := n.idx.GetObject(ctx, bucket, key)
	if err != nil || !rec.Versioned {
		return rec, err
	}
	w, ok, err := n.winnerOf(bucket, key)
	if err != nil {
		return nil, err
	}
	if ok && w.kind == entryPut {
		rec.Version = w.version
	}
	return rec, nil
}

// Objects implements Namespace: a range scan of the local index.
func (n *CRDTNamespace) Objects(ctx context.Context, bucket, start string) (ObjectIterator, error) {
	return n.idx.Objects(ctx, bucket, start)
}

// lockObject takes the bucket (shared) and key locks of a local object
// write and checks the bucket exists. The caller MUST call the returned
// unlock.
func (n *CRDTNamespace) lockObject(bucket, key string) (unlock func(), err error) {
	n.idx.bucketMu.RLock()
	ok, err := n.idx.bucketExists(bucket)
	if err == nil && !ok {
		err = s3err.ErrNoSuchBucket
	}
	if err != nil {
		n.idx.bucketMu.RUnlock()
		return nil, err
	}
	mu := n.idx.lockKey(bucket, key)
	mu.Lock()
	return func() { mu.Unlock(); n.idx.bucketMu.RUnlock() }, nil
}

func (n *CRDTNamespace) current(bucket, key string) (*ObjectRecord, error) {
	v, ok, err := n.idx.get(objectKey(bucket, key))
	if err != nil || !ok {
		return nil, err
	}
	return decodeObject(bucket, key, v)
}

func validObjectName(bucket, key string) error {
	if bucket == "" || key == "" {
		return errors.New("empty bucket or key")
	}
	return nil
}

// PutObject implements Namespace. check is evaluated against this node's
// index: atomic with the node's other writes of the key, best effort
// across nodes (see CRDTNamespace).
func (n *CRDTNamespace) PutObject(ctx context.Context, rec *ObjectRecord, check PutCheck) error {
	if err := validObjectName(rec.Bucket, rec.Key); err != nil {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
	}
	unlock, err := n.lockObject(rec.Bucket, rec.Key)
	if err != nil {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
	}
	defer unlock()
	vs, err := n.bucketVersioning(ctx, rec.Bucket)
	if err != nil {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
	}
	rec.Versioned = vs == VersioningEnabled
	rec.Version, rec.DeleteMarker = "", false
	v, err := encodeObject(rec)
	if err != nil {
		return err
	}
	if check != nil {
		cur, err := n.current(rec.Bucket, rec.Key)
		if err != nil {
			return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
		}
		if err := check(cur); err != nil {
			return err
		}
	}
	ver, err := n.commitVersion(ctx, entryPut, v, func(ver string) string { return objectEntryKey(rec.Bucket, rec.Key, ver) })
	if err != nil {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
	}
	if vs != "" {
		rec.Version = ver
	}
	return nil
}

// UpdateObject implements Namespace, with PutObject's consistency.
func (n *CRDTNamespace) UpdateObject(ctx context.Context, bucket, key string, fn func(cur *ObjectRecord) (*ObjectRecord, error)) (*ObjectRecord, error) {
	if err := validObjectName(bucket, key); err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	unlock, err := n.lockObject(bucket, key)
	if err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	defer unlock()
	cur, err := n.current(bucket, key)
	if err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	rec, err := fn(cur)
	if err != nil {
		return nil, err
	}
	rec.Bucket, rec.Key = bucket, key
	vs, err := n.bucketVersioning(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	rec.Versioned = vs == VersioningEnabled
	rec.Version, rec.DeleteMarker = "", false
	v, err := encodeObject(rec)
	if err != nil {
		return nil, err
	}
	ver, err := n.commitVersion(ctx, entryPut, v, func(ver string) string { return objectEntryKey(bucket, key, ver) })
	if err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	if vs != "" {
		rec.Version = ver
	}
	return rec, nil
}

// DeleteObject implements Namespace: in an unversioned bucket it adds a
// delete marker when the key is visible on this node, and does nothing
// otherwise; in a versioned bucket it is DeleteCurrent.
func (n *CRDTNamespace) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := n.DeleteCurrent(ctx, bucket, key)
	return err
}

// deleteUnversioned is DeleteObject in an unversioned bucket; the caller
// holds the key's lock.
func (n *CRDTNamespace) deleteUnversioned(ctx context.Context, bucket, key string) error {
	_, ok, err := n.idx.get(objectKey(bucket, key))
	if err != nil {
		return fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	if !ok {
		return nil
	}
	if err := n.commit(ctx, entryDelete, nil, func(ver string) string { return objectEntryKey(bucket, key, ver) }); err != nil {
		return fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Prune deletes from the CRDT the entries this node wrote that have been
// superseded for at least PruneGrace (see CRDTNamespace), up to 1000 per
// call, and returns how many it deleted.
func (n *CRDTNamespace) Prune(ctx context.Context) (int, error) {
	keys, err := n.pruneDue(n.cfg.Clock(), pruneBatch)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	if err := n.publish(ctx, nil, keys); err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	pb := n.idx.db.NewBatch()
	defer pb.Close()
	for _, k := range keys {
		if err := pb.Delete(pruneKey(k), nil); err != nil {
			return 0, fmt.Errorf("prune: %w", err)
		}
	}
	if err := pb.Commit(n.idx.wo); err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	n.metrics.pruned.Add(float64(len(keys)))
	return len(keys), nil
}

func (n *CRDTNamespace) pruneLoop(ctx context.Context) {
	defer close(n.pruneDone)
	t := time.NewTicker(n.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			c, err := n.Prune(ctx)
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("namespace prune failed", "err", err)
				}
				break
			}
			if c < pruneBatch {
				break
			}
		}
	}
}
