package blockstore

import (
	"context"
	"math/rand/v2"
	"testing"

	blocks "github.com/ipfs/go-block-format"
)

const mib = 1 << 20

// BenchmarkPut1MiB writes unique 1 MiB blocks and makes them durable:
//
//	<backend>          Put then Sync for every block
//	<backend>-batch16  PutMany of 16 blocks then one Sync, as a PUT of a
//	                   16 MiB object does
//	<backend>-nosync   Put without durability, for reference
func BenchmarkPut1MiB(b *testing.B) {
	for _, backend := range backends {
		for _, mode := range []struct {
			name   string
			batch  int
			noSync bool
		}{{"", 1, false}, {"-batch16", 16, false}, {"-nosync", 1, true}} {
			b.Run(backend+mode.name, func(b *testing.B) {
				s := openT(b, Config{Path: b.TempDir(), Backend: backend, NoSync: mode.noSync})
				ctx := context.Background()
				r := rand.New(rand.NewPCG(1, 1))
				// One random MiB; each block differs in its first 8 bytes.
				base := randBlock(r, mib).RawData()
				seq := uint64(0)
				next := func() blocks.Block {
					seq++
					d := make([]byte, mib)
					copy(d, base)
					for i := range 8 {
						d[i] = byte(seq >> (8 * i))
					}
					return blocks.NewBlock(d)
				}
				b.SetBytes(int64(mode.batch) * mib)
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					bs := make([]blocks.Block, mode.batch)
					for i := range bs {
						bs[i] = next()
					}
					b.StartTimer()
					if err := s.Blockstore().PutMany(ctx, bs); err != nil {
						b.Fatal(err)
					}
					if err := s.Sync(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGet1MiB reads 1 MiB blocks back, cycling over 64 stored blocks
// (served from the page cache and, for Pebble, its block cache).
func BenchmarkGet1MiB(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			s := openT(b, Config{Path: b.TempDir(), Backend: backend, NoSync: true})
			ctx := context.Background()
			r := rand.New(rand.NewPCG(2, 2))
			var bs []blocks.Block
			for range 64 {
				bs = append(bs, randBlock(r, mib))
			}
			if err := s.Blockstore().PutMany(ctx, bs); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(mib)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				got, err := s.Blockstore().Get(ctx, bs[i%len(bs)].Cid())
				if err != nil {
					b.Fatal(err)
				}
				if len(got.RawData()) != mib {
					b.Fatal("short block")
				}
				i++
			}
		})
	}
}
