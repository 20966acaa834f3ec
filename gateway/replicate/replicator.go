package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bstore "github.com/ipfs/boxo/blockstore"

	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
	"s3mesh/s3api/s3err"
)

// Replicated buckets
//
// A bucket whose namespace.BucketRecord.Replicated is true is held in full by every
// node (see ../shared/DESIGN.md, "Replication policy"): each node's
// Replicator fetches the blocks of every object of the bucket in the
// background as soon as the object's record is visible, and keeps them
// (GC keeps every block of every record's DAG). An operator marks a bucket
// with Node.SetBucketReplicated (the admin API, "s3mesh bucket replicate")
// or Config.ReplicatedBuckets; the mark is a bucket setting replicated by
// the namespace, so every office follows it.
//
// # Queue
//
// The namespace's hooks (CRDTConfig.OnObject, OnBucket) only note what
// happened in memory and wake the replicator's goroutine: they run on the
// path that applies entries and must not block. That goroutine writes the
// work to a queue in its own key space of the node's local database
// (namespace.OwnerReplicate, under r/), which an index rebuild keeps:
//
//	r/q/<bucket>/<key>  queue entry: the root CID being fetched, the
//	                    object's size, progress (leaves and bytes local),
//	                    attempts and when the next one is due (JSON)
//	r/d/<bucket>/<key>  done marker: the root CID of the version this node
//	                    holds in full
//
// An entry is removed, and the done marker written, when every block of
// the object's DAG is local; an entry is dropped without fetching when the
// key's record is gone or names another root (an overwrite queues the new
// root in its place and stops a fetch of the old one), or when its bucket
// is no longer replicated. The queue survives restarts: a node resumes
// where it stopped, and blocks already stored are not fetched again.
//
// Queue writes are not synced: the queue is a cache of work that can be
// recomputed. At start (and whenever the in-memory inbox of the hooks
// overflowed, after replInboxMax records arrived faster than they were
// queued), the replicator scans every replicated bucket and queues each
// object that has neither a done marker nor a queue entry for its current
// root. The scan costs one pass over the bucket's records and two point
// reads per object (no DAG is walked): about a second per million objects.
// Done markers of objects that were deleted or overwritten are removed in
// the same scan.
//
// # Fetch
//
// See fetch.go: per object, the dag-pb nodes first, then the missing
// raw leaves in this node's own order, at most Config.ReplicationWindow
// at once through one Bitswap session; Config.ReplicationObjects objects at
// once. An attempt that fails (no reachable peer sends a block within
// Config.FetchTimeout, a peer is down) keeps its progress and is retried
// after a backoff from replRetryMin doubling to replRetryMax.
//
// # Completeness
//
// Status reports, per replicated bucket, how many objects and
// bytes are held in full, without walking any DAG: an object is complete
// when its done marker names its current root, and the bytes local of an
// incomplete one are those its queue entry records. It costs one pass over
// the bucket's records and two point reads per object.

// Replication defaults and bounds.
const (
	// DefaultWindow is Config.Window's default: 32
	// blocks of one object requested at once.
	DefaultWindow = 32
	// DefaultObjects is Config.Objects's default:
	// two objects fetched at once.
	DefaultObjects = 2

	// MaxObjects bounds Config.Objects.
	MaxObjects = 64
	// MaxWindow bounds Config.Window.
	MaxWindow = 1024
	// replInboxMax bounds the records the hooks hold in memory before the
	// Replicator queues them; beyond it they are dropped and every
	// replicated bucket is scanned again.
	replInboxMax = 1 << 16
	// replRetryMin and replRetryMax bound the wait before a failed object
	// is tried again.
	replRetryMin = time.Second
	replRetryMax = 5 * time.Minute
	// replRetryScan is the wait before the replicator retries after its
	// own database failed.
	replRetryScan = 10 * time.Second
	// replSaveEvery is how often an object being fetched has its progress
	// saved and its record checked.
	replSaveEvery = time.Second
)

var (
	// Within the replicator's key space (namespace.OwnerReplicate).
	replQueuePrefix = []byte("q/")
	replDonePrefix  = []byte("d/")
)

// errReplDropped is the cause a fetch is stopped with when its object no
// longer needs it: the record was deleted or overwritten, or the bucket is
// no longer replicated.
var errReplDropped = errors.New("replication dropped: the record changed or its bucket is no longer replicated")

func replKey(prefix []byte, bucket, key string) []byte {
	k := make([]byte, 0, len(prefix)+len(bucket)+1+len(key))
	k = append(k, prefix...)
	k = append(k, bucket...)
	k = append(k, '/')
	return append(k, key...)
}

func replBucketPrefix(prefix []byte, bucket string) []byte { return replKey(prefix, bucket, "") }

// splitReplKey returns the bucket and key of a queue or done key (bucket
// names hold no '/').
func splitReplKey(prefix, k []byte) (bucket, key string, ok bool) {
	b, rest, found := bytes.Cut(k[len(prefix):], []byte("/"))
	return string(b), string(rest), found
}

// replName is the in-memory name of an object: bucket/key.
func replName(bucket, key string) string { return bucket + "/" + key }

// replEntry is a queue entry.
type replEntry struct {
	Root string `json:"root"`
	Size int64  `json:"size"`
	// Writer is the node that wrote the record, when known: it holds
	// every block and has no share of its own (see replicator.stripe).
	Writer string `json:"writer,omitempty"`
	// LeavesTotal is 0 until the DAG's structure is known.
	LeavesLocal int64 `json:"leaves_local"`
	LeavesTotal int64 `json:"leaves_total"`
	BytesLocal  int64 `json:"bytes_local"`
	// Since is when the entry was queued, NotBefore when the next attempt
	// is due (Unix ns; 0 = now).
	Since     int64  `json:"since"`
	NotBefore int64  `json:"not_before,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

func (e replEntry) pendingBytes() int64 { return max(0, e.Size-e.BytesLocal) }

// replItem is a record the OnObject hook saw.
type replItem struct {
	bucket, key, root string
	size              int64
	writer            string // namespace.ObjectRecord.Writer
}

// replActive is an object being fetched.
type replActive struct {
	bucket, key, root string
	cancel            context.CancelCauseFunc
	// claimed is closed once the swarm fetch has claimed the leaves (a
	// GET of the object then waits for them instead of asking peers
	// itself), when the fetch goes through sessions, or when it ends.
	claimed   chan struct{}
	claimOnce sync.Once
	// progress, updated as blocks arrive
	leavesLocal, leavesTotal, bytesLocal atomic.Int64
}

func (a *replActive) markClaimed() { a.claimOnce.Do(func() { close(a.claimed) }) }

// AwaitClaim waits, until ctx ends, for an active fetch of root at
// bucket/key to claim its leaves (see replActive.claimed); it returns at
// once when there is none. A GET calls it before reading, so that every
// office reading a new object does not ask the writer for its first
// leaves while the swarm fetch starts.
func (r *Replicator) AwaitClaim(ctx context.Context, bucket, key, root string) {
	r.mu.Lock()
	a := r.active[replName(bucket, key)]
	r.mu.Unlock()
	if a == nil || a.root != root {
		return
	}
	select {
	case <-a.claimed:
	case <-ctx.Done():
	}
}

// progress copies a's progress into its queue entry x.
func (a *replActive) progress(x *replEntry) {
	x.LeavesLocal, x.LeavesTotal, x.BytesLocal = a.leavesLocal.Load(), a.leavesTotal.Load(), a.bytesLocal.Load()
}

// Replicator fetches the objects of replicated buckets (see above). It is
// owned by the Node: started in New once the namespace is open, stopped in
// Close before the namespace closes.
type Replicator struct {
	cfg    Config
	self   string // this node's ID (its peer ID with pubsub)
	log    *slog.Logger
	window int
	limit  int // objects at once

	// Set by Start.
	ns     *namespace.CRDTNamespace
	fetch  *fetch.Fetcher
	blocks bstore.Blockstore

	metrics *replMetrics
	wake    chan struct{} // capacity 1
	// ks is the replicator's key space in the node's database: the queue
	// and the done markers.
	ks *namespace.Keyspace

	mu sync.Mutex // guards the fields below; never held across a namespace call
	// loaded is set once replicated holds the buckets' state; until then
	// the OnObject hook drops records (the start scan finds them).
	loaded     bool
	replicated map[string]bool // buckets replicated, as last read
	inObjects  []replItem      // from OnObject, not yet queued
	inBuckets  map[string]bool // from OnBucket: buckets whose record changed
	rescan     bool            // scan every replicated bucket
	active     map[string]*replActive
	// configured holds the Config.ReplicatedBuckets that did not exist at
	// start: they are marked replicated when they are created.
	configured map[string]bool

	// qmu serialises queue writes, so queued and pending (the sums over
	// the queue's entries) stay exact.
	qmu     sync.Mutex
	queued  atomic.Int64
	pending atomic.Int64

	cancel   context.CancelFunc
	done     chan struct{}
	workers  sync.WaitGroup
	stopOnce sync.Once
}

// New returns a replicator, whose hooks (OnObject, OnBucket) may be given
// to the namespace before it opens; Start starts it.
func New(cfg Config) (*Replicator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Replicator{
		cfg: cfg, self: cfg.Self, log: cfg.Logger.With("component", "replicator"),
		window: cfg.Window, limit: cfg.Objects,
		wake: make(chan struct{}, 1), replicated: map[string]bool{}, inBuckets: map[string]bool{},
		active: map[string]*replActive{}, configured: map[string]bool{},
	}, nil
}

// Start registers the metrics and starts the replicator's goroutine over
// the open namespace ns, reading blocks through f and checking them in
// blocks (the node's local store). Stop it before ns closes.
func (r *Replicator) Start(ns *namespace.CRDTNamespace, f *fetch.Fetcher, blocks bstore.Blockstore) error {
	r.ns, r.fetch, r.blocks = ns, f, blocks
	ks, err := r.ns.Keyspace(namespace.OwnerReplicate)
	if err != nil {
		return fmt.Errorf("replicator: %w", err)
	}
	r.ks = ks
	m, err := newReplMetrics(r.cfg.Registerer, r)
	if err != nil {
		return err
	}
	r.metrics = m
	// The totals are right from the start: one pass over the queue.
	objects, pending, err := r.sumQueue(context.Background(), nil)
	if err != nil {
		m.unregister()
		return fmt.Errorf("replicator: %w", err)
	}
	r.queued.Store(objects)
	r.pending.Store(pending)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(ctx)
	return nil
}

// Stop stops the fetches and waits for them to save their progress.
// Idempotent.
func (r *Replicator) Stop() {
	r.stopOnce.Do(func() {
		if r.cancel == nil {
			return
		}
		r.cancel()
		<-r.done
		r.metrics.unregister()
	})
}

func (r *Replicator) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// OnObject is namespace.CRDTConfig.OnObject: it notes a record of a replicated
// bucket and stops a fetch of the key's previous root. It does not block.
func (r *Replicator) OnObject(rec *namespace.ObjectRecord) {
	r.mu.Lock()
	if a := r.active[replName(rec.Bucket, rec.Key)]; a != nil && a.root != rec.Root {
		a.cancel(errReplDropped)
	}
	queued := false
	if r.loaded && r.replicated[rec.Bucket] {
		if len(r.inObjects) < replInboxMax {
			r.inObjects = append(r.inObjects, replItem{bucket: rec.Bucket, key: rec.Key, root: rec.Root, size: rec.Size, writer: rec.Writer})
		} else {
			r.rescan = true
		}
		queued = true
	}
	r.mu.Unlock()
	if queued {
		r.poke()
	}
}

// OnBucket is namespace.CRDTConfig.OnBucket: it notes that the bucket's record
// changed (the replicator reads it again) and stops the bucket's fetches
// when it is not replicated. It does not block.
func (r *Replicator) OnBucket(b *namespace.BucketRecord) {
	r.mu.Lock()
	r.inBuckets[b.Name] = true
	if !b.Replicated {
		for _, a := range r.active {
			if a.bucket == b.Name {
				a.cancel(errReplDropped)
			}
		}
	}
	r.mu.Unlock()
	r.poke()
}

func (r *Replicator) isReplicated(bucket string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replicated[bucket]
}

// run is the replicator's goroutine: it queues what the hooks saw and
// starts fetches, until ctx ends.
func (r *Replicator) run(ctx context.Context) {
	defer close(r.done)
	defer r.workers.Wait()
	for attempt := 0; ; attempt++ {
		err := r.init(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Error("replicator cannot start; retrying", "err", err)
		if !sleepCtx(ctx, replBackoff(attempt)) {
			return
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var due time.Time
		if err := r.drain(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Error("replication queue update failed; retrying", "err", err)
			r.mu.Lock()
			r.rescan = true
			r.mu.Unlock()
			due = time.Now().Add(replRetryScan)
		}
		next, err := r.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("replication queue read failed; retrying", "err", err)
			next = time.Now().Add(replRetryScan)
		}
		if due.IsZero() || (!next.IsZero() && next.Before(due)) {
			due = next
		}
		var tc <-chan time.Time
		if !due.IsZero() {
			timer.Reset(max(time.Until(due), time.Millisecond))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tc:
		}
		timer.Stop()
	}
}

// init loads the buckets' state, applies
// Config.ReplicatedBuckets and schedules the start scan.
func (r *Replicator) init(ctx context.Context) error {
	bs, err := r.ns.ListBuckets(ctx)
	if err != nil {
		return fmt.Errorf("replicator: %w", err)
	}
	set := map[string]bool{}
	exists := map[string]bool{}
	for _, b := range bs {
		exists[b.Name] = true
		if b.Replicated {
			set[b.Name] = true
		}
	}
	r.mu.Lock()
	r.replicated, r.loaded, r.rescan = set, true, true
	r.mu.Unlock()
	var missing []string
	for _, name := range r.cfg.ReplicatedBuckets {
		switch {
		case !exists[name]:
			missing = append(missing, name)
			r.mu.Lock()
			r.configured[name] = true
			r.mu.Unlock()
		case !set[name]:
			r.markConfigured(ctx, name)
		}
	}
	if len(missing) > 0 {
		r.log.Warn("configured replicated buckets do not exist yet; each is marked replicated when it is created", "buckets", missing)
	}
	r.log.Info("replicator started", "replicated_buckets", len(set), "queued_objects", r.queued.Load(),
		"pending_bytes", r.pending.Load(), "window", r.window, "objects_at_once", r.limit)
	return nil
}

// markConfigured marks a bucket of Config.ReplicatedBuckets replicated.
func (r *Replicator) markConfigured(ctx context.Context, name string) {
	if _, err := r.SetBucketReplicated(ctx, name, true); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("cannot mark a configured bucket replicated", "bucket", name, "err", err)
		}
		return
	}
	r.log.Info("bucket marked replicated by the configuration", "bucket", name)
}

// drain handles what the hooks noted: bucket changes first, then a rescan
// if one is due, then the records.
func (r *Replicator) drain(ctx context.Context) error {
	r.mu.Lock()
	objs, changed, rescan := r.inObjects, r.inBuckets, r.rescan
	r.inObjects, r.inBuckets, r.rescan = nil, map[string]bool{}, false
	r.mu.Unlock()
	names := make([]string, 0, len(changed))
	for name := range changed {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		if err := r.bucketChanged(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	if rescan {
		if err := r.scanAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, it := range objs {
		if !r.isReplicated(it.bucket) {
			continue
		}
		if err := r.enqueue(it); err != nil {
			errs = append(errs, err)
			break // the rescan that follows the error finds the rest
		}
	}
	return errors.Join(errs...)
}

// bucketChanged reads a bucket whose record changed: a bucket that became
// replicated is scanned, one that no longer is has its fetches stopped and
// its queue entries dropped.
func (r *Replicator) bucketChanged(ctx context.Context, name string) error {
	b, err := r.ns.GetBucket(ctx, name)
	if err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
		return err
	}
	exists := err == nil
	on := exists && b.Replicated
	r.mu.Lock()
	was := r.replicated[name]
	if on {
		r.replicated[name] = true
	} else {
		delete(r.replicated, name)
	}
	configured := exists && r.configured[name]
	if configured {
		delete(r.configured, name)
	}
	r.mu.Unlock()
	if configured && !on {
		r.markConfigured(ctx, name) // its own OnBucket follows
		return nil
	}
	switch {
	case on && !was:
		r.log.Info("bucket replicated: fetching its objects", "bucket", name)
		return r.scanBucket(ctx, name)
	case !on && was:
		r.log.Info("bucket no longer replicated: its fetches stop", "bucket", name)
		r.cancelBucket(name)
		return r.dropBucket(ctx, name)
	}
	return nil
}

func (r *Replicator) cancelBucket(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.active {
		if a.bucket == name {
			a.cancel(errReplDropped)
		}
	}
}

// scanAll scans every replicated bucket and drops the queue entries of
// buckets that are not.
func (r *Replicator) scanAll(ctx context.Context) error {
	r.mu.Lock()
	names := make([]string, 0, len(r.replicated))
	for name := range r.replicated {
		names = append(names, name)
	}
	r.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		if err := r.scanBucket(ctx, name); err != nil {
			return err
		}
	}
	// Entries of buckets no longer replicated (marked off while this node
	// was down) are dropped when the dispatcher meets them.
	return nil
}

// scanBucket queues every object of the bucket that has neither a done
// marker nor a queue entry for its current root, and removes the done
// markers of objects gone or overwritten.
func (r *Replicator) scanBucket(ctx context.Context, name string) error {
	it, err := r.ns.Objects(ctx, name, "")
	if errors.Is(err, s3err.ErrNoSuchBucket) {
		return nil
	}
	if err != nil {
		return err
	}
	count := 0
	for it.Next() {
		if err := ctx.Err(); err != nil {
			it.Close()
			return err
		}
		rec, err := it.Record()
		if err != nil {
			it.Close()
			return err
		}
		item := replItem{bucket: name, key: rec.Key, root: rec.Root, size: rec.Size}
		if r.ns != nil {
			// Best effort: without it the writer's stripe is no one's share.
			item.writer, _ = r.ns.Writer(name, rec.Key)
		}
		if err := r.enqueue(item); err != nil {
			it.Close()
			return err
		}
		count++
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	r.log.Debug("replicated bucket scanned", "bucket", name, "objects", count)
	return r.pruneDone(ctx, name)
}

// pruneDone removes the done markers of the bucket whose record is gone or
// names another root.
func (r *Replicator) pruneDone(ctx context.Context, bucket string) error {
	p := replBucketPrefix(replDonePrefix, bucket)
	it, err := r.ks.Scan(ctx, p)
	if err != nil {
		return err
	}
	var stale [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		key := string(it.Key()[len(p):])
		rec, err := r.ns.GetObject(ctx, bucket, key)
		if err == nil && rec.Root == string(it.Value()) {
			continue
		}
		if errors.Is(err, s3err.ErrNoSuchKey) || errors.Is(err, s3err.ErrNoSuchBucket) {
			err = nil
		}
		if err != nil {
			it.Close()
			return err
		}
		stale = append(stale, bytes.Clone(it.Key()))
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(stale) == 0 {
		return err
	}
	b := r.ks.NewBatch()
	defer b.Close()
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return b.Commit()
}

// getEntry reads a queue entry.
func (r *Replicator) getEntry(k []byte) (replEntry, bool, error) {
	v, ok, err := r.ks.Get(k)
	if err != nil || !ok {
		return replEntry{}, false, err
	}
	var e replEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return replEntry{}, false, fmt.Errorf("replication queue entry %q: %w", k, err)
	}
	return e, true, nil
}

// account adjusts the queue's totals for an entry replaced (had: old was
// there) by another (has: e is there now).
func (r *Replicator) account(old replEntry, had bool, e replEntry, has bool) {
	if had {
		r.queued.Add(-1)
		r.pending.Add(-old.pendingBytes())
	}
	if has {
		r.queued.Add(1)
		r.pending.Add(e.pendingBytes())
	}
}

// enqueue queues root for bucket/key unless this node holds it in full or
// has it queued already. A queued other root (an older version) is
// replaced, its progress dropped.
func (r *Replicator) enqueue(it replItem) error {
	bucket, key, root, size := it.bucket, it.key, it.root, it.size
	r.qmu.Lock()
	defer r.qmu.Unlock()
	dk := replKey(replDonePrefix, bucket, key)
	done, hasDone, err := r.ks.Get(dk)
	if err != nil {
		return err
	}
	if hasDone && string(done) == root {
		return nil
	}
	qk := replKey(replQueuePrefix, bucket, key)
	old, had, err := r.getEntry(qk)
	if err != nil {
		return err
	}
	if had && old.Root == root {
		return nil
	}
	e := replEntry{Root: root, Size: size, Writer: it.writer, Since: time.Now().UnixNano()}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b := r.ks.NewBatch()
	defer b.Close()
	if err := b.Set(qk, v); err != nil {
		return err
	}
	if hasDone {
		if err := b.Delete(dk); err != nil {
			return err
		}
	}
	if err := b.Commit(); err != nil {
		return err
	}
	r.account(old, had, e, true)
	return nil
}

// updateEntry applies fn to the queue entry of bucket/key if it is still
// for root; it never creates one. It reports whether it did.
func (r *Replicator) updateEntry(bucket, key, root string, fn func(*replEntry)) (bool, error) {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	qk := replKey(replQueuePrefix, bucket, key)
	old, had, err := r.getEntry(qk)
	if err != nil || !had || old.Root != root {
		return false, err
	}
	e := old
	fn(&e)
	v, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	if err := r.ks.Set(qk, v); err != nil {
		return false, err
	}
	r.account(old, true, e, true)
	return true, nil
}

// removeEntry removes the queue entry of bucket/key if it is for root (any
// root when root is ""); with done, it also records that the node holds
// root in full. It reports whether it removed one.
func (r *Replicator) removeEntry(bucket, key, root string, done bool) (bool, error) {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	qk := replKey(replQueuePrefix, bucket, key)
	old, had, err := r.getEntry(qk)
	if err != nil || !had || (root != "" && old.Root != root) {
		return false, err
	}
	b := r.ks.NewBatch()
	defer b.Close()
	if err := b.Delete(qk); err != nil {
		return false, err
	}
	if done {
		if err := b.Set(replKey(replDonePrefix, bucket, key), []byte(old.Root)); err != nil {
			return false, err
		}
	}
	if err := b.Commit(); err != nil {
		return false, err
	}
	r.account(old, true, replEntry{}, false)
	return true, nil
}

// dropBucket removes every queue entry of the bucket.
func (r *Replicator) dropBucket(ctx context.Context, bucket string) error {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	p := replBucketPrefix(replQueuePrefix, bucket)
	objects, pending, err := r.sumQueue(ctx, p)
	if err != nil || objects == 0 {
		return err
	}
	if err := r.ks.DeleteRange(p); err != nil {
		return err
	}
	r.queued.Add(-objects)
	r.pending.Add(-pending)
	return nil
}

// sumQueue counts the queue entries under p (the whole queue when p is
// nil) and sums their pending bytes.
func (r *Replicator) sumQueue(ctx context.Context, p []byte) (objects, pending int64, err error) {
	if p == nil {
		p = replQueuePrefix
	}
	it, err := r.ks.Scan(ctx, p)
	if err != nil {
		return 0, 0, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		var e replEntry
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			continue // dropped when the dispatcher meets it
		}
		objects++
		pending += e.pendingBytes()
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return objects, pending, err
}

// dispatch starts fetches while fewer than r.limit run, taking due queue
// entries in key order. It returns when the next backed-off entry is due
// (zero when none is, or when every slot is busy: a fetch ending wakes the
// Replicator).
func (r *Replicator) dispatch(ctx context.Context) (time.Time, error) {
	for {
		r.mu.Lock()
		busy := len(r.active) >= r.limit
		r.mu.Unlock()
		if busy || ctx.Err() != nil {
			return time.Time{}, nil
		}
		bucket, key, e, next, err := r.nextDue(ctx)
		if err != nil || bucket == "" {
			return next, err
		}
		r.launch(ctx, bucket, key, e)
	}
}

// nextDue returns the first queue entry that is due and not being
// fetched, or, when there is none, when the first one will be due. It
// drops the entries of buckets that are not replicated, and unreadable
// ones, on its way.
func (r *Replicator) nextDue(ctx context.Context) (bucket, key string, e replEntry, next time.Time, err error) {
	it, err := r.ks.Scan(ctx, replQueuePrefix)
	if err != nil {
		return "", "", replEntry{}, time.Time{}, err
	}
	now := time.Now().UnixNano()
	type stale struct{ bucket, key string }
	var drop []stale
	for ok := it.First(); ok; ok = it.Next() {
		b, k, found := splitReplKey(replQueuePrefix, it.Key())
		if !found {
			continue
		}
		r.mu.Lock()
		_, busy := r.active[replName(b, k)]
		on := r.replicated[b]
		r.mu.Unlock()
		if busy {
			continue
		}
		var ent replEntry
		if !on || json.Unmarshal(it.Value(), &ent) != nil {
			if len(drop) < 1024 {
				drop = append(drop, stale{b, k})
			}
			continue
		}
		if ent.NotBefore > now {
			if t := time.Unix(0, ent.NotBefore); next.IsZero() || t.Before(next) {
				next = t
			}
			continue
		}
		bucket, key, e = b, k, ent
		break
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	for _, s := range drop {
		if _, derr := r.removeEntry(s.bucket, s.key, "", false); derr != nil && err == nil {
			err = derr
		}
	}
	if err != nil {
		return "", "", replEntry{}, time.Time{}, err
	}
	return bucket, key, e, next, nil
}

// launch starts fetching one queue entry.
func (r *Replicator) launch(parent context.Context, bucket, key string, e replEntry) {
	ctx, cancel := context.WithCancelCause(parent)
	a := &replActive{bucket: bucket, key: key, root: e.Root, cancel: cancel, claimed: make(chan struct{})}
	a.leavesLocal.Store(e.LeavesLocal)
	a.leavesTotal.Store(e.LeavesTotal)
	a.bytesLocal.Store(e.BytesLocal)
	name := replName(bucket, key)
	r.mu.Lock()
	r.active[name] = a
	r.mu.Unlock()
	r.workers.Add(1)
	go func() {
		defer r.workers.Done()
		r.work(ctx, parent, bucket, key, e, a)
		a.markClaimed()
		cancel(nil)
		r.mu.Lock()
		if r.active[name] == a {
			delete(r.active, name)
		}
		r.mu.Unlock()
		r.poke()
	}()
}

// work fetches one object and records the outcome in the queue.
func (r *Replicator) work(ctx, parent context.Context, bucket, key string, e replEntry, a *replActive) {
	start := time.Now()
	err := r.fetchObject(ctx, bucket, key, e, a)
	var qerr error
	switch {
	case err == nil:
		var removed bool
		if removed, qerr = r.removeEntry(bucket, key, e.Root, true); removed {
			r.metrics.completed.Inc()
		}
		r.log.Debug("object replicated", "bucket", bucket, "key", key, "cid", e.Root,
			"leaves", a.leavesTotal.Load(), "dur", time.Since(start))
	case errors.Is(err, errReplDropped):
		_, qerr = r.removeEntry(bucket, key, e.Root, false)
		r.log.Debug("object replication dropped", "bucket", bucket, "key", key, "cid", e.Root)
	case parent.Err() != nil:
		// The node is closing: keep the progress for the next start.
		_, qerr = r.updateEntry(bucket, key, e.Root, a.progress)
	default:
		gained := a.leavesLocal.Load() > e.LeavesLocal
		var wait time.Duration
		_, qerr = r.updateEntry(bucket, key, e.Root, func(x *replEntry) {
			a.progress(x)
			if gained {
				x.Attempts = 1 // progress was made: retry soon
			} else {
				x.Attempts++
			}
			wait = replBackoff(x.Attempts - 1)
			x.NotBefore = time.Now().Add(wait).UnixNano()
			x.LastError = err.Error()
		})
		r.log.Warn("object replication incomplete; will retry", "bucket", bucket, "cid", e.Root,
			"leaves_local", a.leavesLocal.Load(), "leaves_total", a.leavesTotal.Load(), "retry_in", wait.Round(time.Millisecond), "err", err)
	}
	if qerr != nil && parent.Err() == nil {
		r.log.Error("replication queue update failed", "bucket", bucket, "cid", e.Root, "err", qerr)
	}
}

// replBackoff is the wait before retry attempt+1: replRetryMin doubled per
// attempt up to replRetryMax, ±20% so nodes do not retry in step.
func replBackoff(attempt int) time.Duration {
	d := replRetryMax
	if attempt < 20 {
		d = min(replRetryMin<<attempt, replRetryMax)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
