package s3api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/s3api"
	"s3mesh/s3api/s3apitest"
	"s3mesh/s3api/s3mem"
)

func TestRequestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("hello")}, 200)
	e.mustDo(req{method: "GET", target: "/bkt1/k"}, 200)
	e.mustDo(req{method: "GET", target: "/bkt1/missing"}, 404)
	e.mustDo(req{method: "GET", target: "/bkt1?policy"}, 501)

	want := `
# HELP s3mesh_s3_requests_total S3 requests answered, by operation and S3 error code (OK for success).
# TYPE s3mesh_s3_requests_total counter
s3mesh_s3_requests_total{code="NoSuchKey",op="GetObject"} 1
s3mesh_s3_requests_total{code="NotImplemented",op="GetBucketPolicy"} 1
s3mesh_s3_requests_total{code="OK",op="CreateBucket"} 1
s3mesh_s3_requests_total{code="OK",op="GetObject"} 1
s3mesh_s3_requests_total{code="OK",op="PutObject"} 1
# HELP s3mesh_s3_request_bytes_total Request body bytes received, by operation.
# TYPE s3mesh_s3_request_bytes_total counter
s3mesh_s3_request_bytes_total{op="PutObject"} 5
# HELP s3mesh_s3_requests_in_flight S3 requests being served.
# TYPE s3mesh_s3_requests_in_flight gauge
s3mesh_s3_requests_in_flight 0
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want),
		"s3mesh_s3_requests_total", "s3mesh_s3_request_bytes_total", "s3mesh_s3_requests_in_flight"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(e.reg, "s3mesh_s3_request_duration_seconds"); n != 4 {
		t.Errorf("%d duration series, want 4", n)
	}
	// The GET response body (5 bytes) and the error bodies are counted.
	out := testutil.ToFloat64(mustCounter(t, e.reg, "s3mesh_s3_response_bytes_total", "GetObject"))
	if out <= 5 {
		t.Errorf("GetObject response bytes %v", out)
	}
}

// mustCounter finds the value of a counter series by op.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, op string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no %s{op=%q}", name, op)
	return nil
}

func TestNilRegisterer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *s3api.Config) { c.Registerer = nil })
	e.mustDo(req{method: "GET", target: "/"}, 200)
}

func TestDuplicateRegistration(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	cfg := s3api.Config{Credentials: s3api.Credentials{AccessKey: "a", SecretKey: "b"}, Registerer: reg}
	if _, err := s3api.New(cfg, s3mem.New()); err != nil {
		t.Fatal(err)
	}
	if _, err := s3api.New(cfg, s3mem.New()); err == nil {
		t.Fatal("second registration on one registry succeeded")
	}
}

func TestStoreWithMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	store, err := s3api.NewStoreWithMetrics(s3mem.New(), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "bkt1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.HeadObject(ctx, "bkt1", "missing"); err == nil {
		t.Fatal("HeadObject of a missing key succeeded")
	}
	if _, err := store.ListBuckets(ctx); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var op, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "op":
					op = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			got[op+"/"+result] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{"CreateBucket/ok": 1, "HeadObject/client_error": 1, "ListBuckets/ok": 1}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if s, err := s3api.NewStoreWithMetrics(s3mem.New(), nil); err != nil || s == nil {
		t.Errorf("nil registerer: %v", err)
	}
}

// TestStoreWithMetricsConformance runs the conformance battery through the
// decorator: every optional role of the wrapped store stays reachable.
func TestStoreWithMetricsConformance(t *testing.T) {
	s3apitest.TestObjectStore(t, func(t *testing.T) s3api.ObjectStore {
		st, err := s3api.NewStoreWithMetrics(s3mem.New(), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestStoreWithMetricsRoles: the versioning and CORS roles pass through the
// decorator.
func TestStoreWithMetricsRoles(t *testing.T) {
	t.Parallel()
	store, err := s3api.NewStoreWithMetrics(s3mem.New(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "bkt1"}); err != nil {
		t.Fatal(err)
	}
	vs := store.(s3api.VersioningStore)
	if err := vs.PutBucketVersioning(ctx, "bkt1", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	if st, err := vs.GetBucketVersioning(ctx, "bkt1"); err != nil || st != s3api.VersioningEnabled {
		t.Fatalf("GetBucketVersioning: %q, %v", st, err)
	}
	info, err := store.PutObject(ctx, &s3api.PutObjectInput{Bucket: "bkt1", Key: "k", Body: strings.NewReader("x"), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := vs.GetObjectVersion(ctx, "bkt1", "k", info.VersionID); err != nil {
		t.Fatal(err)
	}
	if res, err := vs.ListObjectVersions(ctx, s3api.ListObjectVersionsInput{Bucket: "bkt1", MaxKeys: 10}); err != nil || len(res.Versions) != 1 {
		t.Fatalf("ListObjectVersions: %+v, %v", res, err)
	}
	cs := store.(s3api.CORSStore)
	rules := []s3api.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}}}
	if err := cs.PutBucketCors(ctx, "bkt1", rules); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.GetBucketCors(ctx, "bkt1"); err != nil || len(got) != 1 {
		t.Fatalf("GetBucketCors: %+v, %v", got, err)
	}
}
