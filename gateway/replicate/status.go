package replicate

import (
	"context"
	"encoding/json"
	"fmt"
	"s3mesh/gateway/namespace"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// replStatusMaxObjects bounds Status.InProgress.
const replStatusMaxObjects = 100

// Status is how complete this node's copy of the replicated
// buckets is.
type Status struct {
	// Buckets are the replicated buckets, by name.
	Buckets []BucketStatus
	// QueuedObjects is the number of objects of replicated buckets this
	// node is fetching or will fetch, PendingBytes their bytes not yet
	// local.
	QueuedObjects, PendingBytes int64
	// InProgress are the first queued objects in bucket and key order, at
	// most 100; InProgressTruncated is true when there are more.
	InProgress          []ObjectStatus
	InProgressTruncated bool
}

// BucketStatus is one replicated bucket's completeness on this node.
type BucketStatus struct {
	Name string
	// Objects is the number of objects in the bucket and ObjectsComplete
	// how many of them this node holds in full.
	Objects, ObjectsComplete int64
	// ObjectsQueued is how many are queued for fetching. Objects neither
	// complete nor queued have not been scanned yet (just marked, or
	// records arriving faster than they are queued).
	ObjectsQueued int64
	// LogicalBytes is the sum of the objects' sizes, BytesLocal the part
	// of it held locally (complete objects, plus what queued ones have so
	// far).
	LogicalBytes, BytesLocal int64
}

// ObjectStatus is one queued object's progress on this node.
type ObjectStatus struct {
	Bucket, Key string
	// Root is the CID being fetched.
	Root string
	// LeavesLocal of LeavesTotal leaf blocks are local; LeavesTotal is 0
	// until the DAG's structure has been fetched.
	LeavesLocal, LeavesTotal int64
	// BytesLocal of BytesTotal (the object's size) are local.
	BytesLocal, BytesTotal int64
	// Active is true while it is being fetched.
	Active bool
	// Since is when it was queued. Attempts counts the failed attempts
	// since the last progress, LastError is the last one's error and
	// NextAttempt when the next is due (zero: when a fetch slot is free).
	Since       time.Time
	Attempts    int
	LastError   string
	NextAttempt time.Time
}

// SetBucketReplicated marks bucket name replicated (on) or not: every
// node then fetches and keeps its objects' blocks, or stops fetching new
// ones (blocks already fetched stay, kept by GC while their records
// exist). The mark is replicated like any bucket setting. It returns the
// bucket's record, or s3err.ErrNoSuchBucket. Marking a bucket as it is
// already marked writes nothing.
func (r *Replicator) SetBucketReplicated(ctx context.Context, name string, on bool) (*namespace.BucketRecord, error) {
	b, err := r.ns.GetBucket(ctx, name)
	if err != nil {
		return nil, err
	}
	if b.Replicated == on {
		return b, nil
	}
	return r.ns.UpdateBucket(ctx, name, func(b *namespace.BucketRecord) error {
		b.Replicated = on
		return nil
	})
}

// Status reports how complete this node's copy of each
// replicated bucket is, and the progress of the objects being fetched. It
// walks no DAG: it costs one pass over each replicated bucket's records
// and two point reads per object (see replicate.go).
func (r *Replicator) Status(ctx context.Context) (Status, error) {
	out := Status{Buckets: []BucketStatus{}, InProgress: []ObjectStatus{},
		QueuedObjects: r.queued.Load(), PendingBytes: r.pending.Load()}
	bs, err := r.ns.ListBuckets(ctx)
	if err != nil {
		return out, fmt.Errorf("replication status: %w", err)
	}
	for _, b := range bs {
		if !b.Replicated {
			continue
		}
		br, err := r.bucketStatus(ctx, b.Name)
		if err != nil {
			return out, fmt.Errorf("replication status: %w", err)
		}
		out.Buckets = append(out.Buckets, br)
	}
	it, err := r.ks.Scan(ctx, replQueuePrefix)
	if err != nil {
		return out, fmt.Errorf("replication status: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if len(out.InProgress) == replStatusMaxObjects {
			out.InProgressTruncated = true
			break
		}
		bucket, key, found := splitReplKey(replQueuePrefix, it.Key())
		var e replEntry
		if !found || json.Unmarshal(it.Value(), &e) != nil {
			continue
		}
		active := r.overlay(bucket, key, &e)
		o := ObjectStatus{Bucket: bucket, Key: key, Root: e.Root, LeavesLocal: e.LeavesLocal, LeavesTotal: e.LeavesTotal,
			BytesLocal: e.BytesLocal, BytesTotal: e.Size, Active: active, Since: time.Unix(0, e.Since).UTC(),
			Attempts: e.Attempts, LastError: e.LastError}
		if e.NotBefore > 0 && !active {
			o.NextAttempt = time.Unix(0, e.NotBefore).UTC()
		}
		out.InProgress = append(out.InProgress, o)
	}
	if err := it.Error(); err != nil {
		return out, fmt.Errorf("replication status: %w", err)
	}
	return out, nil
}

// overlay replaces e's progress by the live one when bucket/key is being
// fetched for e.Root, and reports whether it is.
func (r *Replicator) overlay(bucket, key string, e *replEntry) bool {
	r.mu.Lock()
	a := r.active[replName(bucket, key)]
	r.mu.Unlock()
	if a == nil || a.root != e.Root {
		return false
	}
	a.progress(e)
	return true
}

// bucketStatus computes one replicated bucket's completeness.
func (r *Replicator) bucketStatus(ctx context.Context, name string) (BucketStatus, error) {
	out := BucketStatus{Name: name}
	it, err := r.ns.Objects(ctx, name, "")
	if err != nil {
		return out, err
	}
	defer it.Close()
	for it.Next() {
		rec, err := it.Record()
		if err != nil {
			return out, err
		}
		out.Objects++
		out.LogicalBytes += rec.Size
		done, ok, err := r.ks.Get(replKey(replDonePrefix, name, rec.Key))
		if err != nil {
			return out, err
		}
		if ok && string(done) == rec.Root {
			out.ObjectsComplete++
			out.BytesLocal += rec.Size
			continue
		}
		e, ok, err := r.getEntry(replKey(replQueuePrefix, name, rec.Key))
		if err != nil {
			return out, err
		}
		if ok && e.Root == rec.Root {
			out.ObjectsQueued++
			r.overlay(name, rec.Key, &e)
			out.BytesLocal += min(e.BytesLocal, rec.Size)
		}
	}
	return out, it.Err()
}

// replMetrics are the replicator's collectors (no labels).
type replMetrics struct {
	fetchedBlocks prometheus.Counter
	fetchedBytes  prometheus.Counter
	completed     prometheus.Counter
	registered    []prometheus.Collector
	reg           prometheus.Registerer
}

func newReplMetrics(reg prometheus.Registerer, r *Replicator) (*replMetrics, error) {
	const ns, sub = "s3mesh", "replication"
	m := &replMetrics{
		fetchedBlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "fetched_blocks_total",
			Help: "Blocks of replicated buckets' objects the background replicator received from peers (one a GET was fetching at the same time counts too).",
		}),
		fetchedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "fetched_bytes_total",
			Help: "Bytes of the blocks the background replicator fetched from peers.",
		}),
		completed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "objects_completed_total",
			Help: "Objects of replicated buckets this node came to hold in full.",
		}),
		reg: reg,
	}
	if reg == nil {
		return m, nil
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "queue_objects",
		Help: "Objects of replicated buckets queued for fetching (waiting, being fetched or backing off after a failure).",
	}, func() float64 { return float64(r.queued.Load()) })
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "pending_bytes",
		Help: "Bytes of the queued objects not yet held locally (as of their last saved progress).",
	}, func() float64 { return float64(r.pending.Load()) })
	for _, c := range []prometheus.Collector{m.fetchedBlocks, m.fetchedBytes, m.completed, queue, pending} {
		if err := reg.Register(c); err != nil {
			m.unregister()
			return nil, fmt.Errorf("register replication metrics: %w", err)
		}
		m.registered = append(m.registered, c)
	}
	return m, nil
}

func (m *replMetrics) unregister() {
	for _, c := range m.registered {
		m.reg.Unregister(c)
	}
	m.registered = nil
}
