package gateway_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"

	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
)

// The deduplication benchmark: a build v2 that is build v1 with a few
// scattered edits, some of which shift every later byte. Node A (the
// office that built it) stores both; node B, an office that holds v1,
// reads v2; what B receives over the network for v2 is compared with the
// changed chunks (the leaves of v2 that are not leaves of v1, a lower
// bound for any fetch of v2 by leaves) and with the size of v2.
//
//	go test -run '^$' -bench Dedup -benchtime 1x ./gateway/

// dedupBenchSize is the size of build v1 in the benchmark: 64 MiB.
const dedupBenchSize = 64 << 20

// dedupMaxOverhead is the most B may receive for v2, as a multiple of the
// changed chunks: the changed leaves plus the DAG nodes above them.
const dedupMaxOverhead = 1.25

// dedupWait bounds the wait for A's records to reach B.
const dedupWait = 60 * time.Second

// dedupBenchSpecs are the chunkers compared, side by side in one run.
var dedupBenchSpecs = []struct{ name, spec string }{
	{"size-1MiB", "size-1MiB"},
	{"size-256KiB", "size-256KiB"},
	{"buzhash", "buzhash"},
	{"fastcdc", "fastcdc"},
	{"fastcdc-256KiB", "fastcdc-64KiB-256KiB-512KiB"},
}

// dedupEdit is one edit of a build: at Off (an offset in the old build),
// Del bytes are removed and Ins inserted (an overwrite does both, of the
// same length).
type dedupEdit struct {
	Off, Del int
	Ins      []byte
}

// dedupEdits returns the edits of the benchmark's v2, scattered over n
// bytes (one in each tenth, at a random offset): 5 overwrites of 4 KiB,
// 3 insertions and 2 deletions of 1 to 10 KiB each, in a random order.
func dedupEdits(seed uint64, n int) []dedupEdit {
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	kinds := []string{"overwrite", "overwrite", "overwrite", "overwrite", "overwrite", "insert", "insert", "insert", "delete", "delete"}
	rnd.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	seg := n / len(kinds)
	var edits []dedupEdit
	for i, k := range kinds {
		off := i*seg + rnd.IntN(seg-16<<10)
		size := 1<<10 + rnd.IntN(9<<10+1)
		switch k {
		case "overwrite":
			edits = append(edits, dedupEdit{Off: off, Del: 4 << 10, Ins: dedupRandom(rnd.Uint64(), 4<<10)})
		case "insert":
			edits = append(edits, dedupEdit{Off: off, Ins: dedupRandom(rnd.Uint64(), size)})
		case "delete":
			edits = append(edits, dedupEdit{Off: off, Del: size})
		}
	}
	return edits
}

// dedupApply returns old with the edits, which are in increasing Off
// order and do not overlap, applied.
func dedupApply(old []byte, edits []dedupEdit) []byte {
	out := make([]byte, 0, len(old)+64<<10)
	at := 0
	for _, e := range edits {
		out = append(out, old[at:e.Off]...)
		out = append(out, e.Ins...)
		at = e.Off + e.Del
	}
	return append(out, old[at:]...)
}

func dedupRandom(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	_, _ = rand.NewChaCha8(key).Read(b) // ChaCha8.Read never fails
	return b
}

// dedupResult is what one run of the scenario measured.
type dedupResult struct {
	v2Leaves  int   // leaves of v2 (distinct)
	newLeaves int   // leaves of v2 that are not leaves of v1 (distinct)
	changed   int64 // their total size: the changed chunks
	moved     int64 // block bytes B received from the network for v2
	stored    int64 // block bytes B stored for v2
	size      int64 // size of v2
}

// runDedup stores v1 and v2 at node A in a bucket cut by spec, each in
// one PUT, or with partSize > 0 as a multipart upload of partSize parts
// (as aws s3 cp uploads large files), reads v1 and then v2 at node B, and
// measures what B received for v2. It fails tb if either read does not
// return the bytes stored.
func runDedup(tb testing.TB, spec string, partSize int, v1, v2 []byte) dedupResult {
	tb.Helper()
	ctx := context.Background()
	net := gatewaytest.NewNet(tb)
	a := net.NewReplicatedNode(tb, func(c *gateway.Config) { c.Network = "dedup" })
	b := net.NewReplicatedNode(tb, func(c *gateway.Config) { c.Network = "dedup" })
	net.Connect(a, b)
	dedupWaitFor(tb, "the namespace topic", func() error {
		for _, n := range []*gatewaytest.Node{a, b} {
			if len(n.PubSub.ListPeers(gateway.CRDTTopic("dedup"))) == 0 {
				return fmt.Errorf("no topic peer")
			}
		}
		return nil
	})

	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "builds"}); err != nil {
		tb.Fatal(err)
	}
	if _, err := a.SetBucketChunker(ctx, "builds", spec); err != nil {
		tb.Fatal(err)
	}
	var roots []string
	for i, body := range [][]byte{v1, v2} {
		roots = append(roots, dedupPut(tb, a, fmt.Sprintf("build-v%d", i+1), partSize, body))
	}
	for i, root := range roots {
		key := fmt.Sprintf("build-v%d", i+1)
		dedupWaitFor(tb, key+" at B", func() error {
			info, err := b.HeadObject(ctx, "builds", key)
			if err == nil && info.CID != root {
				err = fmt.Errorf("root %s, want %s", info.CID, root)
			}
			return err
		})
	}

	dedupRead(tb, b, "build-v1", v1)
	st0, err := b.Bitswap.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	bs0 := b.Blocks.Stats()
	dedupRead(tb, b, "build-v2", v2)
	st1, err := b.Bitswap.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	res := dedupResult{
		moved:  int64(st1.DataReceived - st0.DataReceived),
		stored: b.Blocks.Stats().Bytes - bs0.Bytes,
		size:   int64(len(v2)),
	}

	old := dedupLeaves(tb, a, roots[0])
	for c, size := range dedupLeaves(tb, a, roots[1]) {
		res.v2Leaves++
		if _, ok := old[c]; !ok {
			res.newLeaves++
			res.changed += int64(size)
		}
	}
	return res
}

// dedupPut stores body as key in one PUT, or with partSize > 0 as a
// multipart upload, and returns its root.
func dedupPut(tb testing.TB, n *gatewaytest.Node, key string, partSize int, body []byte) string {
	tb.Helper()
	ctx := context.Background()
	if partSize == 0 {
		info, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "builds", Key: key, Body: bytes.NewReader(body), Size: int64(len(body))})
		if err != nil {
			tb.Fatal(err)
		}
		return info.CID
	}
	id, err := n.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "builds", Key: key})
	if err != nil {
		tb.Fatal(err)
	}
	var parts []s3api.CompletedPart
	for off := 0; off < len(body); off += partSize {
		p := body[off:min(off+partSize, len(body))]
		info, err := n.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "builds", Key: key, UploadID: id, PartNumber: len(parts) + 1,
			Body: bytes.NewReader(p), Size: int64(len(p))})
		if err != nil {
			tb.Fatal(err)
		}
		parts = append(parts, s3api.CompletedPart{PartNumber: info.PartNumber, ETag: info.ETag})
	}
	info, err := n.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{Bucket: "builds", Key: key, UploadID: id, Parts: parts})
	if err != nil {
		tb.Fatal(err)
	}
	return info.CID
}

// dedupRead reads key whole at n and fails tb unless it is want.
func dedupRead(tb testing.TB, n *gatewaytest.Node, key string, want []byte) {
	tb.Helper()
	ctx := context.Background()
	info, c, err := n.GetObject(ctx, "builds", key)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := c.Open(ctx, 0, info.Size)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read %s: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("read %s: %d bytes that are not the %d stored", key, len(got), len(want))
	}
}

// dedupLeaves returns the distinct leaves of the DAG under root in n's
// block store, with their sizes.
func dedupLeaves(tb testing.TB, n *gatewaytest.Node, root string) map[cid.Cid]int {
	tb.Helper()
	ctx := context.Background()
	bs := n.Blocks.Blockstore()
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	leaves := map[cid.Cid]int{}
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		nd, err := dag.Get(ctx, c)
		if err != nil {
			tb.Fatal(err)
		}
		if c.Type() == cid.Raw {
			leaves[c] = len(nd.RawData())
			return
		}
		for _, l := range nd.Links() {
			walk(l.Cid)
		}
	}
	walk(cid.MustParse(root))
	return leaves
}

func dedupWaitFor(tb testing.TB, what string, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(dedupWait)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s: %v", what, dedupWait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dedupBenchPartSize is the part size of the multipart variant: aws s3 cp's
// default, 8 MiB. Every part is cut on its own, so a part boundary is a
// forced cut that an insertion moves relative to the content.
const dedupBenchPartSize = 8 << 20

// BenchmarkDedup runs the scenario for each chunker: v1 is 64 MiB of
// random bytes, v2 v1 with dedupEdits, each stored in one PUT, then
// (multipart-8MiB/…) each uploaded in 8 MiB parts. Its metrics: v2's
// leaves and those new in v2, the changed chunks (MiB), what B received
// for v2 (MiB), that over the changed chunks (at most dedupMaxOverhead, or
// the benchmark fails) and over v2's size.
func BenchmarkDedup(b *testing.B) {
	v1 := dedupRandom(1, dedupBenchSize)
	v2 := dedupApply(v1, dedupEdits(2, len(v1)))
	for _, partSize := range []int{0, dedupBenchPartSize} {
		for _, c := range dedupBenchSpecs {
			name := c.name
			if partSize > 0 {
				name = fmt.Sprintf("multipart-%dMiB/%s", partSize>>20, c.name)
			}
			b.Run(name, func(b *testing.B) {
				var res dedupResult
				for b.Loop() {
					res = runDedup(b, c.spec, partSize, v1, v2)
				}
				reportDedup(b, res)
			})
		}
	}
}

func reportDedup(b *testing.B, res dedupResult) {
	const mib = 1 << 20
	b.ReportMetric(float64(res.v2Leaves), "v2-leaves")
	b.ReportMetric(float64(res.newLeaves), "new-leaves")
	b.ReportMetric(float64(res.changed)/mib, "changed-MiB")
	b.ReportMetric(float64(res.moved)/mib, "moved-MiB")
	b.ReportMetric(float64(res.moved)/float64(res.changed), "moved/changed")
	b.ReportMetric(float64(res.moved)/float64(res.size), "moved/F")
	if float64(res.moved) > dedupMaxOverhead*float64(res.changed) {
		b.Fatalf("B received %d bytes for v2, over %.2f × the %d bytes of changed chunks", res.moved, dedupMaxOverhead, res.changed)
	}
}

// TestDedup is the scenario at a small scale: an office holding v1 fetches
// only about the changed chunks of v2, and content-defined chunking
// changes far fewer chunks than fixed-size leaves, which an insertion
// shifts.
func TestDedup(t *testing.T) {
	t.Parallel()
	v1 := dedupRandom(3, 4<<20)
	v2 := dedupApply(v1, dedupEdits(4, len(v1)))
	moved := map[string]int64{}
	for _, spec := range []string{"size-16KiB", "fastcdc-4KiB-16KiB-32KiB"} {
		res := runDedup(t, spec, 0, v1, v2)
		t.Logf("%s: %d of %d leaves new (%d bytes); B received %d bytes for v2 (%.2f × changed, %.3f × v2), stored %d",
			spec, res.newLeaves, res.v2Leaves, res.changed, res.moved, float64(res.moved)/float64(res.changed), float64(res.moved)/float64(res.size), res.stored)
		if float64(res.moved) > dedupMaxOverhead*float64(res.changed) {
			t.Errorf("%s: B received %d bytes for v2, over %.2f × the %d bytes of changed chunks", spec, res.moved, dedupMaxOverhead, res.changed)
		}
		moved[spec] = res.moved
	}
	if fixed, cdc := moved["size-16KiB"], moved["fastcdc-4KiB-16KiB-32KiB"]; cdc*4 > fixed || cdc > int64(len(v2))/5 {
		t.Errorf("B received %d bytes of v2 with fastcdc, %d with fixed-size leaves, of %d: want far less with fastcdc", cdc, fixed, len(v2))
	}
}
