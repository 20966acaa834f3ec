package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/go-cid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"s3mesh/admin"
	"s3mesh/gateway"
)

func testBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// blockPath returns the file of block c in the flatfs store of the node
// whose data directory is dir.
func blockPath(dir string, c cid.Cid) string {
	name := dshelp.MultihashToDsKey(c.Hash()).String()[1:]
	return filepath.Join(dir, "blocks", name[len(name)-3:len(name)-1], name+".data")
}

func objectCID(t *testing.T, n testNode, bucket, key string) cid.Cid {
	t.Helper()
	resp, _ := do(t, "HEAD", n.endpoint+"/"+bucket+"/"+key, adminTestAccess, adminTestSecret, nil)
	id, err := cid.Decode(resp.Header.Get("x-s3mesh-cid"))
	if err != nil {
		t.Fatalf("x-s3mesh-cid of %s: %v", key, err)
	}
	return id
}

func minioFor(t *testing.T, n testNode) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(n.endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(adminTestAccess, adminTestSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGCAndFsckVerbs runs "s3mesh gc" and "s3mesh fsck" against a node
// whose data directory then loses a block and has another corrupted.
func TestGCAndFsckVerbs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, map[string]string{"S3MESH_FETCH_TIMEOUT": "1s"})
	c := minioFor(t, n)
	if err := c.MakeBucket(ctx, "photos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, key := range []string{"a", "b", "c", "c", "d"} {
		data := testBytes(uint64(i), 100<<10)
		if _, err := c.PutObject(ctx, "photos", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveObject(ctx, "photos", "d", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(nodeEnv(nil), "gc", "--endpoint", n.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^gc: scanned \d+ blocks, removed 2 \(200\.0 KiB freed\) in \S+\n$`).MatchString(out) {
		t.Errorf("gc printed %q; want the overwritten and the deleted object's blocks removed", out)
	}
	out, err = runCLI(nodeEnv(nil), "gc", "--json", "--endpoint", n.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var res admin.GCResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.RemovedBlocks != 0 || res.LiveBlocks != res.ScannedBlocks || res.ScannedBlocks < 3 {
		t.Errorf("second gc --json = %s (%v); want nothing removed", out, err)
	}
	out, err = runCLI(nodeEnv(nil), "fsck", "--endpoint", n.endpoint)
	if err != nil || !strings.Contains(out, "fsck: checked 3 objects and") || !strings.Contains(out, "0 missing, 0 corrupt, 0 unreadable, 0 repaired") {
		t.Fatalf("fsck of a sound node: %v\n%s", err, out)
	}

	// Damage the data directory: a byte of a flipped, b deleted (each is
	// one raw block).
	ca, cb := objectCID(t, n, "photos", "a"), objectCID(t, n, "photos", "b")
	raw, err := os.ReadFile(blockPath(n.dir, ca))
	if err != nil {
		t.Fatal(err)
	}
	raw[1234] ^= 0x10
	if err := os.WriteFile(blockPath(n.dir, ca), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(blockPath(n.dir, cb)); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(nodeEnv(nil), "fsck", "--endpoint", n.endpoint)
	if err == nil || !strings.Contains(err.Error(), `2 problems found; run "s3mesh fsck --repair"`) || exitCode(err) != 1 {
		t.Errorf("fsck of a damaged node: error %v, want 2 problems and exit status 1", err)
	}
	for _, want := range []string{"corrupt photos/a block " + ca.String() + "\n", "missing photos/b block " + cb.String() + "\n", "1 missing, 1 corrupt, 0 unreadable, 0 repaired"} {
		if !strings.Contains(out, want) {
			t.Errorf("fsck output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(nodeEnv(nil), "fsck", "--json", "--endpoint", n.endpoint)
	var rep admin.FsckResult
	if err == nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Unrepaired != 2 || len(rep.Problems) != 2 || rep.Problems[0].CID != ca.String() || rep.Problems[1].Kind != "missing" {
		t.Errorf("fsck --json of a damaged node: %v\n%s", err, out)
	}
	// No peer has the blocks: --repair fails, within the fetch timeout.
	out, err = runCLI(nodeEnv(nil), "fsck", "--repair", "--endpoint", n.endpoint)
	if err == nil || !strings.Contains(err.Error(), "2 problems could not be repaired") ||
		!strings.Contains(out, "corrupt photos/a block "+ca.String()+" (not repaired: no reachable peer provided it within 1s)") {
		t.Errorf("fsck --repair without peers: %v\n%s", err, out)
	}
}

// TestFsckRepairVerb: "s3mesh fsck --repair" on a node whose block is
// corrupt fetches a good copy from the other office.
func TestFsckRepairVerb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := startNode(t, nil)
	b := startNode(t, map[string]string{"S3MESH_PEERS": a.addr})
	waitConnected(t, b, a.id)
	ca, cbn := minioFor(t, a), minioFor(t, b)
	if err := ca.MakeBucket(ctx, "photos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := testBytes(9, 300<<10)
	if _, err := ca.PutObject(ctx, "photos", "x", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// B reads x, which stores its block there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		obj, err := cbn.GetObject(ctx, "photos", "x", minio.GetObjectOptions{})
		if err == nil {
			got, rerr := io.ReadAll(obj)
			obj.Close()
			if rerr == nil && bytes.Equal(got, data) {
				break
			}
			err = rerr
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never read x: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	id := objectCID(t, a, "photos", "x")
	raw, err := os.ReadFile(blockPath(a.dir, id))
	if err != nil {
		t.Fatal(err)
	}
	raw[0] ^= 0xff
	if err := os.WriteFile(blockPath(a.dir, id), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(nodeEnv(nil), "fsck", "--repair", "--endpoint", a.endpoint)
	if err != nil || !strings.Contains(out, "corrupt photos/x block "+id.String()+" (repaired)") || !strings.Contains(out, "0 missing, 1 corrupt, 0 unreadable, 1 repaired") {
		t.Fatalf("fsck --repair: %v\n%s", err, out)
	}
	obj, err := ca.GetObject(ctx, "photos", "x", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("A reads x wrong after the repair: %v", err)
	}
	if out, err := runCLI(nodeEnv(nil), "fsck", "--endpoint", a.endpoint); err != nil {
		t.Fatalf("fsck after the repair: %v\n%s", err, out)
	}
}

func TestGCVerbErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, verb := range []string{"gc", "fsck"} {
		_, err := runCLI(nodeEnv(nil), verb, "--endpoint", closed)
		if err == nil || !strings.Contains(err.Error(), "no s3mesh node answers at "+closed) || !strings.Contains(err.Error(), `is "s3mesh serve" running there? name the node with --endpoint`) {
			t.Errorf("%s with no node: %v", verb, err)
		}
		if _, err := runCLI(func(string) string { return "" }, verb, "--endpoint", closed); !errors.Is(err, errNoCredentials) {
			t.Errorf("%s without credentials: %v", verb, err)
		}
		if _, err := runCLI(nodeEnv(nil), verb, "extra"); !errors.Is(err, errUsage) {
			t.Errorf("%s extra: %v", verb, err)
		}
	}
	if _, err := runCLI(nodeEnv(nil), "gc", "--repair"); !errors.Is(err, errUsage) {
		t.Errorf("gc --repair: %v", err)
	}
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if _, err := runCLI(nodeEnv(nil), "gc", "--endpoint", other.URL); err == nil || !strings.Contains(err.Error(), "does not serve the s3mesh admin API (POST /admin/v1/gc") {
		t.Errorf("gc against another server: %v", err)
	}
}

func TestPrintFsck(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	err := printFsck(&b, admin.FsckResult{
		Objects: 3, Deltas: 9, Blocks: 12, Bytes: 3 << 20, Missing: 2, Corrupt: 1, Repaired: 1, MissingRemote: 4, RemoteObjectsPartial: 1,
		Unrepaired: 2, DurationSeconds: 1.23, ProblemsTruncated: true,
		Problems: []admin.FsckProblem{
			{Kind: "corrupt", Bucket: "b", Key: "k", CID: "bafyc", Repaired: true, Detail: "its content does not hash to its CID"},
			{Kind: "missing", Bucket: "b", Key: "r", CID: "bafyr", Remote: true},
			{Kind: "missing", CID: "bafyd", Detail: "not stored on this node; not repaired: no reachable peer provided it within 30s"},
			{Kind: "missing", Bucket: "b", Key: "m", CID: "bafym", Detail: "not stored on this node"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "corrupt b/k block bafyc (repaired)\n" +
		"missing namespace delta bafyd (not repaired: no reachable peer provided it within 30s)\n" +
		"missing b/m block bafym\n" +
		"(more problems were found than the node lists; the counts below are complete)\n" +
		"fsck: 1 objects written at other nodes are stored here in part or not at all (4 blocks missing): normal for objects this node did not read\n" +
		"fsck: checked 3 objects and 9 namespace deltas, 12 blocks (3.0 MiB) in 1.2s: 2 missing, 1 corrupt, 0 unreadable, 1 repaired\n"
	if b.String() != want {
		t.Errorf("printFsck:\n%s\nwant:\n%s", b.String(), want)
	}
	for _, tt := range []struct {
		p    admin.GCProgress
		text string
		frac float64
	}{
		{admin.GCProgress{Phase: "mark", MarkedBlocks: 5, Roots: 2}, "gc: marking: 5 live blocks found from 2 roots", -1},
		{admin.GCProgress{Phase: "sweep", ScannedBlocks: 5, TotalBlocks: 10, RemovedBlocks: 1, FreedBytes: 2048}, "gc: sweeping: 5 of 10 blocks scanned, 1 removed (2.0 KiB)", 0.5},
	} {
		if text, frac := gcProgressText(tt.p); text != tt.text || frac != tt.frac {
			t.Errorf("gcProgressText(%+v) = %q, %v", tt.p, text, frac)
		}
	}
	// Not a terminal: a line at most every progressLineEvery, none at
	// first.
	var pb bytes.Buffer
	pp := newProgressPrinter(&pb)
	pp.show("gc: marking", -1)
	pp.clear()
	if pb.Len() != 0 {
		t.Errorf("progress printed %q at once", pb.String())
	}
}

// newTestNode opens a node in a fresh directory of t's (no sync, no
// multipart janitor; chunkSize 0 is the default), closed when t ends.
func newTestNode(t *testing.T, chunkSize int) *gateway.Node {
	t.Helper()
	node, err := gateway.New(gateway.Config{DataDir: t.TempDir(), NoSync: true, MultipartMaxAge: -1, ChunkSize: chunkSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	return node
}
