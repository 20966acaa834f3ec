package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/gateway"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api/s3err"
)

// corruptLeaf rewrites one byte of a raw leaf of bucket/key as n's block
// store holds it, and returns its CID.
func corruptLeaf(t *testing.T, n *gatewaytest.Node, bucket, key string) cid.Cid {
	t.Helper()
	ctx := context.Background()
	info, err := n.HeadObject(ctx, bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	bs := n.Blocks.Blockstore()
	root, err := bs.Get(ctx, cid.MustParse(info.CID))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := dag.DecodeNode(root)
	if err != nil || len(nd.Links()) == 0 {
		t.Fatalf("root %s: %v, %v", info.CID, nd, err)
	}
	leaf := nd.Links()[len(nd.Links())/2].Cid
	b, err := bs.Get(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(b.RawData())
	data[len(data)/2] ^= 0xff
	bad, err := blocks.NewBlockWithCid(data, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.DeleteBlock(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	if err := bs.Put(ctx, bad); err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestCorruptLocalBlockNeverServed: a block corrupted on this node's disk
// is never served. With a peer holding a good copy, the read fetches it,
// replaces the bad one and returns the right bytes; alone, the read fails
// with ServiceUnavailable naming the block. Both are counted.
func TestCorruptLocalBlockNeverServed(t *testing.T) {
	t.Parallel()
	net := gatewaytest.NewNet(t)
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a := net.NewNode(t, func(c *gateway.Config) {
		c.ChunkSize = 64 << 10
		c.Registerer = regA
		c.FetchTimeout = 2 * time.Second
	})
	b := net.NewNode(t, func(c *gateway.Config) { c.Registerer = regB })
	net.Connect(a, b)
	mustBucket(t, a, b)
	data := randomBytes(7, 1<<20)
	mustPut(t, a, "obj", data)
	replicate(t, a, b, "obj")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := readRange(ctx, b, "obj", 0, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read at B: %v", err)
	}

	// B holds every block; one goes bad on its disk.
	leaf := corruptLeaf(t, b, "bkt", "obj")
	got, err := readRange(ctx, b, "obj", 0, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read at B with a corrupt leaf: %v (bytes equal: %v)", err, bytes.Equal(got, data))
	}
	fixed, err := b.Blocks.Blockstore().Get(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if sum, _ := leaf.Prefix().Sum(fixed.RawData()); !sum.Equals(leaf) {
		t.Fatal("the corrupt block was not replaced")
	}
	for name, want := range map[string]float64{"s3mesh_gateway_corrupt_blocks_total": 1, "s3mesh_gateway_repaired_blocks_total": 1} {
		if got, err := testutil.GatherAndCount(regB, name); err != nil || got != 1 {
			t.Fatalf("%s: %d series, %v", name, got, err)
		}
		if v := counterValue(t, regB, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}

	// A is the only holder; its copy goes bad and B no longer has one.
	net.Disconnect(a, b)
	leaf = corruptLeaf(t, a, "bkt", "obj")
	_, err = readRange(ctx, a, "obj", 0, int64(len(data)))
	var missing *gateway.BlockUnavailableError
	if !errors.Is(err, s3err.ErrServiceUnavailable) || !errors.As(err, &missing) || !missing.CID.Equals(leaf) {
		t.Fatalf("read of a corrupt block no peer has: %v; want ServiceUnavailable naming %s", err, leaf)
	}
	if v := counterValue(t, regA, "s3mesh_gateway_corrupt_blocks_total"); v != 1 {
		t.Errorf("A's corrupt blocks = %v, want 1", v)
	}
}

// counterValue returns the value of the counter name on reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
