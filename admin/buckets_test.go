package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"s3mesh/gateway"
	"s3mesh/s3api/s3err"
)

// fakeBucketNamespace serves ListBuckets and Objects from a map of bucket name
// to object sizes; listed names without objects entry vanish (as a bucket
// deleted between the listing and its scan).
type fakeBucketNamespace struct {
	buckets []gateway.BucketRecord
	objects map[string][]int64
	err     error // returned by Objects
	scans   int
}

func (f *fakeBucketNamespace) ListBuckets(context.Context) ([]gateway.BucketRecord, error) {
	return slices.Clone(f.buckets), nil
}

func (f *fakeBucketNamespace) Objects(_ context.Context, bucket, _ string) (gateway.ObjectIterator, error) {
	f.scans++
	if f.err != nil {
		return nil, f.err
	}
	sizes, ok := f.objects[bucket]
	if !ok {
		return nil, s3err.ErrNoSuchBucket
	}
	return &fakeBucketIter{bucket: bucket, sizes: sizes, i: -1}, nil
}

type fakeBucketIter struct {
	bucket string
	sizes  []int64
	i      int
}

func (it *fakeBucketIter) Next() bool  { it.i++; return it.i < len(it.sizes) }
func (it *fakeBucketIter) Key() string { return string(rune('a' + it.i)) }
func (it *fakeBucketIter) Record() (*gateway.ObjectRecord, error) {
	return &gateway.ObjectRecord{Bucket: it.bucket, Key: it.Key(), Size: it.sizes[it.i]}, nil
}
func (it *fakeBucketIter) Seek(string)  {}
func (it *fakeBucketIter) Err() error   { return nil }
func (it *fakeBucketIter) Close() error { return nil }

func TestBucketsStats(t *testing.T) {
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ns := &fakeBucketNamespace{
		buckets: []gateway.BucketRecord{{Name: "builds", Created: created}, {Name: "empty", Created: created}, {Name: "gone", Created: created}, {Name: "photos", Created: created}},
		objects: map[string][]int64{"builds": {10, 20, 0}, "empty": nil, "photos": {1 << 20}},
	}
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	b := newBucketStats(ns)
	b.now = func() time.Time { return now }

	got, err := b.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []BucketUsage{
		{Name: "builds", Created: created, Objects: 3, Bytes: 30},
		{Name: "empty", Created: created},
		{Name: "photos", Created: created, Objects: 1, Bytes: 1 << 20},
	}
	if !slices.Equal(got.Buckets, want) || got.TotalObjects != 4 || got.TotalBytes != 30+1<<20 || !got.Computed.Equal(now) {
		t.Errorf("buckets = %+v\nwant %+v, 4 objects, %d bytes, computed %s", got, want, 30+1<<20, now)
	}

	// Within bucketsMinAge the figures are cached, even when stale.
	ns.objects["builds"] = append(ns.objects["builds"], 5)
	scans := ns.scans
	now = now.Add(bucketsMinAge - time.Second)
	if got, _ := b.get(context.Background()); got.Buckets[0].Objects != 3 || ns.scans != scans {
		t.Errorf("within %s: builds has %d objects after %d scans, want the cached 3 and no scan", bucketsMinAge, got.Buckets[0].Objects, ns.scans-scans)
	}
	now = now.Add(time.Second)
	if got, _ := b.get(context.Background()); got.Buckets[0].Objects != 4 || got.Buckets[0].Bytes != 35 {
		t.Errorf("after %s: builds = %+v, want 4 objects, 35 bytes", bucketsMinAge, got.Buckets[0])
	}

	// A failing scan is an error, and does not replace the cache.
	ns.err = errors.New("disk on fire")
	now = now.Add(time.Hour)
	if _, err := b.get(context.Background()); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("failing scan: err = %v", err)
	}
}

func TestBucketsStatsSlowScanCachedLonger(t *testing.T) {
	ns := &fakeBucketNamespace{buckets: []gateway.BucketRecord{{Name: "a"}}, objects: map[string][]int64{"a": {1}}}
	now := time.Unix(1000, 0)
	b := newBucketStats(ns)
	// Every reading of the clock advances it by 3 s: a scan "takes" 3 s.
	b.now = func() time.Time { now = now.Add(3 * time.Second); return now }
	if _, err := b.get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.maxAge != 30*time.Second {
		t.Errorf("after a 3s scan, maxAge = %s, want 30s", b.maxAge)
	}
}

func TestAdminBucketsEndpointWithoutStats(t *testing.T) {
	e := bare(t, &api{})
	for _, path := range []string{BucketsPath, HistoryPath} {
		resp, body := call(t, http.MethodGet, e.url+path)
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), `"NotImplemented"`) {
			t.Errorf("GET %s without figures = %d %s, want 501 NotImplemented", path, resp.StatusCode, body)
		}
	}
}

func TestAdminStatusDiskOf(t *testing.T) {
	d := diskOf(t.TempDir())
	if d == nil {
		t.Skip("no disk figures on this platform")
	}
	if d.TotalBytes == 0 || d.FreeBytes > d.TotalBytes {
		t.Errorf("diskOf = %+v, want 0 <= free <= total, total > 0", *d)
	}
	if diskOf("/nonexistent/s3mesh/dir") != nil {
		t.Errorf("diskOf of a missing directory is not nil")
	}
}
