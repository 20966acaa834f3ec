package namespace

import (
	"context"
	"fmt"
	"s3mesh/gateway/internal/gwtest"
	"s3mesh/s3api"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkListObjects pages through 100,000 keys, 1,000 per page, without
// and with a delimiter (100 directories of 1,000 keys, listed at the top:
// 100 common prefixes in one page).
func BenchmarkListObjects(b *testing.B) {
	ns := newNamespace(b)
	fillNamespace(b, ns, "b", nil)
	// Build the key set directly in one Pebble batch: 100,000 PutObject
	// calls would measure the setup, not the listing.
	batch := ns.db.NewBatch()
	for d := range 100 {
		for k := range 1000 {
			rec := &ObjectRecord{Bucket: "b", Key: fmt.Sprintf("dir%03d/file%06d", d, k), Root: gwtest.EmptyFileCID, Size: 1, ETag: "0cc175b9c0f1b6a831c399e269772661", LastModified: gwtest.FixedTime}
			v, err := encodeObject(rec)
			if err != nil {
				b.Fatal(err)
			}
			batch.Set(objectKey(rec.Bucket, rec.Key), v, nil)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("pages", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in := s3api.ListObjectsInput{Bucket: "b", MaxKeys: 1000}
			total := 0
			for page := 0; page < 200; page++ {
				res, err := List(ctx, ns, in)
				if err != nil {
					b.Fatal(err)
				}
				total += len(res.Objects)
				if !res.IsTruncated {
					break
				}
				in.After = res.NextAfter
			}
			if total != 100000 {
				b.Fatalf("listed %d keys", total)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/page")
	})
	b.Run("delimiter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := List(ctx, ns, s3api.ListObjectsInput{Bucket: "b", Delimiter: "/", MaxKeys: 1000})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.CommonPrefixes) != 100 || res.IsTruncated {
				b.Fatalf("%d prefixes", len(res.CommonPrefixes))
			}
		}
	})
}
