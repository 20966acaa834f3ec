package fetch

import (
	"s3mesh/internal/promreg"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the fetcher's collectors. Their names keep the gateway
// subsystem they were first published under.
type metrics struct {
	blockReads *prometheus.CounterVec
	// blockReadBytes is blockReads in bytes (hit and miss only).
	blockReadBytes *prometheus.CounterVec
	fetchDur       prometheus.Histogram
	rejected       prometheus.Counter
	// corrupt counts blocks found corrupt in the local store when read,
	// repaired those replaced by a good copy from a peer.
	corrupt, repaired prometheus.Counter
	set               *promreg.Set
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		blockReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "block_reads_total",
			Help: "Blocks read for object content by result: hit (local), miss (fetched from a peer), error (unavailable or failed).",
		}, []string{"result"}),
		blockReadBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "block_read_bytes_total",
			Help: "Bytes of the blocks read for object content by result: hit (from the local store), miss (fetched from a peer).",
		}, []string{"result"}),
		fetchDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "block_fetch_duration_seconds",
			Help:    "Time to fetch a block missing locally from the exchange, for fetches that succeeded.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "blocks_rejected_total",
			Help: "Blocks from the exchange dropped because their content does not hash to their CID or they were not asked for.",
		}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "corrupt_blocks_total",
			Help: "Blocks read from the local store whose content did not hash to their CID (never served).",
		}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "s3mesh", Subsystem: "gateway", Name: "repaired_blocks_total",
			Help: "Corrupt blocks of the local store replaced, when read, by a verified copy from a peer.",
		}),
	}
	var err error
	m.set, err = promreg.Register(reg, "fetch", m.blockReads, m.blockReadBytes, m.fetchDur, m.rejected, m.corrupt, m.repaired)
	return m, err
}

func (m *metrics) unregister() { m.set.Unregister() }

// rejectedBlock counts a block dropped by the verifying exchange.
func (m *metrics) rejectedBlock(cid.Cid) { m.rejected.Inc() }
