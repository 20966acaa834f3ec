package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/exchange"

	"github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/gateway/dag"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// fakeExchange serves blocks from a map, as a peer would: a block it does
// not have is waited for until the context ends. It can serve corrupted
// content, and hold raw-leaf fetches until gate is closed.
type fakeExchange struct {
	mu          sync.Mutex
	blocks      map[cid.Cid][]byte
	corrupt     bool
	gate        chan struct{} // nil: no gate
	inflight    int
	maxInflight int
	calls       int
}

func newFakeExchange(t *testing.T, src *Node) *fakeExchange {
	t.Helper()
	f := &fakeExchange{blocks: map[cid.Cid][]byte{}}
	ctx := context.Background()
	keys, err := src.blocks.Blockstore().AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		b, err := src.blocks.Blockstore().Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		f.blocks[b.Cid()] = b.RawData()
	}
	return f
}

func (f *fakeExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	f.mu.Lock()
	f.calls++
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	gate, corrupt := f.gate, f.corrupt
	var data []byte
	for k, v := range f.blocks {
		if k.Hash().HexString() == c.Hash().HexString() {
			data = v
		}
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if gate != nil && c.Prefix().Codec == cid.Raw {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if data == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if corrupt {
		data = slices.Clone(data)
		data[0] ^= 1
	}
	// Claims to be c whatever the bytes are.
	return blocks.NewBlockWithCid(data, c)
}

func (f *fakeExchange) GetBlocks(ctx context.Context, ks []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	var wg sync.WaitGroup
	for _, c := range ks {
		wg.Go(func() {
			if b, err := f.GetBlock(ctx, c); err == nil {
				select {
				case out <- b:
				case <-ctx.Done():
				}
			}
		})
	}
	go func() { wg.Wait(); close(out) }()
	return out, nil
}

func (f *fakeExchange) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }
func (f *fakeExchange) Close() error                                           { return nil }

func (f *fakeExchange) set(corrupt bool, gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.corrupt, f.gate = corrupt, gate
}

// replicateRecord commits on dst the record src has for b/k.
func replicateRecord(t *testing.T, src, dst *Node, b, k string) {
	t.Helper()
	rec, err := src.ns.GetObject(context.Background(), b, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.ns.PutObject(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptBlockRejected: a block from the exchange whose content does
// not hash to its CID is never stored or served; the read fails as
// unavailable, and succeeds once a peer serves the right bytes.
func TestCorruptBlockRejected(t *testing.T) {
	t.Parallel()
	src := newTestNode(t, Config{ChunkSize: 1000})
	mustBucket(t, src, "b")
	data := randBytes(7, 5500)
	info := put(t, src, "b", "k", data)
	fx := newFakeExchange(t, src)
	fx.set(true, nil)
	reg := prometheus.NewRegistry()
	dst := newTestNode(t, Config{ChunkSize: 1000, Exchange: fx, FetchTimeout: 5 * time.Second, Registerer: reg})
	mustBucket(t, dst, "b")
	replicateRecord(t, src, dst, "b", "k")
	root, err := cid.Decode(info.CID)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, content, err := dst.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	r, err := content.Open(ctx, 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if len(got) != 0 || !errors.Is(err, dag.ErrCorruptBlock) || !errors.Is(err, ErrBlockUnavailable) ||
		!errors.Is(err, s3err.ErrServiceUnavailable) {
		t.Fatalf("read of corrupt blocks: %d bytes, %v", len(got), err)
	}
	if has, err := dst.blocks.Blockstore().Has(ctx, root); err != nil || has {
		t.Fatalf("corrupt root stored: %v %v", has, err)
	}
	if n := rejectedBlocks(t, reg); n < 1 {
		t.Fatalf("rejected blocks counted %v", n)
	}

	// Leaves corrupt, root good: the leaves are rejected, never stored.
	fx.set(false, nil)
	if _, err := dst.fetch.NewRead(ctx).Get(root); err != nil {
		t.Fatal(err)
	}
	fx.set(true, nil)
	r, err = content.Open(ctx, 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(r)
	r.Close()
	if len(got) != 0 || !errors.Is(err, dag.ErrCorruptBlock) {
		t.Fatalf("read of corrupt leaves: %d bytes, %v", len(got), err)
	}
	for _, c := range leafCIDs(t, src, info.CID) {
		if has, _ := dst.blocks.Blockstore().Has(ctx, c); has {
			t.Fatalf("corrupt leaf %s stored", c)
		}
	}

	// A session's GetBlocks drops the corrupt block too.
	ve := dst.BlockService().Exchange().(exchange.SessionExchange)
	before := rejectedBlocks(t, reg)
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	ch, err := ve.NewSession(sctx).GetBlocks(sctx, []cid.Cid{root})
	if err != nil {
		t.Fatal(err)
	}
	for b := range ch {
		t.Fatalf("GetBlocks passed on corrupt block %s", b.Cid())
	}
	cancel()
	if rejectedBlocks(t, reg) <= before {
		t.Fatal("GetBlocks rejection not counted")
	}

	// The right bytes are accepted, stored, and then read locally.
	fx.set(false, nil)
	if got := readRange(t, content, 0, int64(len(data))); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	fx.mu.Lock()
	fx.blocks = nil
	calls := fx.calls
	fx.mu.Unlock()
	if got := readRange(t, content, 0, int64(len(data))); !bytes.Equal(got, data) {
		t.Fatal("bytes differ on the local read")
	}
	if fx.calls != calls {
		t.Fatalf("local read asked the exchange %d times", fx.calls-calls)
	}
}

// TestFetchWindow: a reader keeps FetchWindow leaves requested ahead of
// the one it waits for, and never more.
func TestFetchWindow(t *testing.T) {
	t.Parallel()
	const window = 8
	src := newTestNode(t, Config{ChunkSize: 1000})
	mustBucket(t, src, "b")
	data := randBytes(8, 100*1000)
	put(t, src, "b", "k", data)
	fx := newFakeExchange(t, src)
	gate := make(chan struct{})
	fx.set(false, gate)
	dst := newTestNode(t, Config{ChunkSize: 1000, Exchange: fx, FetchWindow: window})
	mustBucket(t, dst, "b")
	replicateRecord(t, src, dst, "b", "k")
	_, content, err := dst.GetObject(context.Background(), "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := content.Open(context.Background(), 0, int64(len(data)))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		done <- result{b, err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fx.mu.Lock()
		n := fx.inflight
		fx.mu.Unlock()
		if n == window+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches in flight, want the window %d plus the one read", n, window)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	res := <-done
	if res.err != nil || !bytes.Equal(res.data, data) {
		t.Fatalf("read: %d bytes, %v", len(res.data), res.err)
	}
	if fx.maxInflight != window+1 {
		t.Fatalf("at most %d fetches in flight, want %d", fx.maxInflight, window+1)
	}
}

// TestPutByCIDInvalid: what is not a UnixFS file cannot be adopted, and
// nothing is committed.
func TestPutByCIDInvalid(t *testing.T) {
	t.Parallel()
	n := newTestNode(t, Config{})
	mustBucket(t, n, "b")
	ctx := context.Background()
	dir := unixfs.EmptyDirNode()
	if err := n.dag.Add(ctx, dir); err != nil {
		t.Fatal(err)
	}
	cbor, err := cid.V1Builder{Codec: cid.DagCBOR, MhType: multihash.SHA2_256}.Sum([]byte{0xa0})
	if err != nil {
		t.Fatal(err)
	}
	file := put(t, n, "b", "file", randBytes(9, 3000))
	for _, tc := range []struct {
		name string
		cid  string
		body io.Reader
		code s3err.Code
	}{
		{"malformed", "not-a-cid", nil, s3err.ErrInvalidArgument},
		{"directory", dir.Cid().String(), nil, s3err.ErrInvalidArgument},
		{"dag-cbor", cbor.String(), nil, s3err.ErrInvalidArgument},
		{"body", file.CID, bytes.NewReader([]byte("x")), s3err.ErrInvalidRequest},
	} {
		_, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", CID: tc.cid, Body: tc.body, Size: -1})
		if e, ok := s3err.As(err); !ok || e.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if _, err := n.HeadObject(ctx, "b", "k"); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("rejected PUT by CID committed: %v", err)
	}
	// A local file and a raw block are adopted without an exchange.
	info, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", CID: file.CID, Size: -1})
	if err != nil || info.ETag != file.ETag || info.Size != 3000 {
		t.Fatalf("adopt local file: %+v %v", info, err)
	}
	raw := blocks.NewBlock([]byte("a raw block"))
	rawCID, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(raw.RawData())
	rb, _ := blocks.NewBlockWithCid(raw.RawData(), rawCID)
	if err := n.blocks.Blockstore().Put(ctx, rb); err != nil {
		t.Fatal(err)
	}
	info, err = n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "raw", CID: rawCID.String(), Size: -1})
	if err != nil || info.Size != int64(len("a raw block")) || info.CID != rawCID.String() {
		t.Fatalf("adopt raw block: %+v %v", info, err)
	}
	_, c, err := n.GetObject(ctx, "b", "raw")
	if err != nil || string(readRange(t, c, 0, info.Size)) != "a raw block" {
		t.Fatalf("read adopted raw block: %v", err)
	}
}

// rejectedBlocks returns the blocks the node's fetcher rejected, as its
// metric on reg says.
func rejectedBlocks(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "s3mesh_gateway_blocks_rejected_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
