package upkeep

import "github.com/prometheus/client_golang/prometheus"

// gcMetrics are the garbage collector's collectors (see metrics).
type gcMetrics struct {
	runs     prometheus.Counter
	removed  prometheus.Counter
	freed    prometheus.Counter
	duration prometheus.Histogram
}

func newGCMetrics() *gcMetrics {
	return &gcMetrics{
		runs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gc", Name: "runs_total",
			Help: "Garbage collections run, whether they completed, failed or were cancelled.",
		}),
		removed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gc", Name: "removed_blocks_total",
			Help: "Blocks removed from the local block store by garbage collection.",
		}),
		freed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gc", Name: "freed_bytes_total",
			Help: "Bytes of block data removed from the local block store by garbage collection.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "s3mesh", Subsystem: "gc", Name: "duration_seconds",
			Help:    "Time a garbage collection took, from its start to its end, including the wait for writes in flight.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
	}
}

func (m *gcMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.runs, m.removed, m.freed, m.duration}
}

// observe records one run.
func (m *gcMetrics) observe(r GCResult) {
	m.runs.Inc()
	m.removed.Add(float64(r.Removed))
	m.freed.Add(float64(r.FreedBytes))
	m.duration.Observe(r.Duration.Seconds())
}

// usageCollectors export the latest BlockUsage (see Node.ScanUsage).
func usageCollectors(u *usageState) []prometheus.Collector {
	gauge := func(name, help string, v func(BlockUsage) int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "s3mesh", Subsystem: "blockstore", Name: name, Help: help},
			func() float64 { return float64(v(u.get())) })
	}
	return []prometheus.Collector{
		gauge("owned_blocks", "Blocks of objects this node wrote, of its multipart uploads and of the namespace, at the latest usage scan.", func(b BlockUsage) int64 { return b.OwnedBlocks }),
		gauge("owned_bytes", "Bytes of the owned blocks at the latest usage scan.", func(b BlockUsage) int64 { return b.OwnedBytes }),
		gauge("cached_blocks", "Blocks held only for objects written at other offices (fetched copies), at the latest usage scan.", func(b BlockUsage) int64 { return b.CachedBlocks }),
		gauge("cached_bytes", "Bytes of the cached blocks at the latest usage scan.", func(b BlockUsage) int64 { return b.CachedBytes }),
		gauge("unreferenced_bytes", "Bytes of blocks no object, upload or namespace delta needs (the next GC removes them), at the latest usage scan.", func(b BlockUsage) int64 { return b.UnreferencedBytes }),
		gauge("usage_scan_timestamp_seconds", "When the latest usage scan ended (Unix seconds; 0 before the first).", func(b BlockUsage) int64 {
			if b.At.IsZero() {
				return 0
			}
			return b.At.Unix()
		}),
	}
}

// cacheMetrics are the cache's and the disk's collectors.
type cacheMetrics struct {
	budget, used          prometheus.GaugeFunc
	diskFree              prometheus.Gauge
	cacheFetched          prometheus.Counter
	evicted, evictedBytes prometheus.Counter
	refused               prometheus.Counter
}

func newCacheMetrics(u *Upkeep) *cacheMetrics {
	const ns, sub = "s3mesh", "cache"
	return &cacheMetrics{
		budget: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "budget_bytes",
			Help: "The cache budget: bytes of blocks this node may hold only because it read them (0: none)."},
			func() float64 { return float64(max(u.cfg.CacheBudget, 0)) }),
		used: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "bytes",
			Help: "Bytes of evictable blocks (read from peers, or unreferenced): counted by each eviction and usage scan, plus the bytes fetched for reads since."},
			func() float64 { return float64(u.cacheUse()) }),
		diskFree: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "disk_free_bytes",
			Help: "Free bytes of the block store's disk at the last check against the minimum free space."}),
		cacheFetched: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fetched_bytes_total",
			Help: "Bytes fetched from peers for reads that do not keep them (cache fills)."}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evicted_blocks_total",
			Help: "Cached blocks evicted, least recently read first, for the cache budget or the minimum free space."}),
		evictedBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evicted_bytes_total",
			Help: "Bytes of the cached blocks evicted."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "writes_refused_total",
			Help: "Writes refused with InsufficientStorage because the disk was below the minimum free space."}),
	}
}

func (m *cacheMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.budget, m.used, m.diskFree, m.cacheFetched, m.evicted, m.evictedBytes, m.refused}
}
