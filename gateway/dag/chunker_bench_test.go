package dag

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// chunkBenchSize is the content each chunking benchmark cuts: 256 MiB of
// random bytes, made once per process.
const chunkBenchSize = 256 << 20

var chunkBenchData = sync.OnceValue(func() []byte {
	b := make([]byte, chunkBenchSize)
	r := rand.NewChaCha8([32]byte{'c', 'h', 'u', 'n', 'k'})
	_, _ = r.Read(b) // ChaCha8.Read never fails
	return b
})

// chunkBenchSpecs are the chunkers compared, side by side in one run.
var chunkBenchSpecs = []struct{ name, spec string }{
	{"size-1MiB", "size-1MiB"},
	{"buzhash", "buzhash"},
	{"rabin", "rabin"},
	{"fastcdc", "fastcdc"},
	{"fastcdc-256KiB", "fastcdc-64KiB-256KiB-512KiB"},
}

// BenchmarkChunkers measures how fast each chunker cuts 256 MiB of random
// bytes (MB/s), and the chunks it makes: average and largest size.
//
//	go test -run '^$' -bench Chunk -benchtime 3x ./gateway/
func BenchmarkChunkers(b *testing.B) {
	data := chunkBenchData()
	for _, c := range chunkBenchSpecs {
		spec, err := ParseChunker(c.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var chunks, largest int
			for b.Loop() {
				chunks, largest = 0, 0
				sp := spec.NewSplitter(bytes.NewReader(data))
				for {
					ch, err := sp.NextBytes()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					chunks++
					largest = max(largest, len(ch))
				}
			}
			if largest > spec.MaxLeaf() || largest > helpers.BlockSizeLimit {
				b.Fatalf("a %d-byte chunk, above the spec's %d", largest, spec.MaxLeaf())
			}
			b.ReportMetric(float64(len(data))/float64(chunks)/1024, "avg-KiB")
			b.ReportMetric(float64(largest)/1024, "max-KiB")
		})
	}
}

// BenchmarkChunkImport measures the whole DAG import of 256 MiB of random
// bytes with each chunker: cutting, SHA-256 of every block and the
// balanced UnixFS layout, into a DAG service that keeps nothing (the block
// store's own cost is the same for every chunker).
func BenchmarkChunkImport(b *testing.B) {
	data := chunkBenchData()
	for _, c := range chunkBenchSpecs {
		spec, err := ParseChunker(c.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				params := helpers.DagBuilderParams{
					RawLeaves:  true,
					CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256},
					Maxlinks:   helpers.DefaultLinksPerBlock,
					Dagserv:    discardDAG{},
				}
				db, err := params.New(spec.NewSplitter(bytes.NewReader(data)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := balanced.Layout(db); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardDAG is a DAG service that stores nothing.
type discardDAG struct{}

func (discardDAG) Get(context.Context, cid.Cid) (ipld.Node, error) { return nil, ipld.ErrNotFound{} }
func (discardDAG) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	close(ch)
	return ch
}
func (discardDAG) Add(context.Context, ipld.Node) error        { return nil }
func (discardDAG) AddMany(context.Context, []ipld.Node) error  { return nil }
func (discardDAG) Remove(context.Context, cid.Cid) error       { return nil }
func (discardDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }
