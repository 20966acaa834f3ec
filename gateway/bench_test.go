package gateway

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"s3mesh/blockstore"
	"s3mesh/s3api"
)

const mib = 1 << 20

var benchSizes = []struct {
	name string
	size int
}{{"1MiB", mib}, {"64MiB", 64 * mib}}

// BenchmarkPutObject measures a durable PUT: chunking, hashing, DAG
// building, block writes, the block store sync and the record commit. Each
// iteration stores new content (its first bytes differ).
//
// Sub-benchmarks are <size>/<block store backend>.
func BenchmarkPutObject(b *testing.B) {
	for _, sz := range benchSizes {
		for _, backend := range []string{blockstore.BackendPebble, blockstore.BackendFlatfs} {
			b.Run(sz.name+"/"+backend, func(b *testing.B) {
				benchPut(b, Config{BlockstoreBackend: backend}, sz.size)
			})
		}
	}
}

func benchPut(b *testing.B, cfg Config, size int) {
	n := newTestNode(b, cfg)
	mustBucket(b, n, "b")
	data := randBytes(1, size)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		for j := range 8 {
			data[j] = byte(i >> (8 * j))
		}
		if _, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(data), Size: int64(size)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetObject reads whole objects through the content handle.
func BenchmarkGetObject(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			n := newTestNode(b, Config{NoSync: true})
			mustBucket(b, n, "b")
			put(b, n, "b", "k", randBytes(2, sz.size))
			ctx := context.Background()
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			for b.Loop() {
				info, c, err := n.GetObject(ctx, "b", "k")
				if err != nil {
					b.Fatal(err)
				}
				r, err := c.Open(ctx, 0, info.Size)
				if err != nil {
					b.Fatal(err)
				}
				if k, err := io.Copy(io.Discard, r); err != nil || k != info.Size {
					b.Fatalf("read %d, %v", k, err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkGetRange reads 64 KiB at random offsets of a 64 MiB object, the
// pattern of a client fetching parts of a large file.
func BenchmarkGetRange(b *testing.B) {
	n := newTestNode(b, Config{NoSync: true})
	mustBucket(b, n, "b")
	const size, span = 64 * mib, 64 << 10
	put(b, n, "b", "k", randBytes(3, size))
	ctx := context.Background()
	r := rand.New(rand.NewPCG(4, 4))
	b.SetBytes(span)
	b.ReportAllocs()
	for b.Loop() {
		_, c, err := n.GetObject(ctx, "b", "k")
		if err != nil {
			b.Fatal(err)
		}
		rd, err := c.Open(ctx, r.Int64N(size-span), span)
		if err != nil {
			b.Fatal(err)
		}
		if k, err := io.Copy(io.Discard, rd); err != nil || k != span {
			b.Fatalf("read %d, %v", k, err)
		}
		rd.Close()
	}
}
