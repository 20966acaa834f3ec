package namespace

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/ipfs/go-datastore/query"

	"s3mesh/gateway/internal/gwtest"
	"s3mesh/s3api"
)

// crdtEntries counts the live CRDT entries of the node's namespace whose
// key starts with prefix ("/o" or "/b").
func crdtEntries(t *testing.T, n *CRDTNamespace, prefix string) int {
	t.Helper()
	res, err := n.crdtDS().Query(context.Background(), query.Query{Prefix: prefix, KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// TestMigrateSingleNodeNamespace: a data directory whose namespace was
// written by PebbleNamespace (before replication) opens with every bucket,
// object and multipart upload in place, its records published as CRDT
// entries once (not again at the next open).
func TestMigrateSingleNodeNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	old, err := OpenPebbleNamespace(PebbleNamespaceConfig{Dir: filepath.Join(dir, "namespace"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"one", "two"} {
		if err := old.CreateBucket(ctx, BucketRecord{Name: b, Created: gwtest.FixedTime}); err != nil {
			t.Fatal(err)
		}
	}
	keys := []string{"a", "dir/b", "dir//c", "../d", "e\x00f"}
	for i, k := range keys {
		rec := &ObjectRecord{Bucket: "one", Key: k, Root: gwtest.EmptyFileCID, Size: int64(i), ETag: strings.Repeat("ab", 16), LastModified: gwtest.FixedTime}
		if err := old.PutObject(ctx, rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	up := &UploadRecord{UploadRef: UploadRef{Bucket: "two", Key: "big", ID: "0000000000000001upload"}, Initiated: gwtest.FixedTime}
	if err := old.CreateUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(n *CRDTNamespace) {
		t.Helper()
		bs, err := n.ListBuckets(ctx)
		if err != nil || len(bs) != 2 || bs[0].Name != "one" || bs[1].Name != "two" {
			t.Fatalf("buckets %+v, %v", bs, err)
		}
		res, err := List(ctx, n, s3api.ListObjectsInput{Bucket: "one", MaxKeys: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range res.Objects {
			got = append(got, o.Key)
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("listed %q, want %q", got, want)
		}
		if info, err := n.GetObject(ctx, "one", "dir//c"); err != nil || info.Size != 2 {
			t.Fatalf("HEAD dir//c: %+v, %v", info, err)
		}
		ups, err := ListUploads(ctx, n.Index(), s3api.ListMultipartUploadsInput{Bucket: "two", MaxUploads: 1000})
		if err != nil || len(ups.Uploads) != 1 || ups.Uploads[0].UploadID != up.ID {
			t.Fatalf("uploads %+v, %v", ups, err)
		}
		if got := crdtEntries(t, n, "/b"); got != 2 {
			t.Errorf("%d bucket entries, want 2", got)
		}
		if got := crdtEntries(t, n, "/o"); got != len(keys) {
			t.Errorf("%d object entries, want %d", got, len(keys))
		}
		if staged := dbKeys(t, n.idx, stagePrefix); len(staged) != 0 {
			t.Errorf("staged records left: %q", staged)
		}
	}
	n := openDirCRDT(t, filepath.Join(dir, "namespace"))
	check(n)
	// The migrated namespace is a live one: writes and deletes work.
	if err := n.DeleteObject(ctx, "one", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.GetObject(ctx, "one", "a"); err == nil {
		t.Fatal("deleted migrated object still visible")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "a" })
	n2 := openDirCRDT(t, filepath.Join(dir, "namespace"))
	// Reopening does not migrate again: "a" stays deleted, and the
	// entries are those of the first open (plus the delete marker).
	res, err := List(ctx, n2, s3api.ListObjectsInput{Bucket: "one", MaxKeys: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != len(keys) {
		t.Fatalf("after reopening, %d objects, want %d", len(res.Objects), len(keys))
	}
	if got := crdtEntries(t, n2, "/o"); got != len(keys)+2 {
		t.Errorf("after reopening, %d object entries, want %d (%d puts and a deleted key's put and marker)", got, len(keys)+2, len(keys))
	}
}

// TestMigrationResumes: records staged by an open that crashed before
// publishing them are published by the next open, even when that open
// rebuilds the index (which clears the b/ and o/ keys the records came
// from).
func TestMigrationResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	nsDir := filepath.Join(dir, "namespace")
	old, err := OpenPebbleNamespace(PebbleNamespaceConfig{Dir: nsDir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.CreateBucket(ctx, BucketRecord{Name: "b", Created: gwtest.FixedTime}); err != nil {
		t.Fatal(err)
	}
	if err := old.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: "k", Root: gwtest.EmptyFileCID, ETag: strings.Repeat("cd", 16), LastModified: gwtest.FixedTime}, nil); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	// The first step of a migration, then a crash: staged, marked, and
	// the index dirty.
	c := &CRDTNamespace{cfg: CRDTConfig{Dir: nsDir, NodeID: "x"}.withDefaults()}
	if c.idx, err = OpenPebbleNamespace(PebbleNamespaceConfig{Dir: nsDir, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	c.log = c.cfg.Logger
	if staged, err := c.stageLegacy(); err != nil || !staged {
		t.Fatalf("stage: %v, %v", staged, err)
	}
	if err := c.idx.db.Set(keyDirty, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.idx.Close(); err != nil {
		t.Fatal(err)
	}

	n := openDirCRDT(t, nsDir)
	rec, err := n.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatalf("migrated object lost: %v", err)
	}
	if rec.ETag != strings.Repeat("cd", 16) {
		t.Fatalf("migrated object has ETag %s", rec.ETag)
	}
	if got := crdtEntries(t, n, "/o"); got != 1 {
		t.Errorf("%d object entries, want 1", got)
	}
}

// openDirCRDT opens the namespace in dir, alone, closed at the test's end
// (closing it twice is fine).
func openDirCRDT(t *testing.T, dir string) *CRDTNamespace {
	t.Helper()
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	ns, err := OpenCRDTNamespace(CRDTConfig{Dir: dir, NodeID: "solo", NoSync: true}, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// dbKeys returns the keys of the namespace database with prefix p.
func dbKeys(t *testing.T, n *PebbleNamespace, p string) []string {
	t.Helper()
	it, err := n.prefixIter(context.Background(), []byte(p))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, string(it.Key()))
	}
	return out
}
