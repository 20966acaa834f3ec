package gateway

import (
	"bytes"
	"context"
	"errors"
	"s3mesh/gateway/namespace"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// order.
func leafSizes(t testing.TB, n *Node, root string) []int {
	t.Helper()
	ctx := context.Background()
	var sizes []int
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		nd, err := n.dag.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if c.Type() == cid.Raw {
			sizes = append(sizes, len(nd.RawData()))
			return
		}
		for _, l := range nd.Links() {
			walk(l.Cid)
		}
	}
	walk(cid.MustParse(root))
	return sizes
}

// TestBucketChunker: a PUT and an UploadPart cut their bodies with the
// bucket's chunker, else with the node's (Config.Chunker, else
// Config.ChunkSize); SetBucketChunker checks the spec and stores its
// canonical form, and "" or "default" go back to the node's.
func TestBucketChunker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newTestNode(t, Config{ChunkSize: 3000, NoSync: true})
	for _, b := range []string{"plain", "fixed", "cdc"} {
		if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: b}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := n.SetBucketChunker(ctx, "fixed", "size-4KiB"); err != nil || got != "size-4096" {
		t.Fatalf("SetBucketChunker(size-4KiB) = %q, %v; want size-4096", got, err)
	}
	if got, err := n.SetBucketChunker(ctx, "cdc", "fastcdc-1KiB-4KiB-8KiB"); err != nil || got != "fastcdc-1024-4096-8192" {
		t.Fatalf("SetBucketChunker(fastcdc-…) = %q, %v", got, err)
	}
	for _, tt := range []struct{ bucket, spec, code string }{
		{"fixed", "size-1", "out of range"},
		{"fixed", "zstd", "unknown chunker"},
		{"nope", "buzhash", ""},
	} {
		_, err := n.SetBucketChunker(ctx, tt.bucket, tt.spec)
		want := s3err.ErrInvalidArgument
		if tt.code == "" {
			want = s3err.ErrNoSuchBucket
		}
		e, ok := s3err.As(err)
		if !errors.Is(err, want) || !ok || !strings.Contains(e.ClientMessage(), tt.code) {
			t.Errorf("SetBucketChunker(%s, %q) = %v, want %s saying %q", tt.bucket, tt.spec, err, want, tt.code)
		}
	}
	if b, err := n.ns.GetBucket(ctx, "fixed"); err != nil || b.Chunker != "size-4096" {
		t.Fatalf("bucket fixed: %+v, %v; want chunker size-4096", b, err)
	}

	data := randBytes(5, 40_000)
	allOf := func(sizes []int, size int) bool {
		for i, s := range sizes {
			if s != size && (i < len(sizes)-1 || s > size) {
				return false
			}
		}
		return true
	}
	if s := leafSizes(t, n, put(t, n, "plain", "k", data).CID); !allOf(s, 3000) {
		t.Errorf("plain bucket: leaves %v, want 3000 bytes (Config.ChunkSize)", s)
	}
	if s := leafSizes(t, n, put(t, n, "fixed", "k", data).CID); !allOf(s, 4096) {
		t.Errorf("fixed bucket: leaves %v, want 4096 bytes", s)
	}
	cdc := leafSizes(t, n, put(t, n, "cdc", "k", data).CID)
	if allOf(cdc, cdc[0]) {
		t.Errorf("cdc bucket: leaves %v, want varied sizes", cdc)
	}
	for _, s := range cdc[:len(cdc)-1] {
		if s < 1024 || s > 8192 {
			t.Errorf("cdc bucket: leaves %v, want 1024..8192 bytes", cdc)
			break
		}
	}

	// A part is cut with its bucket's chunker.
	id, err := n.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{Bucket: "fixed", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.UploadPart(ctx, &s3api.UploadPartInput{Bucket: "fixed", Key: "mp", UploadID: id, PartNumber: 1,
		Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	_, parts, _, err := n.uploads.Parts(ctx, namespace.UploadRef{Bucket: "fixed", Key: "mp", ID: id}, 0, 0)
	if err != nil || len(parts) != 1 {
		t.Fatalf("parts %v, %v", parts, err)
	}
	if s := leafSizes(t, n, parts[0].Root); !allOf(s, 4096) {
		t.Errorf("part in the fixed bucket: leaves %v, want 4096 bytes", s)
	}

	// Back to the node's default.
	for _, spec := range []string{"", "default"} {
		if got, err := n.SetBucketChunker(ctx, "fixed", spec); err != nil || got != "" {
			t.Fatalf("SetBucketChunker(%q) = %q, %v; want the node's default", spec, got, err)
		}
		if s := leafSizes(t, n, put(t, n, "fixed", "k2", data).CID); !allOf(s, 3000) {
			t.Errorf("fixed bucket set to %q: leaves %v, want 3000 bytes", spec, s)
		}
		if _, err := n.SetBucketChunker(ctx, "fixed", "size-4KiB"); err != nil {
			t.Fatal(err)
		}
	}

	// A spec this node cannot parse (a newer node's) cuts with the node's
	// default rather than failing the write.
	if _, err := n.crdt.UpdateBucket(ctx, "fixed", func(b *BucketRecord) error { b.Chunker = "zstd-dict-9"; return nil }); err != nil {
		t.Fatal(err)
	}
	if s := leafSizes(t, n, put(t, n, "fixed", "k3", data).CID); !allOf(s, 3000) {
		t.Errorf("bucket with an unknown chunker: leaves %v, want 3000 bytes (the node's)", s)
	}
	if got, err := n.BucketChunker(ctx, "fixed"); err != nil || got.String() != "size-3000" {
		t.Errorf("BucketChunker with an unknown spec = %s, %v; want size-3000", got, err)
	}
}

// TestConfigChunker: Config.Chunker is the node's default chunker, checked
// by Validate.
func TestConfigChunker(t *testing.T) {
	t.Parallel()
	if err := (Config{Chunker: "fastcdc-1-2-3"}).Validate(); err == nil || !strings.Contains(err.Error(), "MIN 1 below 64") {
		t.Errorf("Validate with a bad chunker: %v", err)
	}
	ctx := context.Background()
	n := newTestNode(t, Config{Chunker: "size-2KiB", ChunkSize: 3000, NoSync: true})
	if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	if got, err := n.BucketChunker(ctx, "b"); err != nil || got.String() != "size-2048" {
		t.Errorf("BucketChunker = %s, %v; want size-2048", got, err)
	}
	if s := leafSizes(t, n, put(t, n, "b", "k", randBytes(1, 5000)).CID); len(s) != 3 || s[0] != 2048 {
		t.Errorf("leaves %v, want 2048, 2048, 904", s)
	}
	if _, err := n.BucketChunker(ctx, "nope"); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Errorf("BucketChunker of a missing bucket: %v", err)
	}
}
