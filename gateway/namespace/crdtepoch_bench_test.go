package namespace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	boxoexchange "github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/exchange"
)

// Benchmarks of epochs and snapshots (crdtepoch.go): joins from a
// snapshot at scale, storage over many overwrites, and a namespace of many
// offices. Every wait is bounded; every load loop is bounded in count.

// psTraffic counts the GossipSub RPC bytes a node sends and receives.
type psTraffic struct{ sent, recv, msgs, dropped atomic.Int64 }

var _ pubsub.RawTracer = (*psTraffic)(nil)

func (t *psTraffic) AddPeer(peer.ID, protocol.ID)          {}
func (t *psTraffic) RemovePeer(peer.ID)                    {}
func (t *psTraffic) Join(string)                           {}
func (t *psTraffic) Leave(string)                          {}
func (t *psTraffic) Graft(peer.ID, string)                 {}
func (t *psTraffic) Prune(peer.ID, string)                 {}
func (t *psTraffic) ValidateMessage(*pubsub.Message)       {}
func (t *psTraffic) DeliverMessage(*pubsub.Message)        { t.msgs.Add(1) }
func (t *psTraffic) RejectMessage(*pubsub.Message, string) {}
func (t *psTraffic) DuplicateMessage(*pubsub.Message)      {}
func (t *psTraffic) ThrottlePeer(peer.ID)                  {}
func (t *psTraffic) RecvRPC(rpc *pubsub.RPC)               { t.recv.Add(int64(rpc.Size())) }
func (t *psTraffic) SendRPC(rpc *pubsub.RPC, _ peer.ID)    { t.sent.Add(int64(rpc.Size())) }
func (t *psTraffic) DropRPC(*pubsub.RPC, peer.ID)          {}
func (t *psTraffic) UndeliverableMessage(*pubsub.Message)  {}

// benchNode is one office in these benchmarks, over real loopback TCP
// (exchange.Node) or an in-process mocknet.
type benchNode struct {
	name    string
	h       host.Host
	ps      *pubsub.PubSub
	stat    func() *bitswap.Stat
	blocks  boxobs.Blockstore
	ns      *CRDTNamespace
	reg     *prometheus.Registry
	traffic *psTraffic
	dir     string
	stop    []func()
	once    sync.Once
}

func (n *benchNode) close() {
	n.once.Do(func() {
		for _, f := range slices.Backward(n.stop) {
			f()
		}
	})
}

// benchNet makes and connects benchNodes.
type benchNet struct {
	mn mocknet.Mocknet // nil: loopback TCP
}

func (bn *benchNet) add(b testing.TB, name string, mod func(*CRDTConfig)) *benchNode {
	b.Helper()
	n := &benchNode{name: name, reg: prometheus.NewRegistry(), traffic: &psTraffic{}, dir: b.TempDir(),
		blocks: boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))}
	ctx, cancel := context.WithCancel(context.Background())
	var bs blockservice.BlockService
	if bn.mn == nil {
		k, err := exchange.LoadOrCreateIdentity(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		ex, err := exchange.New(exchange.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Registerer: n.reg}, k, n.blocks)
		if err != nil {
			b.Fatal(err)
		}
		n.h = ex.Host()
		n.stop = append(n.stop, func() { ex.Close() })
		sb := ex.Exchange().(interface{ Stat() (*bitswap.Stat, error) })
		n.stat = func() *bitswap.Stat { s, _ := sb.Stat(); return s }
		bs = blockservice.New(n.blocks, ex.Exchange())
	} else {
		h, err := bn.mn.GenPeer()
		if err != nil {
			b.Fatal(err)
		}
		n.h = h
		bsw := bitswap.New(ctx, bsnet.NewFromIpfsHost(h), nil, n.blocks, bitswap.SetSendDontHaves(true), bitswap.ProviderSearchDelay(time.Second))
		n.stop = append(n.stop, func() { h.Close() }, func() { bsw.Close() })
		n.stat = func() *bitswap.Stat { s, _ := bsw.Stat(); return s }
		bs = blockservice.New(n.blocks, bsw)
	}
	ps, err := pubsub.NewGossipSub(ctx, n.h, pubsub.WithRawTracer(n.traffic))
	if err != nil {
		b.Fatal(err)
	}
	n.ps = ps
	n.stop = append(n.stop, cancel)
	cfg := CRDTConfig{
		Dir: n.dir, NodeID: n.h.ID().String(), Network: crdtTestNetwork, NoSync: true,
		RebroadcastInterval: time.Second, DAGSyncTimeout: 10 * time.Second, PruneInterval: -1, Registerer: n.reg,
	}
	if mod != nil {
		mod(&cfg)
	}
	ns, err := OpenCRDTNamespace(cfg, ps, merkledag.NewDAGService(bs))
	if err != nil {
		b.Fatal(err)
	}
	n.ns = ns
	n.stop = append(n.stop, func() { ns.Close() })
	b.Cleanup(n.close)
	return n
}

func (bn *benchNet) connect(b testing.TB, x, y *benchNode) {
	b.Helper()
	if bn.mn != nil {
		if _, err := bn.mn.LinkPeers(x.h.ID(), y.h.ID()); err != nil {
			b.Fatal(err)
		}
		if _, err := bn.mn.ConnectPeers(x.h.ID(), y.h.ID()); err != nil {
			b.Fatal(err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), crdtWait)
	defer cancel()
	if err := x.h.Connect(ctx, peer.AddrInfo{ID: y.h.ID(), Addrs: y.h.Addrs()}); err != nil {
		b.Fatal(err)
	}
}

// cpuTimes reads the machine's busy and total CPU time (jiffies) from
// /proc/stat; zeros when it cannot.
func cpuTimes() (busy, total int64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	for i, v := range fields[1:] {
		x, _ := strconv.ParseInt(v, 10, 64)
		total += x
		if i != 3 && i != 4 { // idle, iowait
			busy += x
		}
	}
	return busy, total
}

// rssBytes returns the process's resident set size (0 when unknown).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// machineBusy returns the share of the machine's CPUs busy since (b0, t0).
func machineBusy(b0, t0 int64) float64 {
	b1, t1 := cpuTimes()
	if t1 == t0 {
		return 0
	}
	return float64(b1-b0) / float64(t1-t0)
}

func envInts(b *testing.B, name string, def []int) []int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 2000000 {
			b.Fatalf("%s=%q: want positive integers separated by commas", name, s)
		}
		out = append(out, n)
	}
	return out
}

// pollFor polls cond every 100 ms until it returns nil and returns how
// long that took; it fails b after bound.
func pollFor(b *testing.B, what string, bound time.Duration, cond func() error) time.Duration {
	b.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > bound {
			b.Fatalf("%s: not within %s: %v", what, bound, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkNamespaceJoin measures a fresh office joining a namespace from
// a snapshot, for each size in S3MESH_JOIN_N (default 10000,100000):
// office A writes N records (16 concurrent writers), folds (one snapshot
// seeding epoch 1), then overwrites 256 of them (deltas after the
// snapshot); then S3MESH_JOIN_RUNS (default 3) fresh offices, one at a
// time, connect to A and are timed until they list exactly the N keys
// with their latest ETags. Reported per join: time, Bitswap blocks and
// bytes received, GossipSub bytes received, libp2p transport bytes (TCP
// only), and the machine's CPU busy share (/proc/stat) meanwhile; then a
// linear fit (time and bytes against N) evaluated at 1,000,000.
//
// S3MESH_JOIN_LATENCY (e.g. 20ms) runs over an in-process mocknet whose
// links delay every write by that much, in each direction, instead of
// loopback TCP; S3MESH_JOIN_MBITS (e.g. 100) also limits each link's
// bandwidth, in Mbit/s (mocknet only; else unlimited).
//
//	go test -run '^$' -bench NamespaceJoin -benchtime 1x -timeout 60m ./gateway/namespace/
//	S3MESH_JOIN_LATENCY=20ms S3MESH_JOIN_MBITS=100 go test -run '^$' -bench NamespaceJoin -benchtime 1x -timeout 60m ./gateway/namespace/
func BenchmarkNamespaceJoin(b *testing.B) {
	sizes := envInts(b, "S3MESH_JOIN_N", []int{10000, 100000})
	runs := envInts(b, "S3MESH_JOIN_RUNS", []int{3})[0]
	var latency time.Duration
	if s := os.Getenv("S3MESH_JOIN_LATENCY"); s != "" {
		var err error
		if latency, err = time.ParseDuration(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	noFold := func(c *CRDTConfig) { c.FoldHeight = -1 }
	type point struct {
		n           int
		secs, bytes float64
	}
	var points []point
	for b.Loop() {
		for _, n := range sizes {
			bn := &benchNet{}
			kind := "loopback TCP"
			if latency > 0 {
				bn.mn = mocknet.New()
				lo := mocknet.LinkOptions{Latency: latency}
				kind = fmt.Sprintf("mocknet, %s per write each way", latency)
				if mbit := envInts(b, "S3MESH_JOIN_MBITS", []int{0})[0]; mbit > 0 {
					lo.Bandwidth = float64(mbit) * 1e6 / 8
					kind += fmt.Sprintf(", %d Mbit/s", mbit)
				}
				bn.mn.SetLinkDefaults(lo)
			}
			a := bn.add(b, "A", noFold)
			if err := a.ns.CreateBucket(ctx, BucketRecord{Name: scaleBucket}); err != nil {
				b.Fatal(err)
			}
			all := make([]int, n)
			for i := range all {
				all[i] = i
			}
			gen := make([]uint8, n)
			wt := scaleWrite(b, []Namespace{a.ns}, 16, all, gen)
			foldStart := time.Now()
			root, err := a.ns.Fold(ctx)
			if err != nil {
				b.Fatal(err)
			}
			foldTime := time.Since(foldStart)
			st := a.ns.Status(ctx).Epoch
			over := all[:min(256, n)]
			for _, i := range over {
				gen[i] = 1
			}
			scaleWrite(b, []Namespace{a.ns}, 16, over, gen)
			b.Logf("N=%d over %s: A wrote N records in %s, folded in %s (snapshot %s: %d items, %d leaves, %d B), then overwrote %d keys (DAG height %d after the fold)",
				n, kind, wt.Round(time.Millisecond), foldTime.Round(time.Millisecond), root, st.SnapshotItems, st.Join.Leaves, a.ns.snapshotBytes(ctx), len(over), a.ns.Status(ctx).MaxHeight)
			var times []float64
			for r := range runs {
				j := bn.add(b, fmt.Sprintf("J%d", r), noFold)
				bs0, ps0 := j.stat(), j.traffic.recv.Load()
				in0 := scaleCounter(b, j.reg, "s3mesh_exchange_transport_received_bytes_total")
				cb, ct := cpuTimes()
				start := time.Now()
				bn.connect(b, a, j)
				pollFor(b, "the joiner lists the N keys", 10*time.Minute, func() error {
					c, err := scaleCount(j.ns)
					if err == nil && c != n {
						err = fmt.Errorf("holds %d of %d keys (join %s)", c, n, j.ns.Status(ctx).Epoch.Join.State)
					}
					if err == nil {
						err = scaleCheck(j.ns, gen)
					}
					return err
				})
				d := time.Since(start)
				busy := machineBusy(cb, ct)
				bs1 := j.stat()
				psIn := j.traffic.recv.Load() - ps0
				in := scaleCounter(b, j.reg, "s3mesh_exchange_transport_received_bytes_total") - in0
				js := j.ns.Status(ctx)
				b.Logf("\tjoin %d: %s to list all %d keys; Bitswap %d blocks, %d B; GossipSub %d B received; transport %.0f B; snapshot install %s; walked height %d after it; machine CPU busy %.0f%%",
					r+1, d.Round(time.Millisecond), n, bs1.BlocksReceived-bs0.BlocksReceived, bs1.DataReceived-bs0.DataReceived, psIn, in,
					js.Epoch.Join.Finished.Sub(js.Epoch.Join.Started).Round(time.Millisecond), js.MaxHeight, 100*busy)
				times = append(times, d.Seconds())
				points = append(points, point{n: n, secs: d.Seconds(), bytes: float64(bs1.DataReceived - bs0.DataReceived + uint64(psIn))})
				j.close()
			}
			slices.Sort(times)
			b.Logf("N=%d: join %.2f–%.2f s (median %.2f s) over %d runs", n, times[0], times[len(times)-1], times[len(times)/2], len(times))
			b.ReportMetric(times[len(times)/2], fmt.Sprintf("join-s/%d", n))
			a.close()
		}
	}
	// Least-squares line through the points, at 1M.
	if len(sizes) > 1 {
		fit := func(y func(point) float64) (c0, c1 float64) {
			var sx, sy, sxx, sxy float64
			for _, p := range points {
				x := float64(p.n)
				sx, sy, sxx, sxy = sx+x, sy+y(p), sxx+x*x, sxy+x*y(p)
			}
			k := float64(len(points))
			c1 = (k*sxy - sx*sy) / (k*sxx - sx*sx)
			return (sy - c1*sx) / k, c1
		}
		t0, t1 := fit(func(p point) float64 { return p.secs })
		y0, y1 := fit(func(p point) float64 { return p.bytes })
		b.Logf("fit: join time = %.2f s + %.1f µs × N (%.0f s at 1,000,000); join bytes = %.0f B + %.0f B × N (%.0f MB at 1,000,000)",
			t0, t1*1e6, t0+t1*1e6, y0, y1, (y0+y1*1e6)/1e6)
		b.ReportMetric(t0+t1*1e6, "join-s/1M-fit")
	}
}

// snapshotBytes returns the size of the current seed's leaves.
func (n *CRDTNamespace) snapshotBytes(ctx context.Context) int64 {
	cur := n.cur.Load()
	if !cur.id.seed.Defined() {
		return 0
	}
	s, err := loadSnapshotRoot(ctx, n.dag, cur.id.seed)
	if err != nil {
		return -1
	}
	return s.header.Bytes
}

// reachable returns the blocks (count, bytes) reachable from roots
// through bs: what the node's GC keeps of the namespace.
func reachable(ctx context.Context, bs boxobs.Blockstore, roots []cid.Cid) (int, int64, error) {
	seen := map[cid.Cid]bool{}
	stack := slices.Clone(roots)
	var size int64
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		blk, err := bs.Get(ctx, c)
		if err != nil {
			return 0, 0, err
		}
		size += int64(len(blk.RawData()))
		if c.Prefix().Codec != cid.DagProtobuf {
			continue
		}
		nd, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			return 0, 0, err
		}
		for _, l := range nd.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return len(seen), size, nil
}

// kvBytes sums the key and value bytes of db: the CRDT's state (every
// generation) and the rest (the index and the node's own keys).
func kvBytes(b *testing.B, db *pebble.DB) (crdtBytes, other int64) {
	b.Helper()
	it, err := db.NewIter(nil)
	if err != nil {
		b.Fatal(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(string(it.Key()), crdtNamespace) {
			crdtBytes += int64(len(it.Key()) + len(v))
		} else {
			other += int64(len(it.Key()) + len(v))
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		b.Fatal(err)
	}
	return crdtBytes, other
}

// BenchmarkNamespaceHistory measures a node's namespace storage as the
// same keys are overwritten again and again: S3MESH_HISTORY_KEYS (default
// 10,000) keys written, then overwritten 9 times (16 concurrent writers),
// with a fold after each round and, for comparison, without. After each
// round: the namespace database (after a flush and full compaction; key
// and value bytes of the CRDT and of the index) and the blocks the node's
// GC keeps (reachable from Heads: the epoch's deltas and its seed) against
// the blocks ever written, per key.
//
//	go test -run '^$' -bench NamespaceHistory -benchtime 1x -timeout 30m ./gateway/namespace/
func BenchmarkNamespaceHistory(b *testing.B) {
	keys := envInts(b, "S3MESH_HISTORY_KEYS", []int{10000})[0]
	const rounds = 10
	ctx := context.Background()
	for b.Loop() {
		for _, fold := range []bool{true, false} {
			bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
			dag := merkledag.NewDAGService(blockservice.New(bs, offlineExchange(bs)))
			dir := b.TempDir()
			ns, err := OpenCRDTNamespace(CRDTConfig{Dir: dir, NodeID: "solo", NoSync: true, PruneInterval: -1, FoldHeight: -1}, nil, dag)
			if err != nil {
				b.Fatal(err)
			}
			if err := ns.CreateBucket(ctx, BucketRecord{Name: scaleBucket}); err != nil {
				b.Fatal(err)
			}
			all := make([]int, keys)
			for i := range all {
				all[i] = i
			}
			gen := make([]uint8, keys)
			b.Logf("fold after each round: %v (%d keys)", fold, keys)
			b.Logf("\t%5s %14s %14s %14s %14s %14s %14s", "round", "db dir B/key", "live sst B/key", "crdt kv B/key", "index kv B/key", "kept blk B/key", "all blk B/key")
			var last float64
			for r := range rounds {
				for i := range gen {
					gen[i] = uint8(r)
				}
				scaleWrite(b, []Namespace{ns}, 16, all, gen)
				if fold {
					if _, err := ns.Fold(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if err := scaleCheck(ns, gen); err != nil {
					b.Fatal(err)
				}
				scaleCompact(b, ns.idx.db)
				dirBytes, liveSST, dirLine := scaleDirBytes(b, ns.idx.db, dir)
				ck, ik := kvBytes(b, ns.idx.db)
				_, kept, err := reachable(ctx, bs, ns.Heads(ctx))
				if err != nil {
					b.Fatal(err)
				}
				_, allBlk, err := scaleBlocks(bs)
				if err != nil {
					b.Fatal(err)
				}
				k := float64(keys)
				b.Logf("\t%5d %14.0f %14.0f %14.0f %14.0f %14.0f %14.0f", r+1, float64(dirBytes)/k, float64(liveSST)/k, float64(ck)/k, float64(ik)/k, float64(kept)/k, float64(allBlk)/k)
				if r == rounds-1 {
					b.Logf("\tdatabase directory: %s", dirLine)
				}
				last = float64(liveSST+kept) / k
			}
			name := "nofold"
			if fold {
				name = "fold"
			}
			b.ReportMetric(last, "B/key-after-10x/"+name)
			if err := ns.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkNamespaceMesh measures a namespace of S3MESH_MESH_NODES
// (default 32) offices on an in-process mocknet, every pair connected:
// memory per idle node (Go heap after GC, over the nodes), then
// S3MESH_MESH_WRITES (default 16) writes at every office at once; reported:
// the time until every office lists every record, the record lag p99 and
// max (each node's window of the latest updates from others; the median
// and worst node), and GossipSub and Bitswap bytes per node per write.
//
//	go test -run '^$' -bench NamespaceMesh -benchtime 1x -timeout 30m ./gateway/namespace/
func BenchmarkNamespaceMesh(b *testing.B) {
	nodes := envInts(b, "S3MESH_MESH_NODES", []int{32})[0]
	writes := envInts(b, "S3MESH_MESH_WRITES", []int{16})[0]
	ctx := context.Background()
	for b.Loop() {
		bn := &benchNet{mn: mocknet.New()}
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		g0 := runtime.NumGoroutine()
		rss0 := rssBytes()
		var peers []*benchNode
		for i := range nodes {
			// Production's rebroadcast interval (the tests' 1 s makes 32
			// nodes verify ~1,000 signed announcements a second).
			peers = append(peers, bn.add(b, fmt.Sprintf("N%02d", i), func(c *CRDTConfig) { c.RebroadcastInterval = DefaultCRDTRebroadcastInterval }))
		}
		if err := bn.mn.LinkAll(); err != nil {
			b.Fatal(err)
		}
		if err := bn.mn.ConnectAllButSelf(); err != nil {
			b.Fatal(err)
		}
		pollFor(b, "topic peers", 2*time.Minute, func() error {
			for _, p := range peers {
				if c := len(p.ps.ListPeers(CRDTTopic(crdtTestNetwork))); c < nodes-1 {
					return fmt.Errorf("%s sees %d topic peers", p.name, c)
				}
			}
			return nil
		})
		time.Sleep(2 * time.Second) // let the meshes settle before measuring memory (not an assertion)
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		perNode := float64(ms1.HeapInuse-ms0.HeapInuse) / float64(nodes)
		rssNode := float64(rssBytes()-rss0) / float64(nodes)
		b.Logf("%d idle nodes: per node %.1f MiB resident (process RSS growth; Pebble's memtables and cache live outside the Go heap), %.1f MiB Go heap in use, %d goroutines",
			nodes, rssNode/(1<<20), perNode/(1<<20), (runtime.NumGoroutine()-g0)/nodes)
		b.ReportMetric(perNode/(1<<20), "idle-heap-MiB/node")
		b.ReportMetric(rssNode/(1<<20), "idle-rss-MiB/node")

		if err := peers[0].ns.CreateBucket(ctx, BucketRecord{Name: scaleBucket}); err != nil {
			b.Fatal(err)
		}
		pollFor(b, "bucket everywhere", 2*time.Minute, func() error {
			for _, p := range peers {
				if _, err := p.ns.GetBucket(ctx, scaleBucket); err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
			}
			return nil
		})
		type counters struct{ psOut, psIn, bsOut, bsIn int64 }
		read := func() []counters {
			out := make([]counters, len(peers))
			for i, p := range peers {
				s := p.stat()
				out[i] = counters{p.traffic.sent.Load(), p.traffic.recv.Load(), int64(s.DataSent), int64(s.DataReceived)}
			}
			return out
		}
		c0 := read()
		cb, ct := cpuTimes()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(peers))
		for i, p := range peers {
			wg.Go(func() {
				for w := range writes {
					rec := scaleRecord(i*writes+w, 0)
					if err := p.ns.PutObject(ctx, rec, nil); err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		total := nodes * writes
		d := pollFor(b, "every office lists every record", 10*time.Minute, func() error {
			for _, p := range peers {
				c, err := scaleCount(p.ns)
				if err != nil {
					return err
				}
				if c != total {
					return fmt.Errorf("%s lists %d of %d", p.name, c, total)
				}
			}
			return nil
		})
		conv := time.Since(start)
		busy := machineBusy(cb, ct)
		// Traffic until convergence; rebroadcasts after it are left out.
		c1 := read()
		var p99s, maxes []time.Duration
		for _, p := range peers {
			l := p.ns.Status(ctx).Lag
			p99s, maxes = append(p99s, l.P99), append(maxes, l.Max)
		}
		slices.Sort(p99s)
		slices.Sort(maxes)
		var ps, bsw float64
		for i := range peers {
			ps += float64(c1[i].psOut - c0[i].psOut + c1[i].psIn - c0[i].psIn)
			bsw += float64(c1[i].bsOut - c0[i].bsOut + c1[i].bsIn - c0[i].bsIn)
		}
		perNodeWrite := func(x float64) float64 { return x / float64(nodes) / float64(total) }
		b.Logf("%d writes (%d at each of %d offices at once): written in %s, every office lists all %s after the last write (%s from the first); machine CPU busy %.0f%%",
			total, writes, nodes, (conv - d).Round(time.Millisecond), d.Round(time.Millisecond), conv.Round(time.Millisecond), 100*busy)
		b.Logf("\trecord lag p99: median node %s, worst node %s; max: median node %s, worst %s",
			p99s[len(p99s)/2].Round(time.Millisecond), p99s[len(p99s)-1].Round(time.Millisecond), maxes[len(maxes)/2].Round(time.Millisecond), maxes[len(maxes)-1].Round(time.Millisecond))
		var dropped int64
		for _, p := range peers {
			dropped += p.traffic.dropped.Load()
		}
		b.Logf("\ttraffic per node per write (sent + received): GossipSub %.0f B, Bitswap %.0f B; announcements dropped by full subscriptions: %d", perNodeWrite(ps), perNodeWrite(bsw), dropped)
		b.ReportMetric(conv.Seconds(), "converge-s")
		b.ReportMetric(p99s[len(p99s)-1].Seconds(), "lag-p99-worst-s")
		b.ReportMetric(perNodeWrite(ps), "gossip-B/node/write")
		b.ReportMetric(perNodeWrite(bsw), "bitswap-B/node/write")
		for _, p := range peers {
			p.close()
		}
	}
}

func offlineExchange(bs boxobs.Blockstore) boxoexchange.Interface { return offline.Exchange(bs) }
