package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"s3mesh/exchange"
	"s3mesh/s3api/s3err"
)

// The history is what the status page graphs (HistoryPath): a sample every
// HistoryInterval, the last HistoryPoints of them kept in memory (an hour),
// lost at restart. Metrics with the same figures per peer would need a
// peer label, which /metrics never has.
const (
	HistoryInterval = 10 * time.Second
	HistoryPoints   = 360
)

// historySource is what the sampler reads from the libp2p node;
// *exchange.Node implements it.
type historySource interface {
	Peers() []exchange.PeerInfo
	Ping(ctx context.Context, p peer.ID) (time.Duration, error)
	PeerTraffic() map[peer.ID]exchange.Traffic
}

// history samples the node's peers, traffic and storage. Its methods are
// safe for concurrent use; Close stops the sampler started by start.
type history struct {
	src     historySource
	blocks  Blocks
	dataDir string
	now     func() time.Time
	pingTTL time.Duration // bounds each round of pings

	mu      sync.Mutex
	samples []historySample // oldest first, at most HistoryPoints

	started   atomic.Bool
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// historySample is one point: cumulative byte counters, so that rates come
// from the difference of two samples.
type historySample struct {
	at           time.Time
	storedBytes  int64
	storedBlocks int64
	disk         *DiskStatus // nil when unknown
	in, out      int64       // all peers, since start
	// peers are the peers connected or static at the time.
	peers map[peer.ID]peerSample
	// traffic has the counters of every peer ever exchanged with (the
	// counters never forget one), so a peer missing here had none.
	traffic map[peer.ID]exchange.Traffic
}

type peerSample struct {
	connected bool
	rtt       time.Duration // 0: no answer to this round's ping
}

func newHistory(src historySource, blocks Blocks, dataDir string) *history {
	return &history{src: src, blocks: blocks, dataDir: dataDir, now: time.Now, pingTTL: pingTimeout,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// start samples at once, then every HistoryInterval until Close.
func (h *history) start() {
	if h.started.Swap(true) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.stop
		cancel()
	}()
	go func() {
		defer close(h.done)
		t := time.NewTicker(HistoryInterval)
		defer t.Stop()
		for {
			h.sample(ctx)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the sampler and waits for it. It is idempotent; it returns
// nil.
func (h *history) Close() error {
	h.closeOnce.Do(func() {
		close(h.stop)
		if h.started.Load() {
			<-h.done // a sampling round ends with its context
		}
	})
	return nil
}

// sample takes one point: it pings the connected peers (bounded by
// pingTTL) and reads the traffic counters, the block store and the disk.
func (h *history) sample(ctx context.Context) {
	peers := h.src.Peers()
	rtts := make([]time.Duration, len(peers))
	pctx, cancel := context.WithTimeout(ctx, h.pingTTL)
	var wg sync.WaitGroup
	for i, p := range peers {
		if p.Connected {
			wg.Go(func() {
				if d, err := h.src.Ping(pctx, p.ID); err == nil {
					rtts[i] = d
				}
			})
		}
	}
	wg.Wait()
	cancel()

	traffic := h.src.PeerTraffic()
	st := h.blocks.Stats()
	s := historySample{at: h.now(), storedBytes: st.Bytes, storedBlocks: st.Blocks, disk: diskOf(h.dataDir),
		peers: make(map[peer.ID]peerSample, len(peers)), traffic: traffic}
	for _, t := range traffic {
		s.in += t.In
		s.out += t.Out
	}
	for i, p := range peers {
		s.peers[p.ID] = peerSample{connected: p.Connected, rtt: rtts[i]}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.samples) == HistoryPoints {
		h.samples = slices.Delete(h.samples, 0, 1)
	}
	h.samples = append(h.samples, s)
}

// HistoryResponse is the body of GET HistoryPath: series aligned
// with Times, oldest first, null where a value is unknown. Rates are over
// the interval ending at their point (null at the first point).
type HistoryResponse struct {
	IntervalSeconds float64         `json:"interval_seconds"`
	Capacity        int             `json:"capacity"`
	Times           []int64         `json:"times"` // Unix milliseconds
	StoredBytes     []int64         `json:"stored_bytes"`
	StoredBlocks    []int64         `json:"stored_blocks"`
	FreeBytes       []*uint64       `json:"free_bytes"`
	InRate          []*float64      `json:"in_bytes_per_second"`
	OutRate         []*float64      `json:"out_bytes_per_second"`
	Peers           []PeerHistory   `json:"peers"`
	Totals          HistoryCounters `json:"totals"`
}

// PeerHistory is one peer's series: every peer present in at least one
// sample (connected or static at the time), sorted by ID.
type PeerHistory struct {
	ID        string          `json:"id"`
	Connected []bool          `json:"connected"`
	RTTMillis []*float64      `json:"rtt_ms"`
	InRate    []*float64      `json:"in_bytes_per_second"`
	OutRate   []*float64      `json:"out_bytes_per_second"`
	Totals    HistoryCounters `json:"totals"`
}

// HistoryCounters are byte counts since the node started, at the latest
// sample.
type HistoryCounters struct {
	InBytes  int64 `json:"in_bytes"`
	OutBytes int64 `json:"out_bytes"`
}

// snapshot renders the samples as a HistoryResponse.
func (h *history) snapshot() HistoryResponse {
	h.mu.Lock()
	samples := slices.Clone(h.samples)
	h.mu.Unlock()

	n := len(samples)
	out := HistoryResponse{
		IntervalSeconds: HistoryInterval.Seconds(), Capacity: HistoryPoints,
		Times: make([]int64, n), StoredBytes: make([]int64, n), StoredBlocks: make([]int64, n),
		FreeBytes: make([]*uint64, n), InRate: make([]*float64, n), OutRate: make([]*float64, n),
		Peers: []PeerHistory{},
	}
	ids := map[peer.ID]bool{}
	for i, s := range samples {
		out.Times[i] = s.at.UnixMilli()
		out.StoredBytes[i], out.StoredBlocks[i] = s.storedBytes, s.storedBlocks
		if s.disk != nil {
			out.FreeBytes[i] = &s.disk.FreeBytes
		}
		if i > 0 {
			out.InRate[i] = historyRate(samples[i-1].in, s.in, samples[i-1].at, s.at)
			out.OutRate[i] = historyRate(samples[i-1].out, s.out, samples[i-1].at, s.at)
		}
		for p := range s.peers {
			ids[p] = true
		}
	}
	if n > 0 {
		out.Totals = HistoryCounters{InBytes: samples[n-1].in, OutBytes: samples[n-1].out}
	}
	for p := range ids {
		ph := PeerHistory{ID: p.String(), Connected: make([]bool, n), RTTMillis: make([]*float64, n),
			InRate: make([]*float64, n), OutRate: make([]*float64, n)}
		for i, s := range samples {
			ps, ok := s.peers[p]
			if !ok {
				continue
			}
			ph.Connected[i] = ps.connected
			if ps.rtt > 0 {
				ms := math.Round(float64(ps.rtt)/1e3) / 1e3
				ph.RTTMillis[i] = &ms
			}
			cur := s.traffic[p]
			ph.Totals = HistoryCounters{InBytes: cur.In, OutBytes: cur.Out}
			if i > 0 {
				prev, prevAt := samples[i-1].traffic[p], samples[i-1].at // zero: no traffic yet
				ph.InRate[i] = historyRate(prev.In, cur.In, prevAt, s.at)
				ph.OutRate[i] = historyRate(prev.Out, cur.Out, prevAt, s.at)
			}
		}
		out.Peers = append(out.Peers, ph)
	}
	slices.SortFunc(out.Peers, func(a, b PeerHistory) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// rate is (b-a) bytes over the time from t0 to t1 in bytes per second,
// rounded to 0.1; nil when the time does not advance or a counter went
// back.
func historyRate(a, b int64, t0, t1 time.Time) *float64 {
	dt := t1.Sub(t0).Seconds()
	if dt <= 0 || b < a {
		return nil
	}
	v := math.Round(float64(b-a)/dt*10) / 10
	return &v
}

// serveHistory answers GET HistoryPath, as compact JSON: the series are
// long.
func (a *api) serveHistory(w http.ResponseWriter, r *http.Request) error {
	if a.history == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node keeps no history.")
	}
	b, err := json.Marshal(a.history.snapshot())
	if err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
	return nil
}
