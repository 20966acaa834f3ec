package namespace

import (
	"context"
	"testing"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
)

func keysUnder(t *testing.T, d ds.Datastore, prefix string) []string {
	t.Helper()
	res, err := d.Query(context.Background(), query.Query{Prefix: prefix, KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range all {
		out = append(out, e.Key)
	}
	return out
}

// TestWalkGuard: a walk that ends cleanly keeps its processed marks and
// clears its journal; a walk during which the store was marked dirty is
// unwound (marks deleted, store dirty); a journal left by a run that
// stopped mid-walk is unwound at recover; marks written outside a walk are
// not journaled.
func TestWalkGuard(t *testing.T) {
	ctx := context.Background()
	mark := func(s string) ds.Key { return ds.NewKey(crdtProcessedSpace + s) }
	tests := []struct {
		name      string
		dirty     bool // mark dirty during the walk
		batch     bool // write the marks through a batch
		wantMarks int
	}{
		{"clean walk", false, false, 3},
		{"clean walk, batched", false, true, 3},
		{"failed walk", true, false, 1}, // the mark written before the walk stays
		{"failed walk, batched", true, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := dssync.MutexWrap(ds.NewMapDatastore())
			g := newWalkGuard(inner, crdtNamespace, discardLogger())
			if err := g.Put(ctx, mark("before"), nil); err != nil {
				t.Fatal(err)
			}
			g.beginWalk()
			w := ds.Write(g)
			var b ds.Batch
			if tt.batch {
				var err error
				if b, err = g.Batch(ctx); err != nil {
					t.Fatal(err)
				}
				w = b
			}
			for _, s := range []string{"x", "y"} {
				if err := w.Put(ctx, mark(s), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Put(ctx, ds.NewKey("/crdt/s/other"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			if b != nil {
				if err := b.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got := keysUnder(t, inner, walkJournalSpace); len(got) != 2 {
				t.Fatalf("journal during the walk: %q", got)
			}
			if tt.dirty {
				if err := g.Put(ctx, ds.NewKey(crdtDirtyKey), nil); err != nil {
					t.Fatal(err)
				}
			}
			g.endWalk(ctx)
			if got := keysUnder(t, inner, crdtProcessedSpace); len(got) != tt.wantMarks {
				t.Errorf("marks after the walk: %q, want %d", got, tt.wantMarks)
			}
			if got := keysUnder(t, inner, walkJournalSpace); len(got) != 0 {
				t.Errorf("journal after the walk: %q", got)
			}
			if has, _ := inner.Has(ctx, ds.NewKey(crdtDirtyKey)); has != tt.dirty {
				t.Errorf("dirty after the walk = %v, want %v", has, tt.dirty)
			}
			if v, err := inner.Get(ctx, ds.NewKey("/crdt/s/other")); err != nil || string(v) != "v" {
				t.Errorf("other key: %q, %v", v, err)
			}
		})
	}

	t.Run("recover", func(t *testing.T) {
		inner := dssync.MutexWrap(ds.NewMapDatastore())
		g := newWalkGuard(inner, crdtNamespace, discardLogger())
		g.beginWalk()
		for _, s := range []string{"x", "y"} {
			if err := g.Put(ctx, mark(s), nil); err != nil {
				t.Fatal(err)
			}
		}
		// The run stops here: no endWalk. The next run recovers.
		g2 := newWalkGuard(inner, crdtNamespace, discardLogger())
		if err := g2.recover(ctx); err != nil {
			t.Fatal(err)
		}
		if got := keysUnder(t, inner, crdtProcessedSpace); len(got) != 0 {
			t.Errorf("marks after recover: %q", got)
		}
		if got := keysUnder(t, inner, walkJournalSpace); len(got) != 0 {
			t.Errorf("journal after recover: %q", got)
		}
		if has, _ := inner.Has(ctx, ds.NewKey(crdtDirtyKey)); !has {
			t.Error("recover did not mark the store dirty")
		}
		// Nothing to recover: nothing changes.
		if err := inner.Delete(ctx, ds.NewKey(crdtDirtyKey)); err != nil {
			t.Fatal(err)
		}
		if err := g2.recover(ctx); err != nil {
			t.Fatal(err)
		}
		if has, _ := inner.Has(ctx, ds.NewKey(crdtDirtyKey)); has {
			t.Error("recover of an empty journal marked the store dirty")
		}
	})
}
