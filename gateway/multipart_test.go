package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/namespace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

const heavyEnv = "S3MESH_HEAVY"

func createUpload(t testing.TB, n *Node, bucket, key string) string {
	t.Helper()
	id, err := n.CreateMultipartUpload(context.Background(), &s3api.CreateMultipartUploadInput{Bucket: bucket, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func uploadPart(t testing.TB, n *Node, bucket, key, id string, num int, body io.Reader, size int64) *s3api.PartInfo {
	t.Helper()
	p, err := n.UploadPart(context.Background(), &s3api.UploadPartInput{
		Bucket: bucket, Key: key, UploadID: id, PartNumber: num, Body: body, Size: size,
	})
	if err != nil {
		t.Fatalf("UploadPart(%d): %v", num, err)
	}
	return p
}

func complete(t testing.TB, n *Node, bucket, key, id string, parts ...*s3api.PartInfo) *s3api.ObjectInfo {
	t.Helper()
	list := make([]s3api.CompletedPart, len(parts))
	for i, p := range parts {
		list[i] = s3api.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag}
	}
	info, err := n.CompleteMultipartUpload(context.Background(), &s3api.CompleteMultipartUploadInput{
		Bucket: bucket, Key: key, UploadID: id, Parts: list,
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	return info
}

// readWithBoxo reads the DAG at root with boxo's own UnixFS reader, not the
// node's, so the test shows any IPFS implementation reads it.
func readWithBoxo(t *testing.T, n *Node, root string) []byte {
	t.Helper()
	ctx := context.Background()
	c, err := cid.Decode(root)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := n.dag.Get(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := uio.NewDagReader(ctx, nd, n.dag)
	if err != nil {
		t.Fatalf("NewDagReader(%s): %v", root, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s with boxo: %v", root, err)
	}
	if uint64(len(got)) != r.Size() {
		t.Errorf("boxo reader: read %d bytes, root says %d", len(got), r.Size())
	}
	return got
}

// checkFileNodes walks the dag-pb nodes under root and checks each is a
// UnixFS file whose blocksizes are its children's file sizes and whose
// filesize is their sum, whose link Tsizes are its children's DAG sizes,
// and whose block is under 256 KiB. It stops at the part roots in stop.
func checkFileNodes(t *testing.T, n *Node, root cid.Cid, stop map[cid.Cid]bool) (fileSize, dagSize uint64, depth int) {
	t.Helper()
	ctx := context.Background()
	nd, err := n.dag.Get(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if stop[root] {
		size, err := nd.Size()
		if err != nil {
			t.Fatal(err)
		}
		if pn, ok := nd.(*merkledag.ProtoNode); ok {
			fsn, err := unixfs.FSNodeFromBytes(pn.Data())
			if err != nil {
				t.Fatal(err)
			}
			return fsn.FileSize(), size, 0
		}
		return uint64(len(nd.RawData())), size, 0
	}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		t.Fatalf("%s: %T, want a dag-pb node", root, nd)
	}
	if root.Version() != 1 || root.Prefix().Codec != cid.DagProtobuf {
		t.Errorf("%s: not a CIDv1 dag-pb node", root)
	}
	if l := len(pn.RawData()); l > 256<<10 {
		t.Errorf("%s: block of %d bytes", root, l)
	}
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		t.Fatal(err)
	}
	if fsn.Type() != unixfs.TFile || len(fsn.Data()) != 0 {
		t.Errorf("%s: type %v with %d data bytes, want a file node without data", root, fsn.Type(), len(fsn.Data()))
	}
	if fsn.NumChildren() != len(pn.Links()) {
		t.Fatalf("%s: %d blocksizes, %d links", root, fsn.NumChildren(), len(pn.Links()))
	}
	var sum uint64
	depth = -1
	for i, l := range pn.Links() {
		fs, ds, d := checkFileNodes(t, n, l.Cid, stop)
		if fsn.BlockSize(i) != fs {
			t.Errorf("%s: blocksize[%d] = %d, child holds %d", root, i, fsn.BlockSize(i), fs)
		}
		if l.Size != ds {
			t.Errorf("%s: link %d Tsize %d, child DAG is %d bytes", root, i, l.Size, ds)
		}
		if depth >= 0 && d != depth {
			t.Errorf("%s: children at depths %d and %d: not balanced", root, depth, d)
		}
		depth = d
		sum += fs
	}
	if fsn.FileSize() != sum {
		t.Errorf("%s: filesize %d, blocksizes sum to %d", root, fsn.FileSize(), sum)
	}
	size, err := pn.Size()
	if err != nil {
		t.Fatal(err)
	}
	return sum, size, depth + 1
}

// TestAssemblePartsUnixFS assembles small part DAGs (the size rules are
// CompleteMultipartUpload's, not the assembly's) into trees of every shape
// up to MaxParts, reads each back with boxo's reader and the node's own
// range reader, and checks every new node.
func TestAssemblePartsUnixFS(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{ChunkSize: 7, NoSync: true})
	ctx := context.Background()
	// A pool of distinct part DAGs: raw leaves, multi-level trees, empty.
	var pool []namespace.PartRecord
	var datas [][]byte
	for i, size := range []int{0, 1, 7, 8, 50, 400, 13} {
		data := randBytes(uint64(100+i), size)
		res, err := dag.Import(ctx, n.dag, bytes.NewReader(data), n.defaultChunker())
		if err != nil {
			t.Fatal(err)
		}
		pool = append(pool, namespace.PartRecord{Number: i + 1, Root: res.Root.String(), Size: res.Size, DAGSize: res.DAGSize})
		datas = append(datas, data)
	}
	for _, count := range []int{1, 2, 174, 175, 349, 400, s3api.MaxParts} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			t.Parallel()
			parts := make([]namespace.PartRecord, count)
			var whole []byte
			stop := map[cid.Cid]bool{}
			for i := range parts {
				j := (i*3 + 1) % len(pool)
				if i == count-1 {
					j = 0 // an empty last part
				}
				parts[i] = pool[j]
				parts[i].Number = i + 1
				whole = append(whole, datas[j]...)
				stop[cid.MustParse(pool[j].Root)] = true
			}
			w := n.upkeep.BeginWrite()
			root, err := n.assembleParts(ctx, w, parts)
			w.End()
			if err != nil {
				t.Fatal(err)
			}
			if got := readWithBoxo(t, n, root.String()); !bytes.Equal(got, whole) {
				t.Fatalf("boxo reads %d bytes, want the %d bytes of the parts", len(got), len(whole))
			}
			fileSize, _, depth := checkFileNodes(t, n, root, stop)
			if fileSize != uint64(len(whole)) {
				t.Errorf("root file size %d, want %d", fileSize, len(whole))
			}
			wantDepth := 1
			for c := count; c > 174; c = (c + 173) / 174 {
				wantDepth++
			}
			if depth != wantDepth {
				t.Errorf("%d parts: tree depth %d, want %d", count, depth, wantDepth)
			}
			c := &content{n: n, root: root, size: int64(len(whole))}
			for _, r := range [][2]int64{{0, int64(len(whole))}, {3, 100}, {int64(len(whole)) / 2, int64(len(whole)) / 3}} {
				if r[0]+r[1] > int64(len(whole)) {
					continue
				}
				if got := readRange(t, c, r[0], r[1]); !bytes.Equal(got, whole[r[0]:r[0]+r[1]]) {
					t.Errorf("range reader: Open(%d, %d): wrong bytes", r[0], r[1])
				}
			}
		})
	}
}

// TestMultipartObjectIsUnixFS: an object completed through the API, with
// an empty last part, is a UnixFS file boxo reads.
func TestMultipartObjectIsUnixFS(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{NoSync: true})
	mustBucket(t, n, "b")
	id := createUpload(t, n, "b", "k")
	p1 := randBytes(1, s3api.MinPartSize)
	p2 := randBytes(2, s3api.MinPartSize+3)
	i1 := uploadPart(t, n, "b", "k", id, 1, bytes.NewReader(p1), -1)
	i2 := uploadPart(t, n, "b", "k", id, 2, bytes.NewReader(p2), -1)
	i3 := uploadPart(t, n, "b", "k", id, 3, bytes.NewReader(nil), 0)
	info := complete(t, n, "b", "k", id, i1, i2, i3)
	whole := slices.Concat(p1, p2)
	if got := readWithBoxo(t, n, info.CID); !bytes.Equal(got, whole) {
		t.Fatalf("boxo reads %d bytes, want %d", len(got), len(whole))
	}
	if !slices.Equal(info.PartSizes, []int64{int64(len(p1)), int64(len(p2)), 0}) {
		t.Errorf("PartSizes %v", info.PartSizes)
	}
	// An upload of one empty part is an empty file.
	id = createUpload(t, n, "b", "empty")
	info = complete(t, n, "b", "empty", id, uploadPart(t, n, "b", "empty", id, 1, bytes.NewReader(nil), 0))
	if got := readWithBoxo(t, n, info.CID); len(got) != 0 || info.Size != 0 {
		t.Errorf("empty multipart object: %d bytes, size %d", len(got), info.Size)
	}
}

// partReader streams a part of size bytes without holding it: a 1 MiB
// pseudo-random pattern repeated, its first 8 bytes replaced by variant.
func partReader(variant uint64, size int64) io.Reader {
	var head [8]byte
	for i := range head {
		head[i] = byte(variant >> (8 * i))
	}
	return io.LimitReader(io.MultiReader(bytes.NewReader(head[:]), &repeatReader{b: patternMiB()}), size)
}

var patternMiB = sync.OnceValue(func() []byte { return randBytes(77, 1<<20) })

type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	k := copy(p, r.b[r.off:])
	r.off = (r.off + k) % len(r.b)
	return k, nil
}

// completionCost uploads parts of MinPartSize bytes and a 1-byte last part,
// completes the upload and returns what completion added to the block
// store.
func completionCost(t *testing.T, parts int) (newBlocks, newBytes int64) {
	n := newTestNode(t, Config{NoSync: true})
	mustBucket(t, n, "b")
	id := createUpload(t, n, "b", "k")
	infos := make([]*s3api.PartInfo, parts)
	for i := range parts - 1 {
		infos[i] = uploadPart(t, n, "b", "k", id, i+1, partReader(uint64(i), s3api.MinPartSize), s3api.MinPartSize)
	}
	infos[parts-1] = uploadPart(t, n, "b", "k", id, parts, strings.NewReader("z"), 1)
	before := n.blocks.Stats()
	info := complete(t, n, "b", "k", id, infos...)
	after := n.blocks.Stats()
	want := int64(parts-1)*s3api.MinPartSize + 1
	if info.Size != want {
		t.Fatalf("object of %d bytes, want %d", info.Size, want)
	}
	// The object reads across the end of each part.
	_, c, err := n.GetObject(context.Background(), "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < parts; i++ {
		off := int64(i)*s3api.MinPartSize - 4
		got := readRange(t, c, off, min(8, want-off))
		var wantBytes []byte
		wantBytes = append(wantBytes, readAll(t, partReader(uint64(i-1), s3api.MinPartSize))[s3api.MinPartSize-4:]...)
		if i < parts-1 {
			wantBytes = append(wantBytes, readAll(t, partReader(uint64(i), 4))...)
		} else {
			wantBytes = append(wantBytes, 'z')
		}
		if !bytes.Equal(got, wantBytes) {
			t.Fatalf("bytes across the end of part %d: %x, want %x", i, got, wantBytes)
		}
	}
	return after.Blocks - before.Blocks, after.Bytes - before.Bytes
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompletionCopiesNoContent: completing a 40-part upload (195 MiB)
// writes only the new root, and the namespace's delta publishing the
// object (one small block).
func TestCompletionCopiesNoContent(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("uploads 195 MiB")
	}
	blocks, size := completionCost(t, 40)
	t.Logf("completing 40 parts (39 x 5 MiB + 1 byte): %d new blocks, %d new bytes", blocks, size)
	if blocks != 2 || size <= 0 || size >= 64<<10 {
		t.Errorf("completion added %d blocks, %d bytes; want only the root and one namespace delta, well under 64 KiB", blocks, size)
	}
}

// TestCompletionCopiesNoContentHeavy: the shape of a 1 GiB upload, 200
// parts of 5 MiB, needs a root over two intermediate nodes. Set
// S3MESH_HEAVY=1 to run it.
func TestCompletionCopiesNoContentHeavy(t *testing.T) {
	if testing.Short() || os.Getenv(heavyEnv) == "" {
		t.Skipf("uploads 1000 MiB; set %s=1 to run", heavyEnv)
	}
	blocks, size := completionCost(t, 201)
	t.Logf("completing 201 parts (200 x 5 MiB + 1 byte): %d new blocks, %d new bytes", blocks, size)
	if blocks != 4 || size >= 64<<10 {
		t.Errorf("completion added %d blocks, %d bytes; want a root, two intermediate nodes and one namespace delta, well under 64 KiB", blocks, size)
	}
}

// TestUploadPartCopyWholeSharesRoot: a whole-object part copy names the
// source's root and writes no block; a range is imported.
func TestUploadPartCopyWholeSharesRoot(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{NoSync: true})
	ctx := context.Background()
	mustBucket(t, n, "b")
	data := randBytes(5, s3api.MinPartSize+10)
	src := put(t, n, "b", "src", data)
	id := createUpload(t, n, "b", "k")
	before := n.blocks.Stats()
	p, err := n.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{Bucket: "b", Key: "k", UploadID: id, PartNumber: 1,
		SourceBucket: "b", SourceKey: "src", Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	if after := n.blocks.Stats(); after != before {
		t.Errorf("whole-object part copy changed the block store: %+v -> %+v", before, after)
	}
	_, parts, _, err := n.uploads.Parts(ctx, namespace.UploadRef{Bucket: "b", Key: "k", ID: id}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Root != src.CID || p.ETag != src.ETag {
		t.Fatalf("part %+v, want root %s, ETag %s", parts, src.CID, src.ETag)
	}
	// The whole of a multipart object: the part's ETag is its MD5.
	mpID, mpPart := createUploadWith(t, n, "b", "mp", data)
	info := complete(t, n, "b", "mp", mpID, mpPart)
	id2 := createUpload(t, n, "b", "k2")
	q, err := n.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{Bucket: "b", Key: "k2", UploadID: id2, PartNumber: 1,
		SourceBucket: "b", SourceKey: "mp", Length: info.Size})
	if err != nil {
		t.Fatal(err)
	}
	if q.ETag != src.ETag {
		t.Errorf("whole copy of a multipart object: ETag %s, want the MD5 %s", q.ETag, src.ETag)
	}
	r, err := n.UploadPartCopy(ctx, &s3api.UploadPartCopyInput{Bucket: "b", Key: "k2", UploadID: id2, PartNumber: 2,
		SourceBucket: "b", SourceKey: "mp", Offset: 10, Length: 5000})
	if err != nil {
		t.Fatal(err)
	}
	obj := complete(t, n, "b", "k2", id2, q, r)
	_, c, err := n.GetObject(ctx, "b", "k2")
	if err != nil {
		t.Fatal(err)
	}
	if got := readRange(t, c, 0, obj.Size); !bytes.Equal(got, slices.Concat(data, data[10:5010])) {
		t.Error("object of copied parts: wrong bytes")
	}
}

// createUploadWith creates an upload of key with one part holding data and
// returns the upload ID and the part.
func createUploadWith(t *testing.T, n *Node, bucket, key string, data []byte) (string, *s3api.PartInfo) {
	t.Helper()
	id := createUpload(t, n, bucket, key)
	return id, uploadPart(t, n, bucket, key, id, 1, bytes.NewReader(data), int64(len(data)))
}

// partsLeft returns the parts of uploads in bucket ("": any) that the
// node still records.
func partsLeft(t *testing.T, n *Node, bucket string) []string {
	t.Helper()
	var out []string
	err := n.idx.PartRoots(context.Background(), func(ref namespace.UploadRef, number int, _ string) error {
		if bucket == "" || ref.Bucket == bucket {
			out = append(out, fmt.Sprintf("%s/%s/%d", ref.Bucket, ref.ID, number))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUploadEndsLeaveNoRecords: completion, abort and a racing part upload
// leave no upload or part record behind.
func TestUploadEndsLeaveNoRecords(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{NoSync: true})
	ctx := context.Background()
	mustBucket(t, n, "b")
	for round := range 20 {
		id := createUpload(t, n, "b", "k")
		first := uploadPart(t, n, "b", "k", id, 1, strings.NewReader("first"), 5)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				_, err := n.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "b", Key: "k", UploadID: id, PartNumber: 2 + i,
					Body: strings.NewReader("racing"), Size: 6})
				if err != nil && !errors.Is(err, s3err.ErrNoSuchUpload) {
					t.Errorf("UploadPart racing the end of its upload: %v", err)
				}
			})
		}
		if round%2 == 0 {
			if err := n.AbortMultipartUpload(ctx, "b", "k", id); err != nil {
				t.Fatal(err)
			}
		} else {
			complete(t, n, "b", "k", id, first)
		}
		wg.Wait()
	}
	if keys := partsLeft(t, n, ""); len(keys) != 0 {
		t.Errorf("records left after every upload ended: %q", keys)
	}
	if got := n.uploads.OpenUploads(); got != 0 {
		t.Errorf("OpenUploads = %d, want 0", got)
	}
}

// TestUploadIDs: IDs are URL-safe, made in one instant still sort in
// creation order, and keep doing so after a restart.
func TestUploadIDs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := newTestNode(t, Config{DataDir: dir, NoSync: true}) // a fixed clock
	mustBucket(t, n, "b")
	var ids []string
	for range 50 {
		ids = append(ids, createUpload(t, n, "b", "k"))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("upload IDs made at one instant do not sort in creation order: %q", ids)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := newTestNode(t, Config{DataDir: dir, NoSync: true, Clock: func() time.Time { return fixedTime.Add(time.Second) }})
	later := createUpload(t, n2, "b", "k")
	if later <= ids[len(ids)-1] {
		t.Errorf("upload ID %q after a restart sorts before %q", later, ids[len(ids)-1])
	}
	res, err := n2.ListMultipartUploads(context.Background(), s3api.ListMultipartUploadsInput{Bucket: "b", MaxUploads: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range res.Uploads {
		got = append(got, u.UploadID)
	}
	if want := append(ids, later); !slices.Equal(got, want) {
		t.Errorf("uploads after a restart = %d IDs, want the %d made, in order", len(got), len(want))
	}
	if n2.uploads.OpenUploads() != 51 {
		t.Errorf("OpenUploads after a restart = %d, want 51", n2.uploads.OpenUploads())
	}
	for _, r := range later {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", r) {
			t.Errorf("upload ID %q holds %q", later, r)
		}
	}
}

// TestDeleteBucketDiscardsUploads: uploads in progress do not keep a
// bucket, and do not survive into a bucket of the same name.
func TestDeleteBucketDiscardsUploads(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{NoSync: true})
	ctx := context.Background()
	mustBucket(t, n, "b")
	mustBucket(t, n, "c")
	id := createUpload(t, n, "b", "k")
	uploadPart(t, n, "b", "k", id, 1, strings.NewReader("part"), 4)
	other := createUpload(t, n, "c", "k")
	put(t, n, "b", "obj", []byte("x"))
	if err := n.DeleteBucket(ctx, "b"); !errors.Is(err, s3err.ErrBucketNotEmpty) {
		t.Fatalf("DeleteBucket with an object: %v", err)
	}
	if _, err := n.ListParts(ctx, s3api.ListPartsInput{Bucket: "b", Key: "k", UploadID: id}); err != nil {
		t.Fatalf("upload gone after a refused DeleteBucket: %v", err)
	}
	if err := n.DeleteObject(ctx, "b", "obj"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteBucket(ctx, "b"); err != nil {
		t.Fatalf("DeleteBucket with only an upload in progress: %v", err)
	}
	mustBucket(t, n, "b")
	if _, err := n.ListParts(ctx, s3api.ListPartsInput{Bucket: "b", Key: "k", UploadID: id}); !errors.Is(err, s3err.ErrNoSuchUpload) {
		t.Errorf("ListParts of an upload of a deleted bucket: %v", err)
	}
	res, err := n.ListMultipartUploads(ctx, s3api.ListMultipartUploadsInput{Bucket: "b"})
	if err != nil || len(res.Uploads) != 0 {
		t.Errorf("uploads of a recreated bucket = %+v, %v", res, err)
	}
	if keys := partsLeft(t, n, "b"); len(keys) != 0 {
		t.Errorf("records of the deleted bucket's upload remain: %q", keys)
	}
	if _, err := n.ListParts(ctx, s3api.ListPartsInput{Bucket: "c", Key: "k", UploadID: other}); err != nil {
		t.Errorf("another bucket's upload: %v", err)
	}
	if got := n.uploads.OpenUploads(); got != 1 {
		t.Errorf("OpenUploads = %d, want 1", got)
	}
}

// TestJanitor: sweeping with a clock past MultipartMaxAge aborts only the
// uploads initiated before the cutoff; Close stops the janitor goroutine.
func TestJanitor(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(fixedTime.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	reg := prometheus.NewRegistry()
	n, err := New(Config{DataDir: t.TempDir(), NoSync: true, Clock: clock, Registerer: reg, MultipartMaxAge: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx := context.Background()
	mustBucket(t, n, "b")
	mustBucket(t, n, "c")
	old := createUpload(t, n, "b", "old")
	uploadPart(t, n, "b", "old", old, 1, strings.NewReader("part"), 4)
	oldC := createUpload(t, n, "c", "old")
	now.Add(int64(20 * time.Hour))
	young := createUpload(t, n, "b", "young")
	now.Add(int64(5 * time.Hour)) // old: 25h, young: 5h

	aborted, err := n.upkeep.SweepUploads(ctx)
	if err != nil || aborted != 2 {
		t.Fatalf("sweep = %d, %v; want 2 uploads aborted", aborted, err)
	}
	for _, u := range []struct{ bucket, key, id string }{{"b", "old", old}, {"c", "old", oldC}} {
		if _, err := n.ListParts(ctx, s3api.ListPartsInput{Bucket: u.bucket, Key: u.key, UploadID: u.id}); !errors.Is(err, s3err.ErrNoSuchUpload) {
			t.Errorf("expired upload %s/%s: ListParts = %v", u.bucket, u.key, err)
		}
	}
	if _, err := n.ListParts(ctx, s3api.ListPartsInput{Bucket: "b", Key: "young", UploadID: young}); err != nil {
		t.Errorf("young upload: %v", err)
	}
	if aborted, err := n.upkeep.SweepUploads(ctx); err != nil || aborted != 0 {
		t.Errorf("second sweep = %d, %v; want 0", aborted, err)
	}
	want := `
# HELP s3mesh_gateway_multipart_uploads_in_progress Multipart uploads created and not yet completed, aborted, expired or discarded with their bucket.
# TYPE s3mesh_gateway_multipart_uploads_in_progress gauge
s3mesh_gateway_multipart_uploads_in_progress 1
# HELP s3mesh_gateway_multipart_uploads_total Multipart uploads by event: created, completed, aborted (by a client), expired (by the janitor).
# TYPE s3mesh_gateway_multipart_uploads_total counter
s3mesh_gateway_multipart_uploads_total{event="created"} 3
s3mesh_gateway_multipart_uploads_total{event="expired"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"s3mesh_gateway_multipart_uploads_in_progress", "s3mesh_gateway_multipart_uploads_total"); err != nil {
		t.Error(err)
	}

}

// TestMultipartMetrics: the counters follow an upload's life.
func TestMultipartMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	n := newTestNode(t, Config{Registerer: reg, NoSync: true})
	ctx := context.Background()
	mustBucket(t, n, "b")
	a := createUpload(t, n, "b", "a")
	b := createUpload(t, n, "b", "b")
	createUpload(t, n, "b", "c")
	complete(t, n, "b", "a", a, uploadPart(t, n, "b", "a", a, 1, strings.NewReader("0123456789"), 10))
	if err := n.AbortMultipartUpload(ctx, "b", "b", b); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP s3mesh_gateway_multipart_part_bytes_total Part bytes imported by UploadPart and ranged UploadPartCopy, including aborted imports.
# TYPE s3mesh_gateway_multipart_part_bytes_total counter
s3mesh_gateway_multipart_part_bytes_total 10
# HELP s3mesh_gateway_multipart_uploads_in_progress Multipart uploads created and not yet completed, aborted, expired or discarded with their bucket.
# TYPE s3mesh_gateway_multipart_uploads_in_progress gauge
s3mesh_gateway_multipart_uploads_in_progress 1
# HELP s3mesh_gateway_multipart_uploads_total Multipart uploads by event: created, completed, aborted (by a client), expired (by the janitor).
# TYPE s3mesh_gateway_multipart_uploads_total counter
s3mesh_gateway_multipart_uploads_total{event="aborted"} 1
s3mesh_gateway_multipart_uploads_total{event="completed"} 1
s3mesh_gateway_multipart_uploads_total{event="created"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "s3mesh_gateway_multipart_part_bytes_total",
		"s3mesh_gateway_multipart_uploads_in_progress", "s3mesh_gateway_multipart_uploads_total"); err != nil {
		t.Error(err)
	}
}

// TestCompleteRetried: a completion retried with the same parts (its first
// answer lost) answers the same, even after the key was overwritten; with
// other parts, another key or after CompletedRetention it is NoSuchUpload,
// as is an upload that was aborted.
func TestCompleteRetried(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(fixedTime.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	n := newTestNode(t, Config{NoSync: true, Clock: clock})
	mustBucket(t, n, "b")
	ctx := context.Background()
	id := createUpload(t, n, "b", "k")
	p1 := uploadPart(t, n, "b", "k", id, 1, bytes.NewReader(randBytes(1, s3api.MinPartSize)), s3api.MinPartSize)
	p2 := uploadPart(t, n, "b", "k", id, 2, strings.NewReader("tail"), 4)
	first := complete(t, n, "b", "k", id, p1, p2)
	put(t, n, "b", "k", []byte("overwritten since"))

	again := complete(t, n, "b", "k", id, p1, p2)
	if again.ETag != first.ETag || again.CID != first.CID || again.Size != first.Size {
		t.Fatalf("retried completion = %+v, first %+v", again, first)
	}
	retry := func(key string, parts ...*s3api.PartInfo) error {
		list := make([]s3api.CompletedPart, len(parts))
		for i, p := range parts {
			list[i] = s3api.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag}
		}
		_, err := n.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{Bucket: "b", Key: key, UploadID: id, Parts: list})
		return err
	}
	for name, err := range map[string]error{
		"fewer parts": retry("k", p1),
		"another key": retry("other", p1, p2),
	} {
		if !errors.Is(err, s3err.ErrNoSuchUpload) {
			t.Errorf("%s: %v, want NoSuchUpload", name, err)
		}
	}

	aborted := createUpload(t, n, "b", "a")
	if err := n.AbortMultipartUpload(ctx, "b", "a", aborted); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CompleteMultipartUpload(ctx, &s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "a", UploadID: aborted,
		Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: p1.ETag}}}); !errors.Is(err, s3err.ErrNoSuchUpload) {
		t.Errorf("completing an aborted upload: %v, want NoSuchUpload", err)
	}

	now.Add(int64(namespace.CompletedRetention + time.Minute))
	if _, err := n.upkeep.SweepUploads(ctx); err != nil {
		t.Fatal(err)
	}
	if err := retry("k", p1, p2); !errors.Is(err, s3err.ErrNoSuchUpload) {
		t.Errorf("after the retention: %v, want NoSuchUpload", err)
	}
}
