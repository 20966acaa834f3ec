package namespace

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"s3mesh/s3api/s3err"
)

func setVersioning(t *testing.T, ns *CRDTNamespace, bucket, state string) {
	t.Helper()
	if _, err := ns.UpdateBucket(context.Background(), bucket, func(b *BucketRecord) error {
		b.Versioning = state
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func putVersion(t *testing.T, ns *CRDTNamespace, bucket, key, etag string) *ObjectRecord {
	t.Helper()
	rec := &ObjectRecord{Bucket: bucket, Key: key, Root: "bafkqaaa", ETag: etag, LastModified: time.Unix(1, 0)}
	if err := ns.PutObject(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
	return rec
}

// versionList is the listing of a bucket's versions as "key id etag
// latest", a delete marker's etag being "DM".
func versionList(t *testing.T, ns *CRDTNamespace, bucket string) []string {
	t.Helper()
	it, err := ns.Versions(context.Background(), bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		rec, latest := it.Record()
		etag := rec.ETag
		if rec.DeleteMarker {
			etag = "DM"
		}
		out = append(out, fmt.Sprintf("%s %s %s %v", rec.Key, rec.VersionID(), etag, latest))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCrdtVersionsLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	ns := openOfflineCRDT(t, t.TempDir(), clock)
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	// Unversioned: one null version, overwritten.
	putVersion(t, ns, "b", "k", "n1")
	n1 := winnerVersion(t, ns, "b", "k")
	putVersion(t, ns, "b", "k", "n2")
	if got, want := versionList(t, ns, "b"), []string{"k null n2 true"}; !cmp.Equal(got, want) {
		t.Fatalf("unversioned: %v, want %v", got, want)
	}
	setVersioning(t, ns, "b", VersioningEnabled)
	v1 := putVersion(t, ns, "b", "k", "v1")
	v2 := putVersion(t, ns, "b", "k", "v2")
	if !v1.Versioned || v1.VersionID() == "null" || v1.Version >= v2.Version {
		t.Fatalf("versions %+v %+v", v1, v2)
	}
	dm, err := ns.DeleteCurrent(ctx, "b", "k")
	if err != nil || dm == nil || !dm.DeleteMarker {
		t.Fatalf("DeleteCurrent: %+v, %v", dm, err)
	}
	want := []string{
		"k " + dm.Version + " DM true",
		"k " + v2.Version + " v2 false",
		"k " + v1.Version + " v1 false",
		"k null n2 false",
	}
	if got := versionList(t, ns, "b"); !cmp.Equal(got, want) {
		t.Fatalf("versioned (-want +got):\n%s", cmp.Diff(want, got))
	}
	if _, err := ns.GetObject(ctx, "b", "k"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("GetObject after marker: %v", err)
	}
	if rec, err := ns.ObjectVersion(ctx, "b", "k", v1.Version); err != nil || rec.ETag != "v1" {
		t.Fatalf("ObjectVersion v1: %+v, %v", rec, err)
	}
	if rec, err := ns.ObjectVersion(ctx, "b", "k", "null"); err != nil || rec.ETag != "n2" {
		t.Fatalf("ObjectVersion null: %+v, %v", rec, err)
	}
	if _, err := ns.ObjectVersion(ctx, "b", "k", n1); !errors.Is(err, s3err.ErrNoSuchVersion) {
		t.Fatalf("ObjectVersion of an overwritten null version: %v", err)
	}
	if err := ns.DeleteBucket(ctx, "b"); !errors.Is(err, s3err.ErrBucketNotEmpty) {
		t.Fatalf("DeleteBucket with versions: %v", err)
	}
	// Removing the marker makes v2 current again.
	if rec, err := ns.DeleteVersion(ctx, "b", "k", dm.Version); err != nil || !rec.DeleteMarker {
		t.Fatalf("DeleteVersion marker: %+v, %v", rec, err)
	}
	if rec, err := ns.GetObject(ctx, "b", "k"); err != nil || rec.ETag != "v2" {
		t.Fatalf("GetObject after removing the marker: %+v, %v", rec, err)
	}
	if _, err := ns.DeleteVersion(ctx, "b", "k", v2.Version); err != nil {
		t.Fatal(err)
	}
	if rec, err := ns.GetObject(ctx, "b", "k"); err != nil || rec.ETag != "v1" {
		t.Fatalf("GetObject after removing v2: %+v, %v", rec, err)
	}
	// Suspended: puts replace the null version only.
	setVersioning(t, ns, "b", VersioningSuspended)
	s1 := putVersion(t, ns, "b", "k", "s1")
	if s1.Versioned || s1.VersionID() != "null" {
		t.Fatalf("suspended put: %+v", s1)
	}
	want = []string{"k null s1 true", "k " + v1.Version + " v1 false"}
	if got := versionList(t, ns, "b"); !cmp.Equal(got, want) {
		t.Fatalf("suspended (-want +got):\n%s", cmp.Diff(want, got))
	}
	// Pruning keeps every version; the overwritten null ones go.
	clock.Add(time.Hour)
	if _, err := ns.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := versionList(t, ns, "b"); !cmp.Equal(got, want) {
		t.Fatalf("after prune (-want +got):\n%s", cmp.Diff(want, got))
	}
	if rec, err := ns.ObjectVersion(ctx, "b", "k", v1.Version); err != nil || rec.ETag != "v1" {
		t.Fatalf("v1 after prune: %+v, %v", rec, err)
	}
	var roots int
	if err := ns.VersionRoots(ctx, func(_, _, _ string, _ bool) error { roots++; return nil }); err != nil || roots != 2 {
		t.Fatalf("VersionRoots: %d, %v", roots, err)
	}
	// A suspended delete writes a null delete marker.
	dm2, err := ns.DeleteCurrent(ctx, "b", "k")
	if err != nil || dm2.VersionID() != "null" {
		t.Fatalf("suspended delete: %+v, %v", dm2, err)
	}
	want = []string{"k null DM true", "k " + v1.Version + " v1 false"}
	if got := versionList(t, ns, "b"); !cmp.Equal(got, want) {
		t.Fatalf("suspended delete (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// dumpIndex returns the index keys derived from object entries.
func dumpIndex(t *testing.T, ns *CRDTNamespace) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{prefixObject, prefixWinner, prefixVersion} {
		it, err := ns.idx.db.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: upperBound([]byte(p))})
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			out[string(it.Key())] = string(it.Value())
		}
		it.Close()
	}
	return out
}

// TestCrdtVersionsOrderIndependent applies one set of object entries in
// many orders and checks that the index is the same after each.
func TestCrdtVersionsOrderIndependent(t *testing.T) {
	t.Parallel()
	ver := func(ms int64, node string) string { return formatVersion(ms, 0, node) }
	obj := func(etag string, versioned bool) []byte {
		b, err := encodeObject(&ObjectRecord{Root: "bafkqaaa", ETag: etag, Versioned: versioned})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type ent struct {
		version string
		e       entry
	}
	key := "k\x00x"
	ents := []ent{
		{ver(1, "a"), entry{kind: entryPut, payload: obj("n1", false)}},
		{ver(2, "b"), entry{kind: entryPut, payload: obj("n2", false)}},
		{ver(3, "a"), entry{kind: entryPut, payload: obj("v3", true)}},
		{ver(4, "b"), entry{kind: entryPut, payload: obj("v4", true)}},
		{ver(5, "a"), entry{kind: entryMarker, payload: encodeJSON(markerV1{Modified: 5, Versioned: true})}},
		{ver(6, "b"), entry{kind: entryRemove, payload: encodeJSON(removeV1{Version: ver(5, "a")})}},
		{ver(7, "a"), entry{kind: entryRemove, payload: encodeJSON(removeV1{Version: ver(2, "b"), Null: true})}},
		{ver(8, "b"), entry{kind: entryPut, payload: obj("v8", true)}},
		{ver(9, "a"), entry{kind: entryRemove, payload: encodeJSON(removeV1{Version: ver(8, "b")})}},
		{ver(10, "c"), entry{kind: entryPut, payload: obj("v10", true)}},
		{ver(11, "c"), entry{kind: entryPut, payload: obj("n11", false)}},
	}
	bucket, err := encodeBucket(BucketRecord{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		ns := openOfflineCRDT(t, t.TempDir(), nil)
		if _, _, err := ns.apply(bucketEntryKey("b", ver(0, "a")), entry{kind: entryCreate, payload: bucket}.encode()); err != nil {
			t.Fatal(err)
		}
		order := rng.Perm(len(ents))
		if i == 0 {
			for j := range order {
				order[j] = j
			}
		}
		for _, j := range order {
			e := ents[j]
			if _, _, err := ns.apply(objectEntryKey("b", key, e.version), e.e.encode()); err != nil {
				t.Fatal(err)
			}
			// Applying twice changes nothing.
			if _, _, err := ns.apply(objectEntryKey("b", key, e.version), e.e.encode()); err != nil {
				t.Fatal(err)
			}
		}
		got := dumpIndex(t, ns)
		if i == 0 {
			want = got
			list := versionList(t, ns, "b")
			wantList := []string{
				"k\x00x null n11 true",
				"k\x00x " + ver(10, "c") + " v10 false",
				"k\x00x " + ver(4, "b") + " v4 false",
				"k\x00x " + ver(3, "a") + " v3 false",
			}
			if !cmp.Equal(list, wantList) {
				t.Fatalf("versions (-want +got):\n%s", cmp.Diff(wantList, list))
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("order %v gives another index (-first +this):\n%s", order, diff)
		}
	}
}

// TestCrdtVersionsIndexUpgrade: an index made before versions (no c/index,
// no x/) is rebuilt at open, so every version is known again (GC marks
// from x/); an up-to-date index is not rebuilt.
func TestCrdtVersionsIndexUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	cfg := CRDTConfig{Dir: dir, NodeID: "solo", NoSync: true, PruneInterval: -1}
	ns, err := OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	setVersioning(t, ns, "b", VersioningEnabled)
	putVersion(t, ns, "b", "k", "v1")
	putVersion(t, ns, "b", "k", "v2")
	if _, err := ns.DeleteCurrent(ctx, "b", "k"); err != nil {
		t.Fatal(err)
	}
	want := versionList(t, ns, "b")
	// Make the index look as an older release left it.
	if err := ns.idx.db.DeleteRange([]byte(prefixVersion), upperBound([]byte(prefixVersion)), ns.idx.wo); err != nil {
		t.Fatal(err)
	}
	if err := ns.idx.db.Delete(keyIndexFormat, ns.idx.wo); err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	ns, err = OpenCRDTNamespace(cfg, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if got := versionList(t, ns, "b"); !cmp.Equal(got, want) {
		t.Fatalf("versions after the upgrade (-want +got):\n%s", cmp.Diff(want, got))
	}
	var roots int
	if err := ns.VersionRoots(ctx, func(_, _, _ string, _ bool) error { roots++; return nil }); err != nil || roots != 2 {
		t.Fatalf("VersionRoots after the upgrade: %d, %v", roots, err)
	}
}
