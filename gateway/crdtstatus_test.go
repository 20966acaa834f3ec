package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestLagWindowSummary(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name          string
		samples       []time.Duration
		p50, p99, max time.Duration
	}{
		{"none", nil, 0, 0, 0},
		{"one", []time.Duration{7 * ms}, 7 * ms, 7 * ms, 7 * ms},
		{"unordered", []time.Duration{5 * ms, 1 * ms, 3 * ms, 2 * ms, 4 * ms}, 3 * ms, 5 * ms, 5 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w lagWindow
			at := time.Unix(1e9, 0)
			for _, s := range tt.samples {
				w.add(s, at)
			}
			got := w.summary()
			if got.Samples != len(tt.samples) || got.P50 != tt.p50 || got.P99 != tt.p99 || got.Max != tt.max {
				t.Errorf("summary = %+v; want %d samples, p50 %s, p99 %s, max %s", got, len(tt.samples), tt.p50, tt.p99, tt.max)
			}
			if len(tt.samples) > 0 && !got.Last.Equal(at) {
				t.Errorf("last = %s, want %s", got.Last, at)
			}
		})
	}
	// The window keeps the latest lagWindowSize samples only: 2000
	// samples of 1..2000 ms leave 977..2000 ms.
	var w lagWindow
	for i := 1; i <= 2000; i++ {
		w.add(time.Duration(i)*ms, time.Now())
	}
	if got := w.summary(); got.Samples != lagWindowSize || got.Max != 2000*ms || got.P50 != (2000-lagWindowSize/2+1)*ms {
		t.Errorf("after 2000 samples: %+v", got)
	}
}

// TestCrdtStatus: a node's status shows its topic peer, one head after
// sequential writes, and the lag of the entries another node wrote.
func TestCrdtStatus(t *testing.T) {
	peers := newCrdtPeers(t, 2)
	a, b := peers[0], peers[1]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		crdtPut(t, a, "bkt", fmt.Sprintf("k%d", i), "e")
	}
	etagEverywhere(t, peers, "bkt", "k4", "e")
	st := b.ns.Status(ctx)
	if st.Network != crdtTestNetwork || st.Topic != CRDTTopic(crdtTestNetwork) || st.TopicPeers != 1 ||
		st.Heads != 1 || st.MaxHeight != 6 || st.Dirty {
		t.Errorf("status of B = %+v; want 1 topic peer, 1 head at height 6, clean", st)
	}
	if st.Lag.Samples != 6 || st.Lag.Max <= 0 || st.Lag.P50 > st.Lag.P99 || st.Lag.P99 > st.Lag.Max || st.Lag.Last.IsZero() {
		t.Errorf("lag at B = %+v; want the 6 entries A wrote", st.Lag)
	}
	if st := a.ns.Status(ctx); st.Lag.Samples != 0 {
		t.Errorf("lag at A = %+v; A applied nothing from others", st.Lag)
	}
}
