package integration

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"s3mesh/exchange"
)

// putByCID makes key on p an object whose content is the DAG cid,
// wherever it lives, and returns the response status and body.
func putByCID(t *testing.T, p *proc, bucket, key, cid string) (int, string) {
	t.Helper()
	c := p.client(t)
	u, err := c.PresignHeader(context.Background(), http.MethodPut, bucket, key, time.Hour, nil, http.Header{"X-S3mesh-Cid": {cid}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, u.String(), http.NoBody)
	req.Header.Set("x-s3mesh-cid", cid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// headCID returns the x-s3mesh-cid a HEAD of key answers.
func headCID(t *testing.T, p *proc, bucket, key string) string {
	t.Helper()
	u, err := p.client(t).Presign(context.Background(), http.MethodHead, bucket, key, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Head(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cid := resp.Header.Get("x-s3mesh-cid")
	if resp.StatusCode != 200 || cid == "" {
		t.Fatalf("HEAD %s/%s: %s, x-s3mesh-cid %q", bucket, key, resp.Status, cid)
	}
	return cid
}

func md5Of(t *testing.T, p *proc, bucket, key string) (int64, string) {
	t.Helper()
	obj, err := p.client(t).GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := md5.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatalf("GET %s/%s: %v", bucket, key, err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

// TestProcessTwoOfficesExchangeBlocks runs two nodes as processes, B peered
// with A: content PUT at A becomes an object at B by its CID, its blocks
// fetched over Bitswap; B keeps serving it after A is gone; a CID nobody
// has fails within the configured bound with 503 naming it.
func TestProcessTwoOfficesExchangeBlocks(t *testing.T) {
	needIntegration(t)
	ctx := context.Background()
	a := startNode(t, t.TempDir())
	b := startNode(t, t.TempDir(), "--peer", a.peerAddr(t), "--fetch-timeout", "3s")
	for _, p := range []*proc{a, b} {
		// The namespace replicates: B may already have A's bucket.
		ensureBucket(t, p, "office")
	}
	const size = 24<<20 + 5
	_, err := a.client(t).PutObject(ctx, "office", "build.tar", &patternReader{seed: 9, n: size}, size, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cid := headCID(t, a, "office", "build.tar")
	if status, body := putByCID(t, b, "office", "build.tar", cid); status != 200 {
		t.Fatalf("PUT by CID at B: %d %s", status, body)
	}
	n, sum := md5Of(t, b, "office", "build.tar")
	want := patternMD5(9, size)
	if n != size || sum != want {
		t.Fatalf("B reads %d bytes md5 %s; want %d bytes md5 %s", n, sum, size, want)
	}

	// The blocks are now B's own: they survive A going away.
	a.kill()
	if n, sum := md5Of(t, b, "office", "build.tar"); n != size || sum != want {
		t.Fatalf("after A stopped, B reads %d bytes md5 %s", n, sum)
	}

	// Content no reachable node has: a bounded 503 that names it, and no object.
	const nobody = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	start := time.Now()
	status, body := putByCID(t, b, "office", "lost", nobody)
	if status != 503 || !strings.Contains(body, "<Code>ServiceUnavailable</Code>") || !strings.Contains(body, nobody) {
		t.Fatalf("PUT by unknown CID: %d %s; want 503 ServiceUnavailable naming the CID", status, body)
	}
	if d := time.Since(start); d < 3*time.Second || d > 60*time.Second {
		t.Errorf("PUT by unknown CID failed after %s; the bound is 3s", d)
	}
	if _, err := b.client(t).StatObject(ctx, "office", "lost", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("failed PUT by CID left an object: %v", err)
	}
}

// TestProcessPrivateNetwork checks a node without the offices' swarm key
// cannot fetch their content.
func TestProcessPrivateNetwork(t *testing.T) {
	needIntegration(t)
	ctx := context.Background()
	key, err := exchange.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "swarm.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, t.TempDir(), "--swarm-key", keyFile)
	b := startNode(t, t.TempDir(), "--swarm-key", keyFile, "--peer", a.peerAddr(t), "--fetch-timeout", "3s")
	stranger := startNode(t, t.TempDir(), "--peer", a.peerAddr(t), "--fetch-timeout", "3s")
	for _, p := range []*proc{a, b, stranger} {
		ensureBucket(t, p, "net")
	}
	data := bytes.Repeat([]byte("office only "), 100000)
	if _, err := a.client(t).PutObject(ctx, "net", "k", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	cid := headCID(t, a, "net", "k")
	if status, body := putByCID(t, b, "net", "k", cid); status != 200 {
		t.Fatalf("member PUT by CID: %d %s", status, body)
	}
	if status, body := putByCID(t, stranger, "net", "k", cid); status != 503 {
		t.Fatalf("stranger PUT by CID: %d %s; want 503 (it cannot reach the private network)", status, body)
	}
}
