package admin

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"s3mesh/blockstore"
	"s3mesh/exchange"
)

// fakeSource is a historySource whose peers, RTTs and counters a test sets.
type fakeSource struct {
	mu      sync.Mutex
	peers   []exchange.PeerInfo
	rtt     map[peer.ID]time.Duration // absent: the ping fails
	traffic map[peer.ID]exchange.Traffic
	pings   int
}

func (f *fakeSource) Peers() []exchange.PeerInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.peers)
}

func (f *fakeSource) Ping(_ context.Context, p peer.ID) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings++
	if d, ok := f.rtt[p]; ok {
		return d, nil
	}
	return 0, errors.New("no pong")
}

func (f *fakeSource) PeerTraffic() map[peer.ID]exchange.Traffic {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[peer.ID]exchange.Traffic, len(f.traffic))
	for p, t := range f.traffic {
		out[p] = t
	}
	return out
}

// blocksFunc is a Blocks whose Stats a function returns.
type blocksFunc func() blockstore.Stats

func (f blocksFunc) Stats() blockstore.Stats { return f() }

func ptrF64(v float64) *float64 { return &v }

func equalOptFloats(a, b []*float64) bool {
	return slices.EqualFunc(a, b, func(x, y *float64) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) })
}

func TestHistorySamples(t *testing.T) {
	pa, pb := peer.ID("peer-a"), peer.ID("peer-b")
	src := &fakeSource{
		peers:   []exchange.PeerInfo{{ID: pa, Connected: true}},
		rtt:     map[peer.ID]time.Duration{pa: 1500 * time.Microsecond},
		traffic: map[peer.ID]exchange.Traffic{pa: {In: 1000, Out: 100}},
	}
	stored := blockstore.Stats{Blocks: 1, Bytes: 10}
	h := newHistory(src, blocksFunc(func() blockstore.Stats { return stored }), t.TempDir())
	now := time.Unix(1_700_000_000, 0)
	h.now = func() time.Time { return now }
	ctx := context.Background()

	h.sample(ctx) // t0: A connected
	now = now.Add(HistoryInterval)
	src.traffic[pa] = exchange.Traffic{In: 3000, Out: 600}
	src.peers = append(src.peers, exchange.PeerInfo{ID: pb, Connected: true, Static: true})
	src.traffic[pb] = exchange.Traffic{In: 50, Out: 50}
	stored = blockstore.Stats{Blocks: 3, Bytes: 30}
	h.sample(ctx) // t1: B joins (its ping fails); its traffic so far counts
	now = now.Add(HistoryInterval)
	src.peers[0].Connected = false
	src.traffic[pb] = exchange.Traffic{In: 250, Out: 50}
	h.sample(ctx) // t2: A disconnected, not pinged

	got := h.snapshot()
	if got.IntervalSeconds != 10 || got.Capacity != HistoryPoints || len(got.Times) != 3 || got.Times[2] != now.UnixMilli() {
		t.Fatalf("snapshot header = %v s, %d points, times %v", got.IntervalSeconds, got.Capacity, got.Times)
	}
	if !slices.Equal(got.StoredBytes, []int64{10, 30, 30}) || !slices.Equal(got.StoredBlocks, []int64{1, 3, 3}) {
		t.Errorf("stored = %v bytes, %v blocks", got.StoredBytes, got.StoredBlocks)
	}
	// In at t1: (3000+50-1000)/10 B/s; at t2: (3000+250-3050)/10. Out
	// does not move at t2.
	if !equalOptFloats(got.InRate, []*float64{nil, ptrF64(205), ptrF64(20)}) || !equalOptFloats(got.OutRate, []*float64{nil, ptrF64(55), ptrF64(0)}) {
		t.Errorf("node rates in %v out %v, want [nil 205 20] and [nil 55 0]", derefAll(got.InRate), derefAll(got.OutRate))
	}
	if got.Totals != (HistoryCounters{InBytes: 3250, OutBytes: 650}) {
		t.Errorf("totals = %+v", got.Totals)
	}
	if len(got.Peers) != 2 || got.Peers[0].ID != pa.String() || got.Peers[1].ID != pb.String() {
		t.Fatalf("peers = %+v, want A then B", got.Peers)
	}
	a, b := got.Peers[0], got.Peers[1]
	if !slices.Equal(a.Connected, []bool{true, true, false}) || !equalOptFloats(a.RTTMillis, []*float64{ptrF64(1.5), ptrF64(1.5), nil}) ||
		!equalOptFloats(a.InRate, []*float64{nil, ptrF64(200), ptrF64(0)}) || !equalOptFloats(a.OutRate, []*float64{nil, ptrF64(50), ptrF64(0)}) ||
		a.Totals != (HistoryCounters{InBytes: 3000, OutBytes: 600}) {
		t.Errorf("A = connected %v rtt %v in %v out %v totals %+v", a.Connected, derefAll(a.RTTMillis), derefAll(a.InRate), derefAll(a.OutRate), a.Totals)
	}
	if !slices.Equal(b.Connected, []bool{false, true, true}) || !equalOptFloats(b.RTTMillis, []*float64{nil, nil, nil}) ||
		!equalOptFloats(b.InRate, []*float64{nil, ptrF64(5), ptrF64(20)}) || !equalOptFloats(b.OutRate, []*float64{nil, ptrF64(5), ptrF64(0)}) {
		t.Errorf("B = connected %v rtt %v in %v out %v", b.Connected, derefAll(b.RTTMillis), derefAll(b.InRate), derefAll(b.OutRate))
	}
	if src.pings != 1+2+1 {
		t.Errorf("%d pings, want one per connected peer per sample (4)", src.pings)
	}
	if d := diskOf(h.dataDir); d != nil && (got.FreeBytes[0] == nil || *got.FreeBytes[0] == 0) {
		t.Errorf("free bytes = %v, want the data directory's free space", got.FreeBytes[0])
	}
}

func derefAll(ps []*float64) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		if p != nil {
			out[i] = *p
		}
	}
	return out
}

func TestHistoryRingKeepsTheLastHour(t *testing.T) {
	src := &fakeSource{traffic: map[peer.ID]exchange.Traffic{}}
	h := newHistory(src, blocksFunc(func() blockstore.Stats { return blockstore.Stats{} }), t.TempDir())
	now := time.Unix(1_700_000_000, 0)
	h.now = func() time.Time { return now }
	for range HistoryPoints + 5 {
		h.sample(context.Background())
		now = now.Add(HistoryInterval)
	}
	got := h.snapshot()
	if len(got.Times) != HistoryPoints || got.Times[0] != time.Unix(1_700_000_000, 0).Add(5*HistoryInterval).UnixMilli() {
		t.Errorf("%d points from %d, want the last %d", len(got.Times), got.Times[0], HistoryPoints)
	}
}

// TestHistoryJSONShape pins the field names the status page reads.
func TestHistoryJSONShape(t *testing.T) {
	p := peer.ID("peer-a")
	src := &fakeSource{peers: []exchange.PeerInfo{{ID: p, Connected: true}}, rtt: map[peer.ID]time.Duration{p: time.Millisecond},
		traffic: map[peer.ID]exchange.Traffic{p: {In: 1, Out: 2}}}
	h := newHistory(src, blocksFunc(func() blockstore.Stats { return blockstore.Stats{Blocks: 1, Bytes: 2} }), t.TempDir())
	h.sample(context.Background())
	b, err := json.Marshal(h.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"interval_seconds", "capacity", "times", "stored_bytes", "stored_blocks", "free_bytes", "in_bytes_per_second", "out_bytes_per_second", "peers", "totals"} {
		if _, ok := m[k]; !ok {
			t.Errorf("history JSON lacks %q: %s", k, b)
		}
	}
	peers, _ := m["peers"].([]any)
	if len(peers) != 1 {
		t.Fatalf("history JSON peers = %v", m["peers"])
	}
	pm := peers[0].(map[string]any)
	for _, k := range []string{"id", "connected", "rtt_ms", "in_bytes_per_second", "out_bytes_per_second", "totals"} {
		if _, ok := pm[k]; !ok {
			t.Errorf("history JSON peer lacks %q: %v", k, pm)
		}
	}
	if rtt := pm["rtt_ms"].([]any); len(rtt) != 1 || rtt[0] != 1.0 {
		t.Errorf("rtt_ms = %v, want [1]", rtt)
	}
	if in := pm["in_bytes_per_second"].([]any); len(in) != 1 || in[0] != nil {
		t.Errorf("first rate = %v, want [null]", in)
	}
}

func TestHistoryStartClose(t *testing.T) {
	src := &fakeSource{traffic: map[peer.ID]exchange.Traffic{}}
	idle := newHistory(src, blocksFunc(func() blockstore.Stats { return blockstore.Stats{} }), t.TempDir())
	if err := idle.Close(); err != nil { // never started: returns at once
		t.Fatal(err)
	}
	h := newHistory(src, blocksFunc(func() blockstore.Stats { return blockstore.Stats{} }), t.TempDir())
	h.start()
	// The sampler samples before it first looks at Close, and Close waits
	// for it: once Close returns, the sample taken at start is there.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if len(h.snapshot().Times) == 0 {
		t.Error("no sample taken at start")
	}
	h.Close()
}
