package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api"
)

var benchOutstanding, benchWindow = 4 << 20, 16

// office is one in-process node with a real libp2p host on loopback.
type office struct {
	blocks *blockstore.Store
	p2p    *exchange.Node
	node   *gateway.Node
	srv    *httptest.Server
}

func newOffice(b *testing.B) *office {
	b.Helper()
	dir := b.TempDir()
	blocks, err := blockstore.Open(blockstore.Config{Path: filepath.Join(dir, "blocks")})
	if err != nil {
		b.Fatal(err)
	}
	key, err := exchange.LoadOrCreateIdentity(dir)
	if err != nil {
		b.Fatal(err)
	}
	p2p, err := exchange.New(exchange.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, MaxOutstandingBytesPerPeer: benchOutstanding}, key, blocks.Blockstore())
	if err != nil {
		b.Fatal(err)
	}
	node, err := gateway.New(gateway.Config{DataDir: dir, Blockstore: blocks, Exchange: p2p.Exchange(), FetchWindow: benchWindow})
	if err != nil {
		b.Fatal(err)
	}
	h, err := s3api.New(s3api.Config{Credentials: s3api.Credentials{AccessKey: benchAK, SecretKey: benchSK}}, node)
	if err != nil {
		b.Fatal(err)
	}
	o := &office{blocks: blocks, p2p: p2p, node: node, srv: httptest.NewServer(h)}
	b.Cleanup(o.close)
	return o
}

func (o *office) close() {
	o.srv.Close()
	o.node.Close()
	o.p2p.Close()
	o.blocks.Close()
}

// BenchmarkPeerGet256MiB compares, over unshaped loopback, a GET at office B
// of a 256 MiB object whose blocks are only at office A (fetched over
// Bitswap while streaming) with a plain HTTP download of the same bytes
// (http.ServeContent of a file):
//
//	go test -run '^$' -bench PeerGet256MiB -benchtime 3x -count 3 ./integration/
func BenchmarkPeerGet256MiB(b *testing.B) {
	const size = 256 << 20
	b.Run("transport=plain-http", func(b *testing.B) {
		srv := floorServer(b)
		defer srv.Close()
		if err := presignedPut(srv.URL+"/obj", &uniqueReader{size: size, nonce: 1}, size); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			resp, err := http.Get(srv.URL + "/obj")
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != size {
				b.Fatalf("got %d bytes", n)
			}
		}
	})
	b.Run("transport=s3mesh-bitswap", func(b *testing.B) {
		ctx := context.Background()
		a := newOffice(b)
		ca := benchSDK(a.srv.URL, false)
		if _, err := ca.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
		pre, err := s3.NewPresignClient(ca).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
		if err != nil {
			b.Fatal(err)
		}
		if err := presignedPut(pre.URL, &uniqueReader{size: size, nonce: 1}, size); err != nil {
			b.Fatal(err)
		}
		rec, err := a.node.Namespace().GetObject(ctx, "bench", "obj")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			// A fresh office B each time: it holds the record (as the
			// replicated namespace will give it) but none of the blocks.
			b.StopTimer()
			o := newOffice(b)
			if err := o.p2p.Connect(ctx, a.p2p.Addrs()[0].String()); err != nil {
				b.Fatal(err)
			}
			cb := benchSDK(o.srv.URL, false)
			if _, err := cb.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			if err := o.node.Namespace().PutObject(ctx, rec, nil); err != nil {
				b.Fatal(err)
			}
			get, err := s3.NewPresignClient(cb).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("obj")})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			resp, err := http.Get(get.URL)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size {
				b.Fatal(fmt.Errorf("GET at B: %d bytes, %v", n, err))
			}
			b.StopTimer()
			o.close()
			b.StartTimer()
		}
	})
}
