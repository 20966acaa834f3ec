package upkeep

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/blockstore"
	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
	"s3mesh/internal/promreg"
)

// DefaultMultipartMaxAge is Config.MultipartMaxAge's default: 7 days.
const DefaultMultipartMaxAge = 7 * 24 * time.Hour

// Config configures an Upkeep. The zero value is valid.
type Config struct {
	// MultipartMaxAge is how long a multipart upload may stay in progress
	// before the janitor aborts it, checking every min(1h, MultipartMaxAge/4),
	// at least a second apart. Zero means DefaultMultipartMaxAge; negative
	// disables the janitor.
	MultipartMaxAge time.Duration
	// UsageScanInterval is how often the owned/cached usage is counted
	// again (the first scan runs a minute after Start). Zero means
	// DefaultUsageScanInterval; negative disables the loop.
	UsageScanInterval time.Duration
	// FetchTimeout bounds fsck's fetch of a good copy of a block. Zero
	// means fetch.DefaultTimeout.
	FetchTimeout time.Duration
	// Clock is the time uploads' ages are compared with and usage scans
	// are stamped with. Default time.Now.
	Clock func() time.Time
	// OnUploadExpired, when not nil, is called for each upload the
	// janitor aborts.
	OnUploadExpired func()
	// CacheBudget bounds, in bytes, the blocks this node holds only
	// because it read them (see cache.go): over it, the least recently
	// read are evicted. Zero or negative: no budget.
	CacheBudget int64
	// MinFree is the free space, in bytes, kept on the disk holding
	// DiskPath: below it cached blocks are evicted and writes of new data
	// fail with InsufficientStorage. Zero means DefaultMinFree; negative
	// turns it off.
	MinFree int64
	// DiskPath is a path on the disk the blocks are stored on (the block
	// store's directory). Empty: the free space is not watched.
	DiskPath string
	// Logger receives upkeep's messages. nil discards.
	Logger *slog.Logger
	// Registerer receives the s3mesh_gc_* and s3mesh_blockstore_* usage
	// metrics. nil registers nothing.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.MultipartMaxAge == 0 {
		c.MultipartMaxAge = DefaultMultipartMaxAge
	}
	if c.UsageScanInterval == 0 {
		c.UsageScanInterval = DefaultUsageScanInterval
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = fetch.DefaultTimeout
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.MinFree == 0 {
		c.MinFree = DefaultMinFree
	}
	if c.OnUploadExpired == nil {
		c.OnUploadExpired = func() {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	if c.FetchTimeout < 0 {
		return fmt.Errorf("upkeep config: fetch timeout %s is negative", c.FetchTimeout)
	}
	return nil
}

// Upkeep is the node's maintenance: garbage collection (GC), fsck
// (Fsck), the owned/cached usage scan (ScanUsage) and the multipart
// janitor. It reads the live roots from the namespace, never its keys.
// Writes that add or reference blocks note them in a Write (BeginWrite),
// so that GC runs beside them (see writes.go). Its methods are safe for
// concurrent use.
type Upkeep struct {
	writeState
	cfg    Config
	blocks *blockstore.Store
	gc     gcState
	gcm    *gcMetrics
	cm     *cacheMetrics
	cache  cacheState
	usage  *usageState
	reg    *promreg.Set

	// Set by Start.
	crdt    *namespace.CRDTNamespace
	ns      namespace.Namespace
	idx     *namespace.PebbleNamespace
	uploads namespace.UploadStore
	fetch   *fetch.Fetcher

	stop    context.CancelFunc
	loops   sync.WaitGroup
	stopped sync.Once
	// janitorDone is closed when the janitor has stopped; nil when it
	// never ran.
	janitorDone chan struct{}
}

// New returns the upkeep of the node whose blocks are blocks. Its
// TrackDeltas wraps the DAG service the namespace is opened with; Start
// starts it once the namespace is open.
func New(cfg Config, blocks *blockstore.Store) (*Upkeep, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u := &Upkeep{cfg: cfg, blocks: blocks, gcm: newGCMetrics(), usage: &usageState{}, stop: func() {}}
	u.writes = map[*Write]struct{}{}
	u.cache.access = map[string]int64{}
	u.cache.reads = map[*openRead]struct{}{}
	u.cache.wake = make(chan struct{}, 1)
	u.cm = newCacheMetrics(u)
	cs := append(u.gcm.collectors(), usageCollectors(u.usage)...)
	var err error
	if u.reg, err = promreg.Register(cfg.Registerer, "upkeep", append(cs, u.cm.collectors()...)...); err != nil {
		return nil, err
	}
	return u, nil
}

func (n *Upkeep) unregister() { n.reg.Unregister() }

// Start starts the janitor and the usage loop over the open namespace ns,
// fetching good copies of bad blocks through f. Close it before ns
// closes.
func (n *Upkeep) Start(ns *namespace.CRDTNamespace, f *fetch.Fetcher) {
	n.crdt, n.ns, n.idx, n.uploads, n.fetch = ns, ns, ns.Index(), ns.Index(), f
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	if n.cfg.MultipartMaxAge >= 0 {
		interval := janitorInterval(n.cfg.MultipartMaxAge)
		n.janitorDone = make(chan struct{})
		n.loops.Go(func() {
			defer close(n.janitorDone)
			every(ctx, interval, interval, func() {
				if _, err := n.SweepUploads(ctx); err != nil && ctx.Err() == nil {
					n.cfg.Logger.Warn("multipart janitor", "op", "AbortMultipartUpload", "err", err)
				}
			})
		})
	}
	if n.cfg.UsageScanInterval > 0 {
		n.loops.Go(func() { n.usageLoop(ctx, n.cfg.UsageScanInterval) })
	}
	if n.cfg.CacheBudget > 0 || (n.cfg.MinFree > 0 && n.cfg.DiskPath != "") {
		n.loops.Go(func() { n.evictLoop(ctx) })
	}
}

// Close stops the janitor and the usage loop and unregisters the metrics.
// Idempotent.
func (n *Upkeep) Close() {
	n.stopped.Do(func() {
		n.stop()
		n.loops.Wait()
		n.unregister()
	})
}

// TrackDeltas wraps the DAG service the namespace stores and fetches its
// deltas through, so that GC keeps the deltas in flight (see
// gcdeltas.go).
func (n *Upkeep) TrackDeltas(d ipld.DAGService) ipld.DAGService {
	return &trackingDAG{DAGService: d, t: &n.gc.deltas, has: n.blocks.Blockstore().Has}
}
