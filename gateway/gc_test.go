package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/internal/gwtest"
	"s3mesh/gateway/namespace"
	"s3mesh/gateway/upkeep"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/blockstore"
	"s3mesh/s3api"
)

// storedBlocks returns the size of every stored block, by multihash.
func storedBlocks(t testing.TB, n *Node) map[string]int {
	t.Helper()
	ctx := context.Background()
	keys, done, err := n.blocks.AllKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for c := range keys {
		size, err := n.blocks.Blockstore().GetSize(ctx, c)
		if err != nil {
			t.Fatalf("size of %s: %v", c, err)
		}
		out[string(c.Hash())] = size
	}
	if err := done(); err != nil {
		t.Fatal(err)
	}
	return out
}

// localDAG returns the multihashes of the blocks of the DAG at root that
// are stored locally, walking only through them.
func localDAG(t testing.TB, n *Node, root cid.Cid) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if out[string(c.Hash())] {
			continue
		}
		b, err := n.blocks.Blockstore().Get(context.Background(), c)
		if ipld.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[string(c.Hash())] = true
		nd, err := dag.DecodeNode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range nd.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return out
}

func objectDAG(t testing.TB, n *Node, info *s3api.ObjectInfo) map[string]bool {
	t.Helper()
	return localDAG(t, n, cid.MustParse(info.CID))
}

// deltaBlocks returns the namespace deltas reachable from the heads and
// the number of those not stored locally.
func deltaBlocks(t testing.TB, n *Node) (present map[string]bool, missing int) {
	t.Helper()
	present = map[string]bool{}
	seen := map[string]bool{}
	stack := n.crdt.Heads(context.Background())
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[string(c.Hash())] {
			continue
		}
		seen[string(c.Hash())] = true
		b, err := n.blocks.Blockstore().Get(context.Background(), c)
		if ipld.IsNotFound(err) {
			missing++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		present[string(c.Hash())] = true
		nd, err := dag.DecodeNode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range nd.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return present, missing
}

func readObject(t testing.TB, n *Node, bucket, key string) []byte {
	t.Helper()
	info, c, err := n.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return readRange(t, c, 0, info.Size)
}

func without(all map[string]int, drop ...map[string]bool) map[string]int {
	out := maps.Clone(all)
	for _, d := range drop {
		for k := range d {
			delete(out, k)
		}
	}
	return out
}

func union(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}

// TestGCRemovesExactlyTheOrphans builds every kind of garbage beside live
// objects, an upload in progress and shared content, and checks that GC
// removes exactly the garbage, keeps every live object readable byte for
// byte and every namespace delta, and counts what it did.
func TestGCRemovesExactlyTheOrphans(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{blockstore.BackendFlatfs, blockstore.BackendPebble} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			reg := prometheus.NewRegistry()
			n := newTestNode(t, Config{ChunkSize: 1024, BlockstoreBackend: backend, NoSync: true, Registerer: reg})
			mustBucket(t, n, "b")
			live := map[string][]byte{}
			putLive := func(key string, data []byte) *s3api.ObjectInfo {
				live[key] = data
				return put(t, n, "b", key, data)
			}

			// Live: a multi-level object, a small one, a copy whose source
			// is deleted, content shared with a deleted object, a
			// completed multipart object.
			putLive("big", randBytes(1, 300<<10)) // 300 leaves: two levels of links
			putLive("small", []byte("hello"))
			src := put(t, n, "b", "src", randBytes(2, 50<<10))
			if _, err := n.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "b", Key: "copy", SourceBucket: "b", SourceKey: "src"}); err != nil {
				t.Fatal(err)
			}
			live["copy"] = randBytes(2, 50<<10)
			if err := n.DeleteObject(ctx, "b", "src"); err != nil {
				t.Fatal(err)
			}
			putLive("twin", randBytes(3, 20<<10))
			put(t, n, "b", "twin-deleted", randBytes(3, 20<<10))
			if err := n.DeleteObject(ctx, "b", "twin-deleted"); err != nil {
				t.Fatal(err)
			}
			id := createUpload(t, n, "b", "mp")
			p1 := uploadPart(t, n, "b", "mp", id, 1, bytes.NewReader(randBytes(4, 30<<10)), 30<<10)
			complete(t, n, "b", "mp", id, p1)
			live["mp"] = randBytes(4, 30<<10)

			// Live, not an object: a part of an upload in progress.
			open := createUpload(t, n, "b", "open")
			uploadPart(t, n, "b", "open", open, 1, bytes.NewReader(randBytes(5, 40<<10)), 40<<10)
			_, openParts, _, err := n.uploads.Parts(ctx, namespace.UploadRef{Bucket: "b", Key: "open", ID: open}, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			openDAG := localDAG(t, n, cid.MustParse(openParts[0].Root))

			// Garbage: an overwritten version, a deleted object, an aborted
			// upload's part, a PUT whose body fails midway, a PUT with a
			// bad digest.
			old := put(t, n, "b", "over", randBytes(6, 60<<10))
			oldDAG := objectDAG(t, n, old)
			putLive("over", randBytes(7, 10<<10))
			del := put(t, n, "b", "del", randBytes(8, 70<<10))
			delDAG := objectDAG(t, n, del)
			if err := n.DeleteObject(ctx, "b", "del"); err != nil {
				t.Fatal(err)
			}
			aborted := createUpload(t, n, "b", "aborted")
			uploadPart(t, n, "b", "aborted", aborted, 1, bytes.NewReader(randBytes(9, 80<<10)), 80<<10)
			_, abortedParts, _, err := n.uploads.Parts(ctx, namespace.UploadRef{Bucket: "b", Key: "aborted", ID: aborted}, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			abortedDAG := localDAG(t, n, cid.MustParse(abortedParts[0].Root))
			if err := n.AbortMultipartUpload(ctx, "b", "aborted", aborted); err != nil {
				t.Fatal(err)
			}
			before := storedBlocks(t, n)
			body := io.MultiReader(bytes.NewReader(randBytes(10, 300<<10)), &failReader{err: errors.New("client went away")})
			if _, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "failed", Body: body, Size: 400 << 10}); err == nil {
				t.Fatal("a PUT whose body fails succeeded")
			}
			if _, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "baddigest", Body: bytes.NewReader(randBytes(11, 30<<10)),
				Size: 30 << 10, ContentMD5: make([]byte, 16)}); err == nil {
				t.Fatal("a PUT with a bad digest succeeded")
			}
			afterFailed := storedBlocks(t, n)
			failedBlocks := map[string]bool{}
			for k := range afterFailed {
				if _, ok := before[k]; !ok {
					failedBlocks[k] = true
				}
			}
			if len(failedBlocks) < 30 {
				t.Fatalf("the failed PUTs left %d blocks, want at least the bad digest's 30 leaves", len(failedBlocks))
			}

			// Every garbage block is in none of the live DAGs.
			liveDAGs := []map[string]bool{openDAG}
			for key := range live {
				info, err := n.HeadObject(ctx, "b", key)
				if err != nil {
					t.Fatal(err)
				}
				liveDAGs = append(liveDAGs, objectDAG(t, n, info))
			}
			deltas, missing := deltaBlocks(t, n)
			if missing != 0 {
				t.Fatalf("%d namespace deltas missing before GC", missing)
			}
			liveSet := union(append(liveDAGs, deltas)...)
			garbage := union(oldDAG, delDAG, abortedDAG, failedBlocks)
			for k := range garbage {
				if liveSet[k] {
					t.Fatalf("test bug: a garbage block is live")
				}
			}
			if !liveSet[string(cid.MustParse(src.CID).Hash())] {
				t.Fatal("test bug: the copy does not share the deleted source's root")
			}
			want := without(afterFailed, garbage)
			var freed int64
			for k := range garbage {
				freed += int64(afterFailed[k])
			}

			var phases []string
			res, err := n.GC(ctx, func(p GCProgress) {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			got := storedBlocks(t, n)
			if !maps.Equal(got, want) {
				var lost, kept []string
				for k := range want {
					if _, ok := got[k]; !ok {
						lost = append(lost, cid.NewCidV1(cid.Raw, []byte(k)).String())
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok {
						kept = append(kept, cid.NewCidV1(cid.Raw, []byte(k)).String())
					}
				}
				t.Fatalf("after GC: %d blocks, want %d; live blocks removed: %v; garbage kept: %v", len(got), len(want), lost, kept)
			}
			if wantRes := (GCResult{Scanned: int64(len(afterFailed)), Live: int64(len(want)), Removed: int64(len(garbage)), FreedBytes: freed, Duration: res.Duration}); res != wantRes {
				t.Errorf("GC = %+v, want %+v", res, wantRes)
			}
			if !slices.Equal(phases, []string{upkeep.GCPhaseMark, upkeep.GCPhaseSweep}) {
				t.Errorf("progress phases %v", phases)
			}
			for key, data := range live {
				if !bytes.Equal(readObject(t, n, "b", key), data) {
					t.Errorf("%s reads back different bytes after GC", key)
				}
			}
			if _, missing := deltaBlocks(t, n); missing != 0 {
				t.Errorf("%d namespace deltas missing after GC", missing)
			}
			// The upload in progress completes.
			p, err := n.ListParts(ctx, s3api.ListPartsInput{Bucket: "b", Key: "open", UploadID: open})
			if err != nil {
				t.Fatal(err)
			}
			complete(t, n, "b", "open", open, &p.Parts[0])
			if !bytes.Equal(readObject(t, n, "b", "open"), randBytes(5, 40<<10)) {
				t.Error("the upload in progress during GC completes with different bytes")
			}
			if st := n.blocks.Stats(); st.Blocks != int64(len(storedBlocks(t, n))) {
				t.Errorf("block count gauge %d after GC, store holds %d", st.Blocks, len(storedBlocks(t, n)))
			}

			// A second run removes nothing.
			res2, err := n.GC(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res2.Removed != 0 || res2.Live != res2.Scanned {
				t.Errorf("second GC = %+v, want nothing removed", res2)
			}
			wantMetrics := fmt.Sprintf(`
# HELP s3mesh_gc_freed_bytes_total Bytes of block data removed from the local block store by garbage collection.
# TYPE s3mesh_gc_freed_bytes_total counter
s3mesh_gc_freed_bytes_total %d
# HELP s3mesh_gc_removed_blocks_total Blocks removed from the local block store by garbage collection.
# TYPE s3mesh_gc_removed_blocks_total counter
s3mesh_gc_removed_blocks_total %d
# HELP s3mesh_gc_runs_total Garbage collections run, whether they completed, failed or were cancelled.
# TYPE s3mesh_gc_runs_total counter
s3mesh_gc_runs_total 2
`, freed, len(garbage))
			if err := testutil.GatherAndCompare(reg, strings.NewReader(wantMetrics),
				"s3mesh_gc_runs_total", "s3mesh_gc_removed_blocks_total", "s3mesh_gc_freed_bytes_total"); err != nil {
				t.Error(err)
			}
			if c := testutil.CollectAndCount(reg, "s3mesh_gc_duration_seconds"); c != 1 {
				t.Errorf("duration histogram: %d series", c)
			}
		})
	}
}

// TestGCOneAtATime: GC does not wait for writes in flight, and spares
// what they noted; while it runs a second GC or an Fsck is refused, and a
// GC whose context ends stops.
func TestGCOneAtATime(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{NoSync: true})
	mustBucket(t, n, "b")
	ctx := context.Background()
	// A write in flight has stored a block it has not committed yet.
	w := n.upkeep.BeginWrite()
	nd := merkledag.NodeWithData([]byte("a block of a write in flight"))
	if err := w.DAG(n.dag).Add(ctx, nd); err != nil {
		t.Fatal(err)
	}
	marking := make(chan struct{})
	resume := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := n.GC(ctx, func(p GCProgress) {
			if p.Phase == upkeep.GCPhaseMark {
				once.Do(func() { close(marking); <-resume })
			}
		})
		done <- err
	}()
	<-marking
	if _, err := n.GC(ctx, nil); !errors.Is(err, ErrMaintenanceRunning) {
		t.Errorf("second GC: %v, want ErrMaintenanceRunning", err)
	}
	if _, err := n.Fsck(ctx, FsckOptions{}, nil); !errors.Is(err, ErrMaintenanceRunning) {
		t.Errorf("Fsck during GC: %v, want ErrMaintenanceRunning", err)
	}
	put(t, n, "b", "during", []byte("a write while GC runs")) // does not wait
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok, _ := n.blocks.Blockstore().Has(ctx, nd.Cid()); !ok {
		t.Fatal("GC removed a block a write in flight noted")
	}
	if got := readObject(t, n, "b", "during"); string(got) != "a write while GC runs" {
		t.Fatalf("object written during GC: %q", got)
	}
	w.End()
	// Once the write ended without committing, its block is garbage.
	if _, err := n.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if ok, _ := n.blocks.Blockstore().Has(ctx, nd.Cid()); ok {
		t.Fatal("the block of an abandoned write survived GC")
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := n.GC(cctx, func(p GCProgress) {
			if p.Phase == upkeep.GCPhaseMark {
				cancel()
			}
		})
		done <- err
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("GC cancelled in its mark: %v", err)
	}
	put(t, n, "b", "k", []byte("after"))
	if _, err := n.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// TestGCConcurrentWrites runs GCs while writers put, overwrite, copy,
// complete multipart uploads and delete objects whose content repeats (so
// new writes reuse blocks that earlier ones left as garbage), and checks
// nothing live is lost: each write reads back at once, and every object at
// the end.
func TestGCConcurrentWrites(t *testing.T) {
	t.Parallel()
	gcSoak(t, 25, time.Minute)
}

// TestGCSoakHeavy is TestGCConcurrentWrites for minutes (S3MESH_GC_SOAK,
// default 2m): GC runs back to back the whole time. Only with S3MESH_HEAVY.
func TestGCSoakHeavy(t *testing.T) {
	gwtest.Heavy(t, "runs GC continuously for minutes under concurrent writers")
	d := 2 * time.Minute
	if s := os.Getenv("S3MESH_GC_SOAK"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	gcSoak(t, 1_000_000, d)
}

// gcSoak runs 4 writers of at most rounds writes each, for at most d,
// beside GCs run back to back.
func gcSoak(t *testing.T, rounds int, d time.Duration) {
	n := newTestNode(t, Config{ChunkSize: 512, NoSync: true})
	mustBucket(t, n, "b")
	ctx := context.Background()
	const writers, variants = 4, 5
	content := func(v int) []byte { return randBytes(uint64(100+v), 4<<10+v*700) }
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	final := make([]map[string][]byte, writers)
	errs := make(chan error, writers+1)
	var writes atomic.Int64
	for w := range writers {
		final[w] = map[string][]byte{}
		wg.Go(func() {
			fail := func(err error) { errs <- err }
			check := func(key string) bool {
				got, err := readObjectErr(ctx, n, "b", key)
				if err != nil || !bytes.Equal(got, final[w][key]) {
					fail(fmt.Errorf("%s read back right after its write: %v (bytes equal %v)", key, err, bytes.Equal(got, final[w][key])))
					return false
				}
				return true
			}
			for i := range rounds {
				if time.Now().After(deadline) {
					return
				}
				writes.Add(1)
				key := fmt.Sprintf("w%d/k%d", w, i%7)
				v := (w + i) % variants
				if _, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(content(v)), Size: int64(len(content(v)))}); err != nil {
					fail(err)
					return
				}
				final[w][key] = content(v)
				if !check(key) {
					return
				}
				switch i % 5 {
				case 1:
					if err := n.DeleteObject(ctx, "b", key); err != nil {
						fail(err)
						return
					}
					delete(final[w], key)
				case 2:
					cp := fmt.Sprintf("w%d/copy%d", w, i%3)
					if _, err := n.CopyObject(ctx, &s3api.CopyObjectInput{Bucket: "b", Key: cp, SourceBucket: "b", SourceKey: key}); err != nil {
						fail(err)
						return
					}
					final[w][cp] = content(v)
					if !check(cp) {
						return
					}
				case 3:
					mp := fmt.Sprintf("w%d/mp%d", w, i%2)
					id, err := n.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "b", Key: mp})
					if err != nil {
						fail(err)
						return
					}
					// One part (a last part has no minimum size): imported,
					// or copied from key's DAG.
					var p *s3api.PartInfo
					if i%2 == 0 {
						p, err = n.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "b", Key: mp, UploadID: id, PartNumber: 1, Body: bytes.NewReader(content(v)), Size: int64(len(content(v)))})
					} else {
						p, err = n.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{Bucket: "b", Key: mp, UploadID: id, PartNumber: 1, SourceBucket: "b", SourceKey: key, Length: -1})
					}
					if err != nil {
						fail(err)
						return
					}
					if _, err := n.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{Bucket: "b", Key: mp, UploadID: id,
						Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: p.ETag}}}); err != nil {
						fail(err)
						return
					}
					final[w][mp] = content(v)
					if !check(mp) {
						return
					}
				}
			}
		})
	}
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	runs := 0
	go func() {
		defer close(gcDone)
		for range 1_000_000 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := n.GC(ctx, nil); err != nil {
				errs <- err
				return
			}
			runs++
		}
	}()
	wg.Wait()
	close(stop)
	<-gcDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := n.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d GCs ran beside %d writes", runs, writes.Load())
	for w := range writers {
		for key, data := range final[w] {
			if !bytes.Equal(readObject(t, n, "b", key), data) {
				t.Errorf("%s: different bytes after the GCs", key)
			}
		}
	}
	if _, missing := deltaBlocks(t, n); missing != 0 {
		t.Errorf("%d namespace deltas missing", missing)
	}
}

// readObjectErr reads bucket/key on n whole.
func readObjectErr(ctx context.Context, n *Node, bucket, key string) ([]byte, error) {
	info, c, err := n.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	r, err := c.Open(ctx, 0, info.Size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestGCStopsOnUnreadableLiveNode: a live dag-pb node that does not match
// its CID stops GC before anything is removed.
func TestGCStopsOnUnreadableLiveNode(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 1024, NoSync: true})
	mustBucket(t, n, "b")
	info := put(t, n, "b", "k", randBytes(1, 10<<10))
	old := put(t, n, "b", "over", randBytes(2, 10<<10))
	put(t, n, "b", "over", []byte("new"))
	root := cid.MustParse(info.CID)
	corruptThroughStore(t, n, root)
	before := storedBlocks(t, n)
	_, err := n.GC(context.Background(), nil)
	if !errors.Is(err, upkeep.ErrLiveBlockUnreadable) || !strings.Contains(err.Error(), "b/k") || !strings.Contains(err.Error(), root.String()) {
		t.Fatalf("GC with a corrupt live node: %v", err)
	}
	if after := storedBlocks(t, n); len(after) != len(before) {
		t.Fatalf("GC removed %d blocks before failing", len(before)-len(after))
	}
	if ok, _ := n.blocks.Blockstore().Has(context.Background(), cid.MustParse(old.CID)); !ok {
		t.Fatal("garbage removed by a failed GC")
	}
}

// corruptThroughStore replaces block c's content with other bytes under the
// same CID, through the block store (which does not verify what it stores).
func corruptThroughStore(t testing.TB, n *Node, c cid.Cid) {
	t.Helper()
	ctx := context.Background()
	b, err := n.blocks.Blockstore().Get(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(b.RawData())
	data[len(data)/2] ^= 0xff
	bad, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.blocks.DeleteBlocks(ctx, []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	if err := n.blocks.Blockstore().Put(ctx, bad); err != nil {
		t.Fatal(err)
	}
}

// TestGCKeepsVersions: GC keeps the blocks of every version of a versioned
// bucket, current or not, and of a version under a delete marker; a
// version removed for good is collected.
func TestGCKeepsVersions(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{NoSync: true})
	mustBucket(t, n, "b")
	ctx := context.Background()
	if err := n.PutBucketVersioning(ctx, "b", s3api.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, n, "b", "k", []byte("the first version"))
	v2 := put(t, n, "b", "k", []byte("the second version"))
	v3 := put(t, n, "b", "k", []byte("the third version, removed"))
	if _, err := n.DeleteObjectVersion(ctx, "b", "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := n.DeleteObjectVersion(ctx, "b", "k", v3.VersionID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*s3api.ObjectInfo{v1, v2} {
		info, c, err := n.GetObjectVersion(ctx, "b", "k", v.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Open(ctx, 0, info.Size)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r); err != nil {
			t.Fatalf("version %s after GC: %v", v.VersionID, err)
		}
		r.Close()
	}
	if ok, _ := n.blocks.Blockstore().Has(ctx, cid.MustParse(v3.CID)); ok {
		t.Error("GC kept the blocks of a removed version")
	}
}
