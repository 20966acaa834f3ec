package gateway

import (
	"s3mesh/internal/promreg"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	putBytes   prometheus.Counter
	getBytes   prometheus.Counter
	importDur  prometheus.Histogram
	puts       *prometheus.CounterVec
	uploads    *prometheus.CounterVec
	partBytes  prometheus.Counter
	inProgress prometheus.GaugeFunc
	set        *promreg.Set
}

// newMetrics builds the node's collectors and registers them on reg (none
// when reg is nil); openUploads reports the multipart uploads in progress.
func newMetrics(reg prometheus.Registerer, openUploads func() int64) (*metrics, error) {
	m := &metrics{
		putBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "put_bytes_total",
			Help: "Object bytes imported by PutObject, including aborted imports.",
		}),
		getBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "get_bytes_total",
			Help: "Object bytes read from content handles returned by GetObject.",
		}),
		importDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "dag_import_duration_seconds",
			Help:    "Time to chunk a PutObject body into a UnixFS DAG and make its blocks durable.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		puts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "put_objects_total",
			Help: "PutObject calls by result: ok, aborted (body, digest or size failure), rejected (precondition or bucket), error.",
		}, []string{"result"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "multipart_uploads_total",
			Help: "Multipart uploads by event: created, completed, aborted (by a client), expired (by the janitor).",
		}, []string{"event"}),
		partBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "multipart_part_bytes_total",
			Help: "Part bytes imported by UploadPart and ranged UploadPartCopy, including aborted imports.",
		}),
		inProgress: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "multipart_uploads_in_progress",
			Help: "Multipart uploads created and not yet completed, aborted, expired or discarded with their bucket.",
		}, func() float64 { return float64(openUploads()) }),
	}
	var err error
	m.set, err = promreg.Register(reg, "gateway", m.putBytes, m.getBytes, m.importDur, m.puts, m.uploads, m.partBytes, m.inProgress)
	return m, err
}

func (m *metrics) unregister() { m.set.Unregister() }
