package namespace

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"s3mesh/s3api"
)

// logicalBytes sums len(key)+len(value) of the database's keys by key
// space ("/crdt" for go-ds-crdt's state, else the first two bytes).
func logicalBytes(t testing.TB, ns *CRDTNamespace) map[string]int64 {
	t.Helper()
	it, err := ns.idx.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string]int64{}
	for ok := it.First(); ok; ok = it.Next() {
		k := string(it.Key())
		space := k[:min(2, len(k))]
		if strings.HasPrefix(k, prefixCRDT) {
			space = prefixCRDT
		}
		out[space] += int64(len(it.Key()) + len(it.Value()))
	}
	return out
}

// TestVersionBytes reports the namespace's bytes per version: it writes
// S3MESH_VERSION_BYTES versions (default 2000) of 100 keys through
// PutObject, a realistic record each, and prints the logical bytes (keys
// and values) each key space holds per version. Run with
//
//	S3MESH_VERSION_BYTES=5000 go test -run TestVersionBytes -v ./gateway/namespace/
func TestVersionBytes(t *testing.T) {
	n := 2000
	if v := os.Getenv("S3MESH_VERSION_BYTES"); v != "" {
		fmt.Sscan(v, &n)
	} else if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	ns := openOfflineCRDT(t, t.TempDir(), nil)
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	setVersioning(t, ns, "b", VersioningEnabled)
	before := logicalBytes(t, ns)
	for i := range n {
		rec := &ObjectRecord{
			Bucket: "b", Key: fmt.Sprintf("builds/linux-amd64/artifact-%03d.tar.gz", i%100),
			Root: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", Size: 123456789,
			ETag: "0123456789abcdef0123456789abcdef-12", LastModified: time.Unix(1700000000, 0),
			ContentType: "application/gzip", PartSizes: []int64{8 << 20, 8 << 20, 1234},
		}
		if err := ns.PutObject(ctx, rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	after := logicalBytes(t, ns)
	var total int64
	for space, b := range after {
		d := b - before[space]
		total += d
		t.Logf("key space %-6q %8.1f bytes/version", space, float64(d)/float64(n))
	}
	t.Logf("total %.1f bytes/version over %d versions (index x/: every version; /crdt: the entry and its delta)", float64(total)/float64(n), n)
}

// BenchmarkListObjectVersions100k lists one page of 1000 versions, from a
// key marker in the middle, in a bucket of 100,000 versions (10,000 keys
// of 10 versions each).
func BenchmarkListObjectVersions100k(b *testing.B) {
	ns := openOfflineCRDT(b, b.TempDir(), nil)
	bucket, err := encodeBucket(BucketRecord{Name: "b", Versioning: VersioningEnabled})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := ns.apply(bucketEntryKey("b", formatVersion(1, 0, "a")), entry{kind: entryCreate, payload: bucket}.encode()); err != nil {
		b.Fatal(err)
	}
	for k := range 10_000 {
		for v := range 10 {
			rec := &ObjectRecord{Root: "bafkqaaa", ETag: "0123456789abcdef0123456789abcdef", Size: 1234, Versioned: true}
			payload, err := encodeObject(rec)
			if err != nil {
				b.Fatal(err)
			}
			key := fmt.Sprintf("dir%02d/key%05d", k%100, k)
			if _, _, err := ns.apply(objectEntryKey("b", key, formatVersion(int64(2+v), uint32(k), "a")), entry{kind: entryPut, payload: payload}.encode()); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	in := s3api.ListObjectVersionsInput{Bucket: "b", KeyMarker: "dir50/key05000", MaxKeys: 1000}
	b.ReportAllocs()
	for b.Loop() {
		res, err := ListVersions(ctx, ns, in)
		if err != nil || len(res.Versions) != 1000 || !res.IsTruncated {
			b.Fatalf("%d versions, %v", len(res.Versions), err)
		}
	}
}
