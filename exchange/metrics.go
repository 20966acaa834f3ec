package exchange

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// exchangeMetrics are the exchange's collectors. Gauges and byte/block
// counters are read from libp2p and Bitswap at scrape time; no metric has
// a peer label.
//
//	s3mesh_exchange_peers_connected                      gauge
//	s3mesh_exchange_connection_events_total{event}       counter (event: connected, disconnected)
//	s3mesh_exchange_transport_received_bytes_total       counter (all libp2p traffic)
//	s3mesh_exchange_transport_sent_bytes_total           counter (all libp2p traffic)
//	s3mesh_exchange_blocks_received_total                counter (Bitswap, including duplicates)
//	s3mesh_exchange_blocks_received_bytes_total          counter
//	s3mesh_exchange_duplicate_blocks_received_total      counter
//	s3mesh_exchange_duplicate_blocks_received_bytes_total counter
//	s3mesh_exchange_blocks_sent_total                    counter
//	s3mesh_exchange_blocks_sent_bytes_total              counter
//	s3mesh_exchange_source_received_blocks_total{source} counter (source: lan, wan)
//	s3mesh_exchange_source_received_bytes_total{source}  counter
//	s3mesh_exchange_source_sent_blocks_total{source}     counter
//	s3mesh_exchange_source_sent_bytes_total{source}      counter
//	s3mesh_exchange_wants_sent_total{type}               counter (type: block, have)
type exchangeMetrics struct {
	connEvents *prometheus.CounterVec
	collectors []prometheus.Collector
}

func newMetrics(n *Node) *exchangeMetrics {
	const ns, sub = "s3mesh", "exchange"
	m := &exchangeMetrics{
		connEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "connection_events_total",
			Help: "libp2p connections opened (event=connected) and closed (event=disconnected).",
		}, []string{"event"}),
	}
	// Make both series exist from the start.
	m.connEvents.WithLabelValues("connected")
	m.connEvents.WithLabelValues("disconnected")
	m.collectors = []prometheus.Collector{
		m.connEvents,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "peers_connected",
			Help: "Peers with at least one open libp2p connection.",
		}, func() float64 { return float64(len(n.host.Network().Peers())) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "transport_received_bytes_total",
			Help: "Bytes received on libp2p streams, all protocols.",
		}, func() float64 { return float64(n.bw.GetBandwidthTotals().TotalIn) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "transport_sent_bytes_total",
			Help: "Bytes sent on libp2p streams, all protocols.",
		}, func() float64 { return float64(n.bw.GetBandwidthTotals().TotalOut) }),
		&bitswapCollector{n: n},
		&trafficCollector{t: n.traffic},
	}
	return m
}

// register adds the collectors to reg.
func (m *exchangeMetrics) register(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		for _, c := range m.collectors {
			reg.Unregister(c)
		}
		return errors.Join(errors.New("exchange: register metrics"), err)
	}
	return nil
}

var (
	descBlocksRecv = prometheus.NewDesc("s3mesh_exchange_blocks_received_total",
		"Blocks received from peers by Bitswap, duplicates included.", nil, nil)
	descBytesRecv = prometheus.NewDesc("s3mesh_exchange_blocks_received_bytes_total",
		"Block bytes received from peers by Bitswap, duplicates included.", nil, nil)
	descDupRecv = prometheus.NewDesc("s3mesh_exchange_duplicate_blocks_received_total",
		"Blocks received from peers that were already present or already received.", nil, nil)
	descDupBytesRecv = prometheus.NewDesc("s3mesh_exchange_duplicate_blocks_received_bytes_total",
		"Bytes of duplicate blocks received from peers.", nil, nil)
	descBlocksSent = prometheus.NewDesc("s3mesh_exchange_blocks_sent_total",
		"Blocks sent to peers by the Bitswap server.", nil, nil)
	descBytesSent = prometheus.NewDesc("s3mesh_exchange_blocks_sent_bytes_total",
		"Block bytes sent to peers by the Bitswap server.", nil, nil)
)

// bitswapCollector reads Bitswap's Stat at scrape time.
type bitswapCollector struct{ n *Node }

func (c *bitswapCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBlocksRecv, descBytesRecv, descDupRecv, descDupBytesRecv, descBlocksSent, descBytesSent} {
		ch <- d
	}
}

func (c *bitswapCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.n.bs.Stat()
	if err != nil {
		for _, d := range []*prometheus.Desc{descBlocksRecv, descBytesRecv, descDupRecv, descDupBytesRecv, descBlocksSent, descBytesSent} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descBlocksRecv, st.BlocksReceived)
	counter(descBytesRecv, st.DataReceived)
	counter(descDupRecv, st.DupBlksReceived)
	counter(descDupBytesRecv, st.DupDataReceived)
	counter(descBlocksSent, st.BlocksSent)
	counter(descBytesSent, st.DataSent)
}

var (
	descSourceRecvBlocks = prometheus.NewDesc("s3mesh_exchange_source_received_blocks_total",
		"Blocks received by Bitswap, duplicates included, by the class of the peer that sent them (source: lan, wan).", []string{"source"}, nil)
	descSourceRecvBytes = prometheus.NewDesc("s3mesh_exchange_source_received_bytes_total",
		"Block bytes received by Bitswap, duplicates included, by the class of the peer that sent them.", []string{"source"}, nil)
	descSourceSentBlocks = prometheus.NewDesc("s3mesh_exchange_source_sent_blocks_total",
		"Blocks sent by the Bitswap server, by the class of the peer they went to (source: lan, wan).", []string{"source"}, nil)
	descSourceSentBytes = prometheus.NewDesc("s3mesh_exchange_source_sent_bytes_total",
		"Block bytes sent by the Bitswap server, by the class of the peer they went to.", []string{"source"}, nil)
	descWantsSent = prometheus.NewDesc("s3mesh_exchange_wants_sent_total",
		"Wants this node sent to peers, by type: block (send me the block) or have (tell me whether you have it).", []string{"type"}, nil)
)

// trafficCollector reads the trafficTracer's counts at scrape time.
type trafficCollector struct{ t *trafficTracer }

func (c *trafficCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSourceRecvBlocks, descSourceRecvBytes, descSourceSentBlocks, descSourceSentBytes, descWantsSent} {
		ch <- d
	}
}

func (c *trafficCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	for _, class := range []string{ClassLAN, ClassWAN} {
		i := classIndex(class)
		counter(descSourceRecvBlocks, c.t.received.blocks[i].Load(), class)
		counter(descSourceRecvBytes, c.t.received.bytes[i].Load(), class)
		counter(descSourceSentBlocks, c.t.sent.blocks[i].Load(), class)
		counter(descSourceSentBytes, c.t.sent.bytes[i].Load(), class)
	}
	counter(descWantsSent, c.t.wantBlocks.Load(), "block")
	counter(descWantsSent, c.t.wantHaves.Load(), "have")
}
