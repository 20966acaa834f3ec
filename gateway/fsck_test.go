package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/go-cid"

	"s3mesh/blockstore"
	"s3mesh/gateway/upkeep"
	"s3mesh/s3api"
)

// flatfsPath returns the file a flatfs block store under dir keeps c in.
func flatfsPath(dir string, c cid.Cid) string {
	name := dshelp.MultihashToDsKey(c.Hash()).String()[1:]
	return filepath.Join(dir, name[len(name)-3:len(name)-1], name+".data")
}

// flipByte changes one byte of c's file in the flatfs store under dir.
func flipByte(t testing.TB, dir string, c cid.Cid) {
	t.Helper()
	p := flatfsPath(dir, c)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFsckFindsCorruptAndMissingBlocks damages a test data dir (a byte
// flipped in a block file, a block file deleted, a namespace delta
// deleted) and checks that Fsck reports each bad block with its object and
// CID, once per object that holds it, and that Repair without peers
// repairs nothing and keeps the corrupt copy.
func TestFsckFindsCorruptAndMissingBlocks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		backend    string
		hashOnRead bool
		onDisk     bool // damage the files, else through the store
	}{
		{name: "flatfs", backend: blockstore.BackendFlatfs, onDisk: true},
		{name: "flatfs-hash-on-read", backend: blockstore.BackendFlatfs, hashOnRead: true, onDisk: true},
		{name: "pebble", backend: blockstore.BackendPebble},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			bs, err := blockstore.Open(blockstore.Config{Path: filepath.Join(dir, "blocks"), Backend: tc.backend, HashOnRead: tc.hashOnRead, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bs.Close() })
			n := newTestNode(t, Config{DataDir: dir, Blockstore: bs, ChunkSize: 1024, NoSync: true})
			mustBucket(t, n, "b")
			a := put(t, n, "b", "a", randBytes(1, 8<<10))
			bo := put(t, n, "b", "b", randBytes(2, 8<<10))
			put(t, n, "b", "c", randBytes(3, 5<<10))
			if _, err := n.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "b", Key: "d", SourceBucket: "b", SourceKey: "a"}); err != nil {
				t.Fatal(err)
			}
			clean, err := n.Fsck(ctx, FsckOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if clean.Unrepaired() != 0 || len(clean.Problems) != 0 || clean.Objects != 4 || clean.Deltas != 5 || clean.Blocks != 9+9+6+5 {
				t.Fatalf("fsck of a sound store = %+v; want 4 objects, 5 deltas, 29 blocks (a copy is not read again), no problem", clean)
			}

			corrupt := leafCIDs(t, n, a.CID)[3]
			missing := leafCIDs(t, n, bo.CID)[5]
			head := n.crdt.Heads(ctx)[0]
			if tc.onDisk {
				flipByte(t, filepath.Join(dir, "blocks"), corrupt)
				for _, c := range []cid.Cid{missing, head} {
					if err := os.Remove(flatfsPath(filepath.Join(dir, "blocks"), c)); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				corruptThroughStore(t, n, corrupt)
				if _, _, err := n.blocks.DeleteBlocks(ctx, []cid.Cid{missing, head}); err != nil {
					t.Fatal(err)
				}
			}

			var phases []string
			var last FsckProgress
			rep, err := n.Fsck(ctx, FsckOptions{}, func(p FsckProgress) {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
				last = p
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []FsckProblem{
				{Kind: upkeep.FsckCorrupt, Bucket: "b", Key: "a", CID: corrupt.String()},
				{Kind: upkeep.FsckMissing, Bucket: "b", Key: "b", CID: missing.String()},
				{Kind: upkeep.FsckCorrupt, Bucket: "b", Key: "d", CID: corrupt.String()},
				{Kind: upkeep.FsckMissing, CID: head.String()},
			}
			if d := cmp.Diff(want, rep.Problems, cmpopts.IgnoreFields(FsckProblem{}, "Detail")); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
			if rep.Corrupt != 2 || rep.Missing != 2 || rep.MissingRemote != 0 || rep.Unreadable != 0 || rep.Unrepaired() != 4 || rep.Objects != 4 {
				t.Errorf("report %+v; want 2 corrupt, 2 missing, 4 unrepaired", rep)
			}
			if !slices.Equal(phases, []string{upkeep.FsckPhaseObjects, upkeep.FsckPhaseDeltas}) || last.Objects != 4 || last.TotalObjects != 4 || last.Problems != 4 {
				t.Errorf("progress: phases %v, last %+v", phases, last)
			}

			// Repair with no peer to fetch from: nothing is repaired, and
			// the corrupt copy stays.
			rep, err = n.Fsck(ctx, FsckOptions{Repair: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Repaired != 0 || rep.Unrepaired() != 4 {
				t.Errorf("repair without peers: %+v", rep)
			}
			for _, p := range rep.Problems {
				if p.Repaired || !strings.Contains(p.Detail, "not repaired: this node has no exchange") {
					t.Errorf("problem %+v, want not repaired for want of an exchange", p)
				}
			}
			if ok, _ := n.blocks.Blockstore().Has(ctx, corrupt); !ok {
				t.Error("an unrepaired corrupt block was removed")
			}

			// MaxProblems bounds the list, not the counts.
			rep, err = n.Fsck(ctx, FsckOptions{MaxProblems: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 1 || !rep.Truncated || rep.Unrepaired() != 4 {
				t.Errorf("MaxProblems 1: %d problems listed, truncated %v, %d unrepaired", len(rep.Problems), rep.Truncated, rep.Unrepaired())
			}
		})
	}
}

// TestFsckCancelled: Fsck stops when its context ends.
func TestFsckCancelled(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 1024, NoSync: true})
	mustBucket(t, n, "b")
	put(t, n, "b", "a", randBytes(1, 8<<10))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Fsck(ctx, FsckOptions{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fsck with an ended context: %v", err)
	}
	if _, err := n.GC(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("GC with an ended context: %v", err)
	}
}
