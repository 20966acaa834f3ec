package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	putBytes   prometheus.Counter
	getBytes   prometheus.Counter
	importDur  prometheus.Histogram
	puts       *prometheus.CounterVec
	registered []prometheus.Collector
	reg        prometheus.Registerer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
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
		reg: reg,
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.putBytes, m.getBytes, m.importDur, m.puts} {
		if err := reg.Register(c); err != nil {
			m.unregister()
			return nil, fmt.Errorf("register gateway metrics: %w", err)
		}
		m.registered = append(m.registered, c)
	}
	return m, nil
}

func (m *metrics) unregister() {
	for _, c := range m.registered {
		m.reg.Unregister(c)
	}
	m.registered = nil
}
