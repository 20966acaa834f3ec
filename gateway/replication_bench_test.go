package gateway

import (
	"bytes"
	"context"
	"fmt"
	"s3mesh/gateway/namespace"
	"slices"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/s3api"
)

// lagBenchNetwork is the namespace the replication-lag benchmark's nodes
// share.
const lagBenchNetwork = "lag-bench"

// lagBenchWait bounds every wait for a write to show at another node.
const lagBenchWait = 60 * time.Second

// lagBenchPoll is how often a waiting benchmark looks at the other nodes.
const lagBenchPoll = 2 * time.Millisecond

// lagBenchNode is a full gateway node on a real libp2p host listening on
// TCP loopback, with Bitswap and GossipSub: one office.
type lagBenchNode struct {
	*Node
	ex *exchange.Node
	ps *pubsub.PubSub
}

func newLagBenchNode(b *testing.B) *lagBenchNode {
	b.Helper()
	dir := b.TempDir()
	key, err := exchange.LoadOrCreateIdentity(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	bs, err := blockstore.Open(blockstore.Config{Path: dir + "/blocks", NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ex, err := exchange.New(exchange.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}, key, bs.Blockstore())
	if err != nil {
		bs.Close()
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, ex.Host())
	if err != nil {
		cancel()
		ex.Close()
		bs.Close()
		b.Fatal(err)
	}
	gw, err := New(Config{
		DataDir: dir, NoSync: true, MultipartMaxAge: -1,
		Blockstore: bs, Exchange: ex.Exchange(),
		PubSub: ps, NodeID: ex.ID().String(), Network: lagBenchNetwork,
		RebroadcastInterval: 500 * time.Millisecond,
	})
	if err != nil {
		cancel()
		ex.Close()
		bs.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := gw.Close(); err != nil {
			b.Errorf("close node: %v", err)
		}
		cancel()
		if err := ex.Close(); err != nil {
			b.Errorf("close exchange: %v", err)
		}
		if err := bs.Close(); err != nil {
			b.Errorf("close block store: %v", err)
		}
	})
	return &lagBenchNode{Node: gw, ex: ex, ps: ps}
}

// lagBenchWaitFor polls cond every lagBenchPoll until it returns nil,
// failing b after lagBenchWait with cond's last error.
func lagBenchWaitFor(b *testing.B, what string, cond func() error) {
	b.Helper()
	deadline := time.Now().Add(lagBenchWait)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: not within %s: %v", what, lagBenchWait, err)
		}
		time.Sleep(lagBenchPoll)
	}
}

// BenchmarkReplicationLag measures how long a PUT at one office takes to
// be visible at two others. Three full gateway nodes on TCP loopback
// (real libp2p hosts, GossipSub, Bitswap, go-ds-crdt) are connected to
// each other; a bucket is created at A and waited for at B and C; then
// each iteration PUTs 1,000 objects of 1 KiB under distinct keys at A, one
// after the other, and for each measures the time from the PUT returning
// at A to HeadObject succeeding at B and at C, polling both every 2 ms
// (the namespace has no public apply hook), so figures carry up to ~2 ms
// of polling granularity. Every wait is bounded by 60 s; a timeout fails
// the benchmark. The percentiles (p50, p90, p99, max, in milliseconds)
// are over all (key, node) samples: 2,000 per iteration.
//
// Only the namespace record is waited for: HeadObject at B and C reads
// the replicated record, not the object's blocks (those are fetched over
// Bitswap on a GET, on demand).
//
// GossipSub may drop messages published just after a connection is set
// up (the mesh is not formed yet); the first writes then reach the others
// only with the next rebroadcast of heads (RebroadcastInterval, 500 ms
// here). So that this start-up effect is not timed, the nodes settle
// first: each must see the others on the topic, then the bucket and a
// warm-up key written at A must have replicated to B and C.
//
//	go test -run '^$' -bench ReplicationLag -benchtime 1x ./gateway/
func BenchmarkReplicationLag(b *testing.B) {
	const (
		puts    = 1000
		objSize = 1 << 10
	)
	ctx := context.Background()
	a, nb, nc := newLagBenchNode(b), newLagBenchNode(b), newLagBenchNode(b)
	nodes := []*lagBenchNode{a, nb, nc}
	others := []*lagBenchNode{nb, nc}

	cctx, cancel := context.WithTimeout(ctx, lagBenchWait)
	defer cancel()
	for i, x := range nodes {
		for _, y := range nodes[i+1:] {
			if err := x.ex.Connect(cctx, y.ex.Addrs()[0].String()+"/p2p/"+y.ex.ID().String()); err != nil {
				b.Fatalf("connect: %v", err)
			}
		}
	}
	lagBenchWaitFor(b, "topic peers", func() error {
		for i, x := range nodes {
			if got := len(x.ps.ListPeers(namespace.CRDTTopic(lagBenchNetwork))); got < len(nodes)-1 {
				return fmt.Errorf("node %d sees %d topic peers", i, got)
			}
		}
		return nil
	})

	put := func(key string, data []byte) {
		b.Helper()
		if _, err := a.PutObject(ctx, &s3api.PutObjectInput{
			Bucket: "bkt", Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
		}); err != nil {
			b.Fatalf("PUT %s at A: %v", key, err)
		}
	}
	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "bkt"}); err != nil {
		b.Fatal(err)
	}
	lagBenchWaitFor(b, "bucket at B and C", func() error {
		for _, o := range others {
			if _, err := o.HeadBucket(ctx, "bkt"); err != nil {
				return err
			}
		}
		return nil
	})
	put("warm-up", randBytes(0, objSize))
	lagBenchWaitFor(b, "warm-up key at B and C", func() error {
		for _, o := range others {
			if _, err := o.HeadObject(ctx, "bkt", "warm-up"); err != nil {
				return err
			}
		}
		return nil
	})

	var lags []time.Duration
	seq := 0
	for b.Loop() {
		for range puts {
			seq++
			key := fmt.Sprintf("obj/%07d", seq)
			put(key, randBytes(uint64(seq), objSize))
			start := time.Now()
			seen := make([]bool, len(others))
			left := len(others)
			deadline := start.Add(lagBenchWait)
			for left > 0 {
				for i, o := range others {
					if seen[i] {
						continue
					}
					if _, err := o.HeadObject(ctx, "bkt", key); err == nil {
						seen[i] = true
						left--
						lags = append(lags, time.Since(start))
					}
				}
				if left == 0 {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%s: not at all other nodes within %s", key, lagBenchWait)
				}
				time.Sleep(lagBenchPoll)
			}
		}
	}

	slices.Sort(lags)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p float64) float64 {
		i := int(p*float64(len(lags))+0.5) - 1
		return ms(lags[min(max(i, 0), len(lags)-1)])
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.90), "p90-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(ms(lags[len(lags)-1]), "max-ms")
}
