package namespace

import (
	"context"
	"path/filepath"
	"testing"

	"s3mesh/gateway/internal/gwtest"
)

// TestKeyspaceSurvivesRebuild: an owner's key space is its own: keys are
// relative to it, a scan sees no other owner's keys, and an index rebuild
// (after an unclean stop) keeps it.
func TestKeyspaceSurvivesRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "namespace")
	ns := openDirCRDT(t, dir)
	if _, err := ns.Keyspace("nobody"); err == nil {
		t.Fatal("a key space for an unknown owner")
	}
	ks, err := ns.Keyspace(OwnerReplicate)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := ns.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: "k", Root: gwtest.EmptyFileCID, ETag: "e"}, nil); err != nil {
		t.Fatal(err)
	}
	b := ks.NewBatch()
	for _, k := range []string{"q/b/k", "d/b/j"} {
		if err := b.Set([]byte(k), []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	scan := func(ks *Keyspace) []string {
		t.Helper()
		it, err := ks.Scan(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var out []string
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, string(it.Key())+"="+string(it.Value()))
		}
		if err := it.Error(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := "[d/b/j=v-d/b/j q/b/k=v-q/b/k]"
	if got := scan(ks); fmtList(got) != want {
		t.Fatalf("scan = %v, want %s", got, want)
	}
	ns.indexFailed.Store(true) // Close leaves the dirty marker: the next open rebuilds
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	ns = openDirCRDT(t, dir)
	if _, err := ns.GetObject(ctx, "b", "k"); err != nil {
		t.Fatalf("object after the rebuild: %v", err)
	}
	ks, err = ns.Keyspace(OwnerReplicate)
	if err != nil {
		t.Fatal(err)
	}
	if got := scan(ks); fmtList(got) != want {
		t.Fatalf("after a rebuild, scan = %v, want %s", got, want)
	}
	if err := ks.DeleteRange([]byte("q/")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := ks.Get([]byte("q/b/k")); ok || err != nil {
		t.Fatalf("deleted key = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := ks.Get([]byte("d/b/j")); !ok || err != nil || string(v) != "v-d/b/j" {
		t.Fatalf("kept key = %q, %v, %v", v, ok, err)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}
