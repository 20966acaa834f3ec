package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"

	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
)

// leaves returns the raw leaves of the DAG at root, read from nd's store.
func leaves(t *testing.T, nd *gatewaytest.Node, root string) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	stack := []cid.Cid{cid.MustParse(root)}
	for len(stack) > 0 {
		c := stack[0]
		stack = stack[1:]
		if c.Prefix().Codec == cid.Raw {
			out = append(out, c)
			continue
		}
		b, err := nd.Blocks.Blockstore().Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		pn, err := merkledag.DecodeProtobufBlock(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range pn.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return out
}

// deltaOf returns a block of nd's store that is in none of the DAGs at
// roots: a namespace delta (nd stores nothing else).
func deltaOf(t *testing.T, nd *gatewaytest.Node, roots ...string) cid.Cid {
	t.Helper()
	ctx := context.Background()
	dag := map[string]bool{}
	for _, r := range roots {
		dag[string(cid.MustParse(r).Hash())] = true
		for _, l := range leaves(t, nd, r) {
			dag[string(l.Hash())] = true
		}
	}
	keys, done, err := nd.Blocks.AllKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []cid.Cid
	for c := range keys {
		if !dag[string(c.Hash())] {
			out = append(out, c)
		}
	}
	if err := done(); err != nil || len(out) == 0 {
		t.Fatalf("no delta in the store (%v)", err)
	}
	return out[0]
}

// blockFile returns the file of block c in the flatfs store of the node
// whose data directory is dir.
func blockFile(dir string, c cid.Cid) string {
	name := dshelp.MultihashToDsKey(c.Hash()).String()[1:]
	return filepath.Join(dir, "blocks", name[len(name)-3:len(name)-1], name+".data")
}

// TestFsckRepairsFromPeer: on a node whose data dir lost a block and has
// another corrupt, and lost a namespace delta, Fsck with Repair fetches
// good copies from a peer; on the peer, which holds the objects written
// at the first node only in part, Fsck reports the missing blocks as
// remote, not as problems.
func TestFsckRepairsFromPeer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	var dirA string
	a := net.NewReplicatedNode(t, func(c *gateway.Config) { dirA, c.ChunkSize = c.DataDir, 1024 })
	b := net.NewReplicatedNode(t, func(c *gateway.Config) { c.ChunkSize = 1024 })
	net.Connect(a, b)
	waitTopicPeers(t, a, gateway.DefaultNetwork, 1)
	waitTopicPeers(t, b, gateway.DefaultNetwork, 1)

	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{"x": randomBytes(1, 20<<10), "y": randomBytes(2, 20<<10)}
	infos := map[string]*s3api.ObjectInfo{}
	for _, k := range []string{"x", "y"} {
		info, err := a.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: k, Body: bytes.NewReader(data[k]), Size: int64(len(data[k]))})
		if err != nil {
			t.Fatal(err)
		}
		infos[k] = info
	}
	waitUntil(t, "B sees A's objects", func() error {
		for k := range data {
			if _, err := b.HeadObject(ctx, "b", k); err != nil {
				return err
			}
		}
		return nil
	})

	// B holds none of the content: missing, but remote.
	rep, err := b.Fsck(ctx, gateway.FsckOptions{Repair: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unrepaired() != 0 || rep.MissingRemote != 2 || rep.RemoteObjectsPartial != 2 || rep.Repaired != 0 || len(rep.Problems) != 2 || !rep.Problems[0].Remote {
		t.Fatalf("fsck of B before reading = %+v; want the two roots missing as remote, nothing repaired", rep)
	}
	for k := range data {
		if !bytes.Equal(readAllAt(t, b, "b", k), data[k]) {
			t.Fatalf("B reads %s wrong", k)
		}
	}
	if rep, err = b.Fsck(ctx, gateway.FsckOptions{}, nil); err != nil || rep.MissingRemote != 0 || rep.Unrepaired() != 0 {
		t.Fatalf("fsck of B after reading = %+v, %v; want everything stored", rep, err)
	}

	// Damage A: a byte flipped in a leaf of x, a leaf of y and a
	// namespace delta deleted.
	corrupt, missing := leaves(t, a, infos["x"].CID)[7], leaves(t, a, infos["y"].CID)[11]
	delta := deltaOf(t, a, infos["x"].CID, infos["y"].CID)
	p := blockFile(dirA, corrupt)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	raw[100] ^= 0x80
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{missing, delta} {
		if err := os.Remove(blockFile(dirA, c)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = a.Fsck(ctx, gateway.FsckOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupt != 1 || rep.Missing != 2 || rep.Unrepaired() != 3 {
		t.Fatalf("fsck of damaged A = %+v; want 1 corrupt, 2 missing", rep)
	}
	rep, err = a.Fsck(ctx, gateway.FsckOptions{Repair: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repaired != 3 || rep.Unrepaired() != 0 {
		t.Fatalf("fsck --repair of A = %+v; want the 3 problems repaired", rep)
	}
	want := map[string]string{string(corrupt.Hash()): "b/x", string(missing.Hash()): "b/y", string(delta.Hash()): "/"}
	for _, pr := range rep.Problems {
		if !pr.Repaired || want[string(cid.MustParse(pr.CID).Hash())] != pr.Bucket+"/"+pr.Key || pr.Remote {
			t.Errorf("problem %+v", pr)
		}
	}
	for k := range data {
		if !bytes.Equal(readAllAt(t, a, "b", k), data[k]) {
			t.Errorf("A reads %s wrong after the repair", k)
		}
	}
	if rep, err = a.Fsck(ctx, gateway.FsckOptions{}, nil); err != nil || rep.Unrepaired() != 0 || len(rep.Problems) != 0 {
		t.Fatalf("fsck of repaired A = %+v, %v", rep, err)
	}
}

// TestGCKeepsNamespaceForNewPeer: after GC removed the garbage of
// overwrites and deletes, a node joining later still catches up on the
// whole namespace (every delta is still served) and reads every object.
func TestGCKeepsNamespaceForNewPeer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	a := net.NewReplicatedNode(t, func(c *gateway.Config) { c.ChunkSize = 1024 })
	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range 12 {
		k := fmt.Sprintf("k%d", i%5)
		want[k] = randomBytes(uint64(i), 3<<10+i)
		if _, err := a.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: k, Body: bytes.NewReader(want[k]), Size: int64(len(want[k]))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DeleteObject(ctx, "b", "k4"); err != nil {
		t.Fatal(err)
	}
	delete(want, "k4")
	res, err := a.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed == 0 {
		t.Fatalf("GC = %+v; want the overwritten and deleted versions removed", res)
	}

	c := net.NewReplicatedNode(t)
	net.Connect(a, c)
	waitUntil(t, "the new node catches up", func() error {
		keys, err := keysAt(c, "b")
		if err != nil {
			return err
		}
		if len(keys) != len(want) {
			return fmt.Errorf("lists %v", keys)
		}
		return nil
	})
	for k, data := range want {
		if !bytes.Equal(readAllAt(t, c, "b", k), data) {
			t.Errorf("the new node reads %s wrong", k)
		}
	}
}
