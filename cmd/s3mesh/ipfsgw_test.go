package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// putObject stores data as bucket/key on n through S3 and returns the
// object's root CID from the x-s3mesh-cid header of a HEAD.
func putObject(t *testing.T, n testNode, bucket, key string, data []byte) cid.Cid {
	t.Helper()
	ctx := context.Background()
	c, err := minio.New(strings.TrimPrefix(n.endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(adminTestAccess, adminTestSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, _ := do(t, "HEAD", n.endpoint+"/"+bucket+"/"+key, adminTestAccess, adminTestSecret, nil)
	root, err := cid.Decode(resp.Header.Get("x-s3mesh-cid"))
	if err != nil {
		t.Fatalf("HEAD %s/%s: x-s3mesh-cid %q: %v", bucket, key, resp.Header.Get("x-s3mesh-cid"), err)
	}
	return root
}

// verifyBlock fails unless data hashes to c.
func verifyBlock(t *testing.T, c cid.Cid, data []byte) {
	t.Helper()
	got, err := c.Prefix().Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(c) {
		t.Errorf("block %s: content hashes to %s", c, got)
	}
}

// readCAR splits a CARv1 stream into its header and blocks.
func readCAR(b []byte) (header []byte, blocks map[cid.Cid][]byte, err error) {
	next := func() ([]byte, error) {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errors.New("truncated section")
		}
		sec := b[n : n+int(l)]
		b = b[n+int(l):]
		return sec, nil
	}
	if header, err = next(); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	blocks = map[cid.Cid][]byte{}
	for len(b) > 0 {
		sec, err := next()
		if err != nil {
			return nil, nil, err
		}
		k, c, err := cid.CidFromBytes(sec)
		if err != nil {
			return nil, nil, err
		}
		blocks[c] = sec[k:]
	}
	return header, blocks, nil
}

// checkCAR fails unless body is a CAR rooted at root whose blocks all
// verify, holding the root and at least minBlocks blocks.
func checkCAR(t *testing.T, body []byte, root cid.Cid, minBlocks int) {
	t.Helper()
	header, blocks, err := readCAR(body)
	if err != nil {
		t.Fatalf("CAR: %v", err)
	}
	if !bytes.Contains(header, root.Bytes()) {
		t.Errorf("CAR header does not name root %s", root)
	}
	if _, ok := blocks[root]; !ok {
		t.Errorf("CAR lacks the root block %s", root)
	}
	if len(blocks) < minBlocks {
		t.Errorf("CAR has %d blocks, want at least %d", len(blocks), minBlocks)
	}
	for c, data := range blocks {
		verifyBlock(t, c, data)
	}
}

func TestIPFSGateway(t *testing.T) {
	// 5000 bytes in 1 KiB leaves: 5 raw leaves under one root.
	data := bytes.Repeat([]byte("0123456789abcdefghij"), 250)
	for _, mode := range []string{"auth", "open"} {
		t.Run(mode, func(t *testing.T) {
			n := startNode(t, map[string]string{"S3MESH_IPFS_GATEWAY": mode, "S3MESH_CHUNK_SIZE": "1024"})
			root := putObject(t, n, "builds", "v1/app.bin", data)
			url := n.endpoint + "/ipfs/" + root.String()

			resp, body := do(t, "GET", url+"?format=raw", adminTestAccess, adminTestSecret, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.ipld.raw" {
				t.Fatalf("GET ?format=raw = %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			verifyBlock(t, root, body)

			resp, body = do(t, "GET", url, adminTestAccess, adminTestSecret, func(r *http.Request) {
				r.Header.Set("Accept", "application/vnd.ipld.raw")
			})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.ipld.raw" {
				t.Fatalf("GET with Accept raw = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			verifyBlock(t, root, body)

			resp, body = do(t, "GET", url+"?format=car", adminTestAccess, adminTestSecret, nil)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.ipld.car") {
				t.Fatalf("GET ?format=car = %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			checkCAR(t, body, root, 6)

			resp, body = do(t, "HEAD", url+"?format=raw", adminTestAccess, adminTestSecret, nil)
			if resp.StatusCode != 200 || len(body) != 0 {
				t.Errorf("HEAD ?format=raw = %d with %d body bytes", resp.StatusCode, len(body))
			}

			// Deserialized responses are off: only verifiable formats.
			resp, _ = do(t, "GET", url, adminTestAccess, adminTestSecret, nil)
			if resp.StatusCode != http.StatusNotAcceptable {
				t.Errorf("GET without a format = %d %q, want 406 (no deserialized responses)", resp.StatusCode, resp.Header.Get("Content-Type"))
			}

			resp, body = do(t, "GET", url+"?format=raw", "", "", nil)
			switch mode {
			case "auth":
				if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
					t.Errorf("unsigned GET in auth mode = %d %s, want 403 AccessDenied", resp.StatusCode, body)
				}
				resp, body = do(t, "GET", url+"?format=raw", adminTestAccess, "wrong-secret", nil)
				if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>SignatureDoesNotMatch</Code>") {
					t.Errorf("wrong secret in auth mode = %d %s, want 403 SignatureDoesNotMatch", resp.StatusCode, body)
				}
			case "open":
				if resp.StatusCode != 200 {
					t.Errorf("unsigned GET in open mode = %d %s, want 200", resp.StatusCode, body)
				}
				verifyBlock(t, root, body)
			}
		})
	}
}

// TestIPFSGatewayFetchesFromPeers serves, on node B, content only node A
// stores: the gateway reads through Bitswap.
func TestIPFSGatewayFetchesFromPeers(t *testing.T) {
	a := startNode(t, nil)
	b := startNode(t, map[string]string{"S3MESH_IPFS_GATEWAY": "open", "S3MESH_PEERS": a.addr})
	data := bytes.Repeat([]byte("office "), 1000)
	root := putObject(t, a, "shared", "doc.txt", data)
	waitConnected(t, b, a.id)

	resp, body := do(t, "GET", b.endpoint+"/ipfs/"+root.String()+"?format=car", "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("B: GET ?format=car = %d %.300s", resp.StatusCode, body)
	}
	checkCAR(t, body, root, 1)
}

func TestIPFSGatewayOff(t *testing.T) {
	n := startNode(t, nil)
	for _, access := range []string{adminTestAccess, ""} {
		resp, body := do(t, "GET", n.endpoint+"/ipfs/bafkqaaa?format=raw", access, adminTestSecret, nil)
		if resp.StatusCode != 501 || !strings.Contains(string(body), "<Code>NotImplemented</Code>") || !strings.Contains(string(body), "ipfs-gateway") {
			t.Errorf("GET /ipfs/ with the gateway off (signed %v) = %d %s, want 501 NotImplemented naming --ipfs-gateway", access != "", resp.StatusCode, body)
		}
	}
}
