package gateway

import "github.com/prometheus/client_golang/prometheus"

// gcMetrics are the garbage collector's collectors, registered with the
// node's (see newMetrics).
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
