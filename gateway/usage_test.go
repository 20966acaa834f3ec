package gateway_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
)

// TestScanUsage: at the office that wrote an object its blocks are owned;
// at an office that read it they are cached; a failed PUT's blocks are
// unreferenced; the namespace's deltas are owned everywhere; the gauges
// show the latest scan.
func TestScanUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	reg := prometheus.NewRegistry()
	a := net.NewReplicatedNode(t, func(c *gateway.Config) { c.ChunkSize = 1000 })
	b := net.NewReplicatedNode(t, func(c *gateway.Config) { c.Registerer = reg })
	net.Connect(a, b)
	waitTopicPeers(t, a, gateway.DefaultNetwork, 1)
	waitTopicPeers(t, b, gateway.DefaultNetwork, 1)
	mustBucket(t, a)
	body := make([]byte, 10000) // 10 distinct leaves of 1000 bytes
	for i := range body {
		body[i] = byte(i/1000*31 + i)
	}
	if _, err := a.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt", Key: "k", Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt", Key: "short", Body: strings.NewReader("too short"), Size: 5000}); err == nil {
		t.Fatal("a short body was accepted")
	}
	waitUntil(t, "object at B", func() error {
		_, err := b.HeadObject(ctx, "bkt", "k")
		return err
	})
	if got := readAllAt(t, b, "bkt", "k"); !bytes.Equal(got, body) {
		t.Fatal("B read different bytes")
	}
	ua, err := a.ScanUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := b.ScanUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A: the object's 10 leaves and root, plus namespace deltas, owned;
	// the failed PUT's leaves unreferenced.
	if ua.OwnedBytes < int64(len(body)) || ua.CachedBlocks != 0 || ua.UnreferencedBlocks == 0 || ua.At.IsZero() {
		t.Errorf("usage at A = %+v; want the object owned, nothing cached, the failed PUT unreferenced", ua)
	}
	// B: the object cached; only deltas owned.
	if ub.CachedBytes < int64(len(body)) || ub.CachedBlocks < 11 || ub.OwnedBytes >= int64(len(body)) || ub.UnreferencedBlocks != 0 {
		t.Errorf("usage at B = %+v; want the object cached, only namespace deltas owned", ub)
	}
	if got := testutil.ToFloat64(gaugeOf(t, reg, "s3mesh_blockstore_cached_bytes")); got != float64(ub.CachedBytes) {
		t.Errorf("cached bytes gauge = %v, want %d", got, ub.CachedBytes)
	}
}

func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "copy"}, func() float64 { return mf.GetMetric()[0].GetGauge().GetValue() })
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}
