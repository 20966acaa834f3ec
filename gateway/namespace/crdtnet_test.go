package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"s3mesh/gateway/internal/gwtest"
	"s3mesh/internal/poll"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	crdt "github.com/ipfs/go-ds-crdt"
	ipld "github.com/ipfs/go-ipld-format"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/exchange"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// crdtPeer is one office in a multi-node test: a real libp2p host on
// loopback with Bitswap (exchange.Node), GossipSub, and the namespace.
type crdtPeer struct {
	name   string
	key    crypto.PrivKey
	blocks boxobs.Blockstore // survives restarts
	dir    string
	reg    *prometheus.Registry
	// wrapDAG, when set, wraps the DAG service the namespace fetches and
	// stores deltas through (fault injection).
	wrapDAG func(ipld.DAGService) ipld.DAGService
	// mod, when set, adjusts the namespace's configuration at each open.
	mod func(*CRDTConfig)

	ex       *exchange.Node
	ps       *pubsub.PubSub
	psCancel context.CancelFunc
	dag      ipld.DAGService
	ns       *CRDTNamespace
}

// startNet starts the peer's host, Bitswap and GossipSub.
func (p *crdtPeer) startNet(t testing.TB) {
	t.Helper()
	ex, err := exchange.New(exchange.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}, p.key, p.blocks)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, ex.Host())
	if err != nil {
		cancel()
		ex.Close()
		t.Fatal(err)
	}
	p.ex, p.ps, p.psCancel = ex, ps, cancel
	p.dag = merkledag.NewDAGService(blockservice.New(p.blocks, ex.Exchange()))
}

func (p *crdtPeer) open(t testing.TB) {
	t.Helper()
	p.startNet(t)
	cfg := CRDTConfig{
		Dir: p.dir, NodeID: p.ex.ID().String(), Network: crdtTestNetwork, NoSync: true,
		RebroadcastInterval: time.Second, DAGSyncTimeout: 10 * time.Second,
		PruneGrace: time.Nanosecond, PruneInterval: -1, Registerer: p.reg,
	}
	if p.mod != nil {
		p.mod(&cfg)
	}
	dag := p.dag
	if p.wrapDAG != nil {
		dag = p.wrapDAG(dag)
	}
	ns, err := OpenCRDTNamespace(cfg, p.ps, dag)
	if err != nil {
		t.Fatal(err)
	}
	p.ns = ns
}

func (p *crdtPeer) close(t testing.TB) {
	t.Helper()
	if p.ns != nil {
		if err := p.ns.Close(); err != nil {
			t.Errorf("%s: close namespace: %v", p.name, err)
		}
		p.ns = nil
	}
	if p.ex != nil {
		p.psCancel()
		if err := p.ex.Close(); err != nil {
			t.Errorf("%s: close exchange: %v", p.name, err)
		}
		p.ex = nil
	}
}

func newCrdtPeers(t testing.TB, n int) []*crdtPeer {
	t.Helper()
	var peers []*crdtPeer
	for i := range n {
		k, err := exchange.LoadOrCreateIdentity(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p := &crdtPeer{
			name: string(rune('A' + i)), key: k, dir: t.TempDir(), reg: prometheus.NewRegistry(),
			blocks: boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())),
		}
		p.open(t)
		t.Cleanup(func() { p.close(t) })
		peers = append(peers, p)
	}
	connectCrdtPeers(t, peers)
	return peers
}

// connectCrdtPeers connects every pair and waits until each sees the
// others on the topic.
func connectCrdtPeers(t testing.TB, peers []*crdtPeer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crdtWait)
	defer cancel()
	for i, a := range peers {
		for _, b := range peers[i+1:] {
			if err := a.ex.Connect(ctx, b.ex.Addrs()[0].String()+"/p2p/"+b.ex.ID().String()); err != nil {
				t.Fatalf("connect %s-%s: %v", a.name, b.name, err)
			}
		}
	}
	waitFor(t, "topic peers", func() error {
		for _, p := range peers {
			if got := len(p.ps.ListPeers(CRDTTopic(crdtTestNetwork))); got < len(peers)-1 {
				return fmt.Errorf("%s sees %d topic peers", p.name, got)
			}
		}
		return nil
	})
}

// waitFor waits until cond returns nil (see poll.Until), within crdtWait.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	poll.Until(t, what, crdtWait, cond)
}

// etagEverywhere waits until every peer has bucket/key with etag, or has
// no such key when etag is "".
func etagEverywhere(t *testing.T, peers []*crdtPeer, bucket, key, etag string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s/%s = %q everywhere", bucket, key, etag), func() error {
		for _, p := range peers {
			rec, err := p.ns.GetObject(context.Background(), bucket, key)
			switch {
			case etag == "" && errors.Is(err, s3err.ErrNoSuchKey):
			case err != nil:
				return fmt.Errorf("%s: %w", p.name, err)
			case rec.ETag != etag:
				return fmt.Errorf("%s has etag %q", p.name, rec.ETag)
			}
		}
		return nil
	})
}

func crdtPut(t *testing.T, p *crdtPeer, bucket, key, etag string) {
	t.Helper()
	if err := p.ns.PutObject(context.Background(), &ObjectRecord{Bucket: bucket, Key: key, ETag: etag, Root: gwtest.EmptyFileCID, Size: int64(len(etag))}, nil); err != nil {
		t.Fatalf("%s: put %s/%s: %v", p.name, bucket, key, err)
	}
}

func listKeys(p *crdtPeer, bucket string) ([]string, error) {
	res, err := List(context.Background(), p.ns, s3api.ListObjectsInput{Bucket: bucket, MaxKeys: 1000})
	if err != nil {
		return nil, err
	}
	return keysOf(res), nil
}

func bucketEverywhere(t *testing.T, peers []*crdtPeer, bucket string) {
	t.Helper()
	waitFor(t, "bucket "+bucket+" everywhere", func() error {
		for _, p := range peers {
			if _, err := p.ns.GetBucket(context.Background(), bucket); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
		return nil
	})
}

func TestCrdtReplication(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()

	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt", Location: "berlin"}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, "bkt")

	// Put at B, overwrite at C, delete at A.
	crdtPut(t, b, "bkt", "k", "b1")
	etagEverywhere(t, peers, "bkt", "k", "b1")
	crdtPut(t, c, "bkt", "k", "c1")
	etagEverywhere(t, peers, "bkt", "k", "c1")
	if err := a.ns.DeleteObject(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	etagEverywhere(t, peers, "bkt", "k", "")

	// Re-put at another node after the delete converges to the re-put.
	crdtPut(t, b, "bkt", "k", "b2")
	etagEverywhere(t, peers, "bkt", "k", "b2")

	// Listing through each node's index after replication.
	want := []string{"a/1", "a/2", "k", "z"}
	for i, key := range []string{"a/1", "a/2", "z"} {
		crdtPut(t, peers[i], "bkt", key, "x")
	}
	waitFor(t, "listings", func() error {
		for _, p := range peers {
			got, err := listKeys(p, "bkt")
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s lists %q", p.name, got)
			}
		}
		return nil
	})

	// The lag histogram saw the entries applied from other nodes.
	waitFor(t, "lag samples", func() error {
		mfs, err := c.reg.Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			if mf.GetName() == "s3mesh_namespace_replication_lag_seconds" {
				if n := mf.GetMetric()[0].GetHistogram().GetSampleCount(); n >= 5 {
					return nil
				} else {
					return fmt.Errorf("%d samples", n)
				}
			}
		}
		return errors.New("no lag histogram")
	})

	// Pruning at the writer removes superseded entries everywhere and
	// changes no winner: B wrote b1 and b2, both superseded by now... b1
	// by c1, and b2 is the winner.
	n, err := b.ns.Prune(ctx)
	if err != nil || n == 0 {
		t.Fatalf("prune at B: %d, %v", n, err)
	}
	waitFor(t, "pruned entries gone everywhere", func() error {
		for _, p := range peers {
			res, err := p.ns.crdtDS().Query(ctx, queryPrefix("/o"))
			if err != nil {
				return err
			}
			entries, err := res.Rest()
			if err != nil {
				return err
			}
			for _, e := range entries {
				pk, _ := parseEntryKey(e.Key)
				if pk.key == "k" && pk.version < winnerVersion(t, p.ns, "bkt", "k") && b.ns.own(pk.version) {
					return fmt.Errorf("%s still holds %s", p.name, e.Key)
				}
			}
		}
		return nil
	})
	etagEverywhere(t, peers, "bkt", "k", "b2")
}

func TestCrdtConcurrentWriters(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	ctx := context.Background()
	if err := peers[0].ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, "bkt")
	for round := range 3 {
		key := fmt.Sprintf("k%d", round)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, p := range peers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := p.ns.PutObject(ctx, &ObjectRecord{Bucket: "bkt", Key: key, ETag: p.name, Root: gwtest.EmptyFileCID}, nil)
				if err != nil {
					t.Errorf("%s: %v", p.name, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		waitFor(t, "one winner for "+key, func() error {
			var first *ObjectRecord
			var firstVer string
			for _, p := range peers {
				rec, err := p.ns.GetObject(ctx, "bkt", key)
				if err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
				ver := winnerVersion(t, p.ns, "bkt", key)
				// Every node must have seen all three writes: the winner
				// is then the greatest of them.
				res, err := p.ns.crdtDS().Query(ctx, queryPrefix(objectEntryKey("bkt", key, "")[:len(objectEntryKey("bkt", key, ""))-1]))
				if err != nil {
					return err
				}
				all, err := res.Rest()
				if err != nil {
					return err
				}
				if len(all) < 3 {
					return fmt.Errorf("%s has %d entries of %s", p.name, len(all), key)
				}
				if first == nil {
					first, firstVer = rec, ver
					continue
				}
				if rec.ETag != first.ETag || ver != firstVer {
					return fmt.Errorf("%s has %s@%s, %s has %s@%s", peers[0].name, first.ETag, firstVer, p.name, rec.ETag, ver)
				}
			}
			return nil
		})
	}
}

func TestCrdtCatchUpAfterRestart(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, "bkt")
	c.close(t)
	var want []string
	for i := range 200 {
		key := fmt.Sprintf("obj%04d", i)
		want = append(want, key)
		crdtPut(t, []*crdtPeer{a, b}[i%2], "bkt", key, key)
	}
	c.open(t)
	connectCrdtPeers(t, peers)
	waitFor(t, "C caught up", func() error {
		got, err := listKeys(c, "bkt")
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("C lists %d keys", len(got))
		}
		return nil
	})
	rec, err := c.ns.GetObject(ctx, "bkt", "obj0123")
	if err != nil || rec.ETag != "obj0123" {
		t.Fatalf("record at C: %+v, %v", rec, err)
	}
}

// TestCrdtGarbage has a peer publish garbage on the topic and well-formed
// CRDT deltas holding entries that are not namespace entries: nothing
// changes, and replication goes on.
func TestCrdtGarbage(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	ctx := context.Background()
	if err := peers[0].ns.CreateBucket(ctx, BucketRecord{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, "bkt")
	crdtPut(t, peers[0], "bkt", "k", "good")
	etagEverywhere(t, peers, "bkt", "k", "good")

	// The rogue runs its own go-ds-crdt on the topic.
	k, err := exchange.LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rogue := &crdtPeer{name: "rogue", key: k, blocks: boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))}
	rogue.startNet(t)
	t.Cleanup(func() { rogue.close(t) })
	topic, err := rogue.ps.Join(CRDTTopic(crdtTestNetwork))
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, crdtWait)
	defer ccancel()
	for _, p := range peers {
		if err := rogue.ex.Connect(cctx, p.ex.Addrs()[0].String()+"/p2p/"+p.ex.ID().String()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "rogue sees the topic", func() error {
		if n := len(rogue.ps.ListPeers(CRDTTopic(crdtTestNetwork))); n < len(peers) {
			return fmt.Errorf("%d topic peers", n)
		}
		return nil
	})
	for _, junk := range [][]byte{[]byte("garbage"), {0x0a, 0xff, 0xff}, {}} {
		if err := topic.Publish(ctx, junk); err != nil {
			t.Fatal(err)
		}
	}
	topic.Close()
	bctx, bcancel := context.WithCancel(context.Background())
	bc, err := crdt.NewPubSubBroadcaster(bctx, rogue.ps, CRDTTopic(crdtTestNetwork))
	if err != nil {
		t.Fatal(err)
	}
	opts := crdt.DefaultOptions()
	opts.Logger = crdtLogger{discardLogger()}
	rc, err := crdt.New(dssync.MutexWrap(ds.NewMapDatastore()), ds.NewKey("/crdt"), rogue.dag, bc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bcancel(); rc.Close() })
	bad := map[string][]byte{
		"/o/garbage":                       []byte("x"),
		objectEntryKey("bkt", "k", "zzzz"): entry{kind: entryDelete}.encode(),
		objectEntryKey("bkt", "k", formatVersion(1<<50, 0, "rogue")): []byte("not an entry"),
		objectEntryKey("bkt", "k", formatVersion(1<<50, 1, "rogue")): entry{kind: entryPut, payload: []byte("{")}.encode(),
		bucketEntryKey("bkt", formatVersion(1<<50, 2, "rogue")):      entry{kind: entryPut}.encode(),
	}
	for key, v := range bad {
		if err := rc.Put(ctx, ds.NewKey(key), v); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "malformed entries counted", func() error {
		for _, p := range peers {
			if n := counterValue(t, p.reg, "s3mesh_namespace_malformed_entries_total"); n < float64(len(bad)) {
				return fmt.Errorf("%s counted %v", p.name, n)
			}
		}
		return nil
	})
	// Replication still works and the garbage changed nothing.
	crdtPut(t, peers[1], "bkt", "k2", "after")
	etagEverywhere(t, peers, "bkt", "k2", "after")
	etagEverywhere(t, peers, "bkt", "k", "good")
	for _, p := range peers {
		got, err := listKeys(p, "bkt")
		if err != nil || !slices.Equal(got, []string{"k", "k2"}) {
			t.Fatalf("%s lists %q, %v", p.name, got, err)
		}
		if _, err := p.ns.GetBucket(ctx, "bkt"); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
	}
}

func queryPrefix(p string) query.Query { return query.Query{Prefix: p} }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
