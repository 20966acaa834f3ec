package namespace

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// crdtMetrics are the replicated namespace's collectors.
type crdtMetrics struct {
	// lag observes, for each entry written by another node when it is
	// applied here, the time since the writer acknowledged it (by the
	// writer's clock, so clock skew between offices shows in it).
	lag        prometheus.Histogram
	badEntries prometheus.Counter
	pruned     prometheus.Counter
	rejected   prometheus.Counter
	// groupSize observes the entries of each delta this node publishes.
	groupSize prometheus.Histogram
	// folds counts this node's folds, switchSeconds times moves to a new
	// epoch, snapshotBytes counts the snapshot leaves installed.
	folds         prometheus.Counter
	switchSeconds prometheus.Histogram
	snapshotBytes prometheus.Counter
	registered    []prometheus.Collector
	reg           prometheus.Registerer

	// recent keeps the last lagWindow lag samples for the admin status.
	recent lagWindow
}

// lagWindowSize is how many recent replication lag samples the status
// summarises.
const lagWindowSize = 1024

// lagWindow is a ring of the latest replication lag samples.
type lagWindow struct {
	mu      sync.Mutex
	samples [lagWindowSize]time.Duration
	n       int // samples held, up to lagWindowSize
	next    int
	last    time.Time // when the latest sample was taken
}

func (w *lagWindow) add(d time.Duration, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples[w.next] = d
	w.next = (w.next + 1) % lagWindowSize
	w.n = min(w.n+1, lagWindowSize)
	w.last = at
}

// LagSummary summarises the replication lag of the latest entries applied
// from other nodes.
type LagSummary struct {
	// Samples is how many entries the figures cover (at most 1024, the
	// latest); zero when no entry from another node was applied since the
	// namespace opened.
	Samples int
	// P50, P99 and Max are the median, 99th percentile and largest time
	// from an entry being acknowledged at its writer to its being applied
	// here, by the writer's clock.
	P50, P99, Max time.Duration
	// Last is when the latest of them was applied (zero if none).
	Last time.Time
}

func (w *lagWindow) summary() LagSummary {
	w.mu.Lock()
	s := slices.Clone(w.samples[:w.n])
	last := w.last
	w.mu.Unlock()
	if len(s) == 0 {
		return LagSummary{}
	}
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return LagSummary{Samples: len(s), P50: q(0.5), P99: q(0.99), Max: s[len(s)-1], Last: last}
}

func newCRDTMetrics(reg prometheus.Registerer, usage func() (objects, logicalBytes int64)) (*crdtMetrics, error) {
	m := &crdtMetrics{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "replication_lag_seconds",
			Help:    "Time from a namespace write being acknowledged at another node to its being applied here.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5 ms to ~41 s
		}),
		badEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "malformed_entries_total",
			Help: "Replicated namespace entries ignored because they could not be decoded.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "pruned_entries_total",
			Help: "Superseded namespace entries this node deleted from the CRDT.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "rejected_messages_total",
			Help: "Namespace pubsub messages rejected because the peer that sent or originated them is not allowed.",
		}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "delta_entries",
			Help:    "Entries (writes of objects and buckets, pruned entries) in each namespace delta this node published; concurrent writes share a delta.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 to 1024
		}),
		folds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "folds_total",
			Help: "Namespace epochs this node folded into a snapshot.",
		}),
		switchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "epoch_switch_seconds",
			Help:    "Time to move to a new namespace epoch: fetch and install its snapshot, republish what it lacks.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16), // 10 ms to ~5 min
		}),
		snapshotBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "namespace", Name: "snapshot_bytes_total",
			Help: "Bytes of namespace snapshot leaves installed (fetched from peers or read locally).",
		}),
		reg: reg,
	}
	if reg == nil {
		return m, nil
	}
	objects := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "s3mesh", Subsystem: "namespace", Name: "objects",
		Help: "Objects visible in the namespace, in every bucket.",
	}, func() float64 { o, _ := usage(); return float64(o) })
	logical := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "s3mesh", Subsystem: "namespace", Name: "logical_bytes",
		Help: "Sum of the sizes of the objects visible in the namespace.",
	}, func() float64 { _, b := usage(); return float64(b) })
	for _, c := range []prometheus.Collector{m.lag, m.badEntries, m.pruned, m.rejected, m.groupSize, m.folds, m.switchSeconds, m.snapshotBytes, objects, logical} {
		if err := reg.Register(c); err != nil {
			m.unregister()
			return nil, fmt.Errorf("register namespace metrics: %w", err)
		}
		m.registered = append(m.registered, c)
	}
	return m, nil
}

func (m *crdtMetrics) unregister() {
	for _, c := range m.registered {
		m.reg.Unregister(c)
	}
	m.registered = nil
}

// crdtLogger adapts slog to go-ds-crdt's logger. go-ds-crdt's Info is
// chatty (a line per 50 merged deltas), so it goes to Debug.
type crdtLogger struct{ l *slog.Logger }

func (c crdtLogger) Debug(args ...any)                 { c.l.Debug(fmt.Sprint(args...)) }
func (c crdtLogger) Debugf(format string, args ...any) { c.l.Debug(fmt.Sprintf(format, args...)) }
func (c crdtLogger) Info(args ...any)                  { c.l.Debug(fmt.Sprint(args...)) }
func (c crdtLogger) Infof(format string, args ...any)  { c.l.Debug(fmt.Sprintf(format, args...)) }
func (c crdtLogger) Warn(args ...any)                  { c.l.Warn(fmt.Sprint(args...)) }
func (c crdtLogger) Warnf(format string, args ...any)  { c.l.Warn(fmt.Sprintf(format, args...)) }
func (c crdtLogger) Error(args ...any)                 { c.l.Error(fmt.Sprint(args...)) }
func (c crdtLogger) Errorf(format string, args ...any) { c.l.Error(fmt.Sprintf(format, args...)) }
func (c crdtLogger) Fatal(args ...any)                 { c.l.Error(fmt.Sprint(args...)); panic(fmt.Sprint(args...)) }
func (c crdtLogger) Fatalf(format string, args ...any) {
	c.l.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
func (c crdtLogger) Panic(args ...any) { panic(fmt.Sprint(args...)) }
func (c crdtLogger) Panicf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
