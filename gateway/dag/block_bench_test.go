package dag

import (
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"s3mesh/gateway/internal/gwtest"
)

// BenchmarkVerify is the cost of checking a stored block against its CID,
// which every read from the local store pays: SHA-256 over a 1 MiB leaf.
func BenchmarkVerify(b *testing.B) {
	data := gwtest.RandBytes(1, 1<<20)
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		b.Fatal(err)
	}
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(c, blk); err != nil {
			b.Fatal(err)
		}
	}
}
