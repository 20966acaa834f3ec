package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/bitswap"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/blockstore"
	"s3mesh/gateway"
	"s3mesh/gateway/gatewaytest"
	"s3mesh/s3api"
)

// replDAG returns the CIDs of every block of the DAG under root, read from
// bs (which holds them all): the dag-pb nodes and the raw leaves.
func replDAG(t *testing.T, bs boxobs.Blockstore, root string) (nodes, leaves []cid.Cid) {
	t.Helper()
	c, err := cid.Decode(root)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(c cid.Cid, depth int)
	walk = func(c cid.Cid, depth int) {
		if depth > 16 {
			t.Fatal("DAG too deep")
		}
		if c.Prefix().Codec == cid.Raw {
			leaves = append(leaves, c)
			return
		}
		nodes = append(nodes, c)
		b, err := bs.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		nd, err := merkledag.DecodeProtobufBlock(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range nd.Links() {
			walk(l.Cid, depth+1)
		}
	}
	walk(c, 0)
	return nodes, leaves
}

// replMissing returns how many of cs bs lacks.
func replMissing(t *testing.T, bs boxobs.Blockstore, cs []cid.Cid) int {
	t.Helper()
	missing := 0
	for _, c := range cs {
		ok, err := bs.Has(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			missing++
		}
	}
	return missing
}

func replStatus(t *testing.T, n *gateway.Node) gateway.ReplicationStatus {
	t.Helper()
	st, err := n.ReplicationStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// replBucket returns the status of bucket in st.
func replBucket(st gateway.ReplicationStatus, bucket string) (gateway.BucketReplication, bool) {
	for _, b := range st.Buckets {
		if b.Name == bucket {
			return b, true
		}
	}
	return gateway.BucketReplication{}, false
}

// waitBucketComplete waits until n holds objects objects of bucket, all
// in full.
func waitBucketComplete(t *testing.T, name string, n *gateway.Node, bucket string, objects int64) gateway.BucketReplication {
	t.Helper()
	var out gateway.BucketReplication
	waitUntil(t, name+" holds "+bucket+" in full", func() error {
		b, ok := replBucket(replStatus(t, n), bucket)
		if !ok || b.Objects != objects || b.ObjectsComplete != objects {
			return fmt.Errorf("status %+v", b)
		}
		out = b
		return nil
	})
	return out
}

// replGauge returns the value of the unlabelled gauge name in reg.
func replGauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			return mf.Metric[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

func replPut(t *testing.T, n *gateway.Node, bucket, key string, data []byte) *s3api.ObjectInfo {
	t.Helper()
	info, err := n.PutObject(context.Background(), &s3api.PutObjectInput{Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestReplicatedBucketFetchesEveryBlock: three offices; a bucket marked
// replicated at A. B and C end up holding every block of an object PUT
// before the mark and of one PUT after it, without any GET; their status
// reports both complete and their metrics count each block fetched once.
func TestReplicatedBucketFetchesEveryBlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	regs := map[string]*prometheus.Registry{}
	node := func(name string) *gatewaytest.Node {
		reg := prometheus.NewRegistry()
		regs[name] = reg
		return net.NewReplicatedNode(t, func(c *gateway.Config) {
			c.ChunkSize, c.Registerer = 1000, reg
			// On a starved machine (-race, the suite in parallel) a
			// Bitswap session was seen to stall: its provider answered
			// slower than Bitswap expects, its wants counted as refused
			// (simulated DONT_HAVEs) and it sent no more. The replicator
			// restarts an attempt that got no block for FetchTimeout, in
			// a new session: keep that within the test's waits.
			c.FetchTimeout = 2 * time.Second
		})
	}
	a, b, c := node("A"), node("B"), node("C")
	net.Connect(a, b)
	net.Connect(a, c)
	net.Connect(b, c)
	for _, n := range []*gatewaytest.Node{a, b, c} {
		waitTopicPeers(t, n, gateway.DefaultNetwork, 2)
	}
	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "rep"}); err != nil {
		t.Fatal(err)
	}
	early := replPut(t, a.Node, "rep", "early", randomBytes(11, 60_000))
	for name, n := range map[string]*gatewaytest.Node{"B": b, "C": c} {
		waitUntil(t, "early at "+name, func() error { _, err := n.HeadObject(ctx, "rep", "early"); return err })
		if st := replStatus(t, n.Node); len(st.Buckets) != 0 || st.QueuedObjects != 0 {
			t.Fatalf("%s: replication status %+v before the bucket is marked", name, st)
		}
	}
	if rec, err := a.SetBucketReplicated(ctx, "rep", true); err != nil || !rec.Replicated {
		t.Fatalf("SetBucketReplicated: %+v, %v", rec, err)
	}
	// More than 174 leaves: a root over internal nodes.
	late := replPut(t, a.Node, "rep", "late", randomBytes(12, 250_000))

	var all []cid.Cid
	for _, info := range []*s3api.ObjectInfo{early, late} {
		nodes, leaves := replDAG(t, a.Blocks.Blockstore(), info.CID)
		all = append(append(all, nodes...), leaves...)
	}
	for name, n := range map[string]*gatewaytest.Node{"A": a, "B": b, "C": c} {
		st := waitBucketComplete(t, name, n.Node, "rep", 2)
		if st.LogicalBytes != 310_000 || st.BytesLocal != st.LogicalBytes || st.ObjectsQueued != 0 {
			t.Errorf("%s: bucket status %+v, want 310000 bytes, all local", name, st)
		}
		full := replStatus(t, n.Node)
		if full.QueuedObjects != 0 || full.PendingBytes != 0 || len(full.InProgress) != 0 {
			t.Errorf("%s: status %+v, want nothing queued", name, full)
		}
		if m := replMissing(t, n.Blocks.Blockstore(), all); m != 0 {
			t.Errorf("%s lacks %d of the %d blocks", name, m, len(all))
		}
		reg := regs[name]
		if got := counterIn(t, reg, "s3mesh_gateway_get_bytes_total"); got != 0 {
			t.Errorf("%s: %v bytes read by GETs, want none", name, got)
		}
		if got := counterIn(t, reg, "s3mesh_replication_objects_completed_total"); got != 2 {
			t.Errorf("%s: %v objects completed, want 2", name, got)
		}
		wantFetched := float64(len(all))
		if name == "A" {
			wantFetched = 0 // it wrote them
		}
		if got := counterIn(t, reg, "s3mesh_replication_fetched_blocks_total"); got != wantFetched {
			t.Errorf("%s: %v blocks fetched, want %v (each block once)", name, got, wantFetched)
		}
		if got := replGauge(t, reg, "s3mesh_replication_queue_objects"); got != 0 {
			t.Errorf("%s: queue gauge %v, want 0", name, got)
		}
		if got := replGauge(t, reg, "s3mesh_replication_pending_bytes"); got != 0 {
			t.Errorf("%s: pending bytes gauge %v, want 0", name, got)
		}
	}
	sa, sb, sc := must(a.Bitswap.Stat()), must(b.Bitswap.Stat()), must(c.Bitswap.Stat())
	t.Logf("%d blocks; A sent %d; B received %d (%d duplicate), sent %d; C received %d (%d duplicate), sent %d",
		len(all), sa.BlocksSent, sb.BlocksReceived, sb.DupBlksReceived, sb.BlocksSent, sc.BlocksReceived, sc.DupBlksReceived, sc.BlocksSent)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestReplicationConcurrentGetFetchesOnce: B reads an object while its
// replicator fetches the same object. Every block crosses the link once:
// B receives each block of the DAG exactly once (no duplicate) and A sends
// each once, although both B's GET and its replicator asked for blocks
// from the exchange (the root, at least, while both waited for it).
//
// Without the node's onceExchange this fails in every run (1 to 58
// duplicates of 199 blocks): a read that looked in the block store just
// before another read's block was stored asks the peer again.
//
// Two Bitswap behaviours duplicate blocks without any s3mesh read asking
// twice; the test keeps them out so that it measures s3mesh alone:
//   - simulated DONT_HAVEs: a want-block not answered within twice the
//     peer's average message latency (at least 50 ms) counts as refused;
//     when the block arrives anyway, the session may already have asked
//     the same peer for it again. Seen here under -race, in about one run
//     in three (2 to 27 duplicates). The test turns the simulation off.
//   - a new session broadcasts its first wants as want-haves, and the
//     server answers a want-have for a block of at most 1 KiB with the
//     block; the session's want-block for it, sent once it knows the peer,
//     brings it again (seen with 1000-byte leaves under load). The leaves
//     here are 2 KiB.
func TestReplicationConcurrentGetFetchesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := gatewaytest.NewNet(t)
	net.BitswapOptions = []bitswap.Option{bitswap.SetSimulateDontHavesOnTimeout(false)}
	a := net.NewReplicatedNode(t, func(c *gateway.Config) { c.ChunkSize = 2048 })
	regB := prometheus.NewRegistry()
	b := net.NewReplicatedNode(t, func(c *gateway.Config) { c.Registerer = regB })
	net.Connect(a, b)
	waitTopicPeers(t, a, gateway.DefaultNetwork, 1)
	waitTopicPeers(t, b, gateway.DefaultNetwork, 1)
	if err := a.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "rep"}); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(21, 400_000)
	info := replPut(t, a.Node, "rep", "obj", data)
	nodes, leaves := replDAG(t, a.Blocks.Blockstore(), info.CID)
	total := len(nodes) + len(leaves)
	waitUntil(t, "obj at B", func() error { _, err := b.HeadObject(ctx, "rep", "obj"); return err })
	b0, a0 := must(b.Bitswap.Stat()), must(a.Bitswap.Stat())

	// Cut B off, so that both its GET and its replicator wait for the
	// root, then let them both run.
	net.Disconnect(a, b)
	type result struct {
		data []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		_, content, err := b.GetObject(ctx, "rep", "obj")
		if err != nil {
			got <- result{err: err}
			return
		}
		r, err := content.Open(ctx, 0, int64(len(data)))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer r.Close()
		d, err := io.ReadAll(r)
		got <- result{d, err}
	}()
	if _, err := b.SetBucketReplicated(ctx, "rep", true); err != nil {
		t.Fatal(err)
	}
	root := cid.MustParse(info.CID)
	waitUntil(t, "B's replicator and GET wait for the root", func() error {
		st := replStatus(t, b.Node)
		if len(st.InProgress) != 1 || !st.InProgress[0].Active {
			return fmt.Errorf("status %+v", st)
		}
		for _, c := range b.Wantlist() {
			if c.Equals(root) {
				return nil
			}
		}
		return errors.New("root not wanted")
	})
	net.Connect(a, b)
	res := <-got
	if res.err != nil || !bytes.Equal(res.data, data) {
		t.Fatalf("GET at B: %d bytes, %v; want what A wrote", len(res.data), res.err)
	}
	waitBucketComplete(t, "B", b.Node, "rep", 1)
	if m := replMissing(t, b.Blocks.Blockstore(), append(nodes, leaves...)); m != 0 {
		t.Fatalf("B lacks %d blocks", m)
	}
	b1, a1 := must(b.Bitswap.Stat()), must(a.Bitswap.Stat())
	recv, dup, sent := b1.BlocksReceived-b0.BlocksReceived, b1.DupBlksReceived-b0.DupBlksReceived, a1.BlocksSent-a0.BlocksSent
	t.Logf("%d blocks; B received %d (%d duplicate); A sent %d; GET misses %v; replicator fetched %v", total, recv, dup, sent,
		counterVecIn(t, regB, "s3mesh_gateway_block_reads_total", "result", "miss"), counterIn(t, regB, "s3mesh_replication_fetched_blocks_total"))
	if dup != 0 || recv != uint64(total) || sent != uint64(total) {
		t.Errorf("B received %d blocks (%d duplicate) and A sent %d for a DAG of %d: want each block once", recv, dup, sent, total)
	}
	if counterVecIn(t, regB, "s3mesh_gateway_block_reads_total", "result", "miss") == 0 ||
		counterIn(t, regB, "s3mesh_replication_fetched_blocks_total") == 0 {
		t.Errorf("the GET and the replicator did not both wait on the exchange")
	}
}

// counterVecIn returns the value of the counter name{label=value} in reg
// (0 when absent).
func counterVecIn(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// gateExchange serves the blocks of src, but only as many as its budget
// allows; other requests wait until the budget grows or their context
// ends. It records what was asked for and what was served.
type gateExchange struct {
	src     boxobs.Blockstore
	mu      sync.Mutex
	budget  int // blocks it may still serve; negative: any number
	changed chan struct{}
	asked   map[cid.Cid]int
	served  map[cid.Cid]int
}

func newGate(src boxobs.Blockstore, budget int) *gateExchange {
	return &gateExchange{src: src, budget: budget, changed: make(chan struct{}), asked: map[cid.Cid]int{}, served: map[cid.Cid]int{}}
}

// setBudget sets how many more blocks the gate serves (negative: any).
func (g *gateExchange) setBudget(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.budget = n
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *gateExchange) counts(c cid.Cid) (asked, served int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.asked[c], g.served[c]
}

func (g *gateExchange) servedTotal() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, v := range g.served {
		n += v
	}
	return n
}

func (g *gateExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	g.mu.Lock()
	g.asked[c]++
	g.mu.Unlock()
	for {
		g.mu.Lock()
		if err := ctx.Err(); err != nil {
			g.mu.Unlock()
			return nil, err
		}
		if g.budget != 0 {
			if g.budget > 0 {
				g.budget--
			}
			g.served[c]++
			g.mu.Unlock()
			return g.src.Get(ctx, c)
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

func (g *gateExchange) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			if b, err := g.GetBlock(ctx, c); err == nil {
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

func (g *gateExchange) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }
func (g *gateExchange) Close() error                                           { return nil }

// gatedOrigin is a node without peers holding objects written to it, whose
// records the test copies into a gated node's namespace.
type gatedOrigin struct {
	*gateway.Node
	blocks *blockstore.Store
}

func newGatedOrigin(t *testing.T) *gatedOrigin {
	t.Helper()
	dir := t.TempDir()
	bs, err := blockstore.Open(blockstore.Config{Path: filepath.Join(dir, "blocks"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	n, err := gateway.New(gateway.Config{DataDir: dir, NoSync: true, ChunkSize: 1000, Blockstore: bs, MultipartMaxAge: -1})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); bs.Close() })
	if err := n.CreateBucket(context.Background(), s3api.CreateBucketInput{Bucket: "src"}); err != nil {
		t.Fatal(err)
	}
	return &gatedOrigin{Node: n, blocks: bs}
}

// put writes data at the origin and returns its record, to be copied.
func (o *gatedOrigin) put(t *testing.T, key string, data []byte) *gateway.ObjectRecord {
	t.Helper()
	replPut(t, o.Node, "src", key, data)
	rec, err := o.Namespace().GetObject(context.Background(), "src", key)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// gatedNode is a node without pubsub whose exchange is a gate.
type gatedNode struct {
	*gateway.Node
	blocks *blockstore.Store
	once   sync.Once
}

// close closes the node, then its block store. Idempotent.
func (g *gatedNode) close(t *testing.T) {
	g.once.Do(func() {
		if err := g.Node.Close(); err != nil {
			t.Error(err)
		}
		if err := g.blocks.Close(); err != nil {
			t.Error(err)
		}
	})
}

// openGated opens (or reopens) a node in dir whose exchange is gate.
func openGated(t *testing.T, dir string, gate *gateExchange, reg prometheus.Registerer) *gatedNode {
	t.Helper()
	bs, err := blockstore.Open(blockstore.Config{Path: filepath.Join(dir, "blocks"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	n, err := gateway.New(gateway.Config{DataDir: dir, NoSync: true, Blockstore: bs, Exchange: gate, Registerer: reg, MultipartMaxAge: -1})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	g := &gatedNode{Node: n, blocks: bs}
	t.Cleanup(func() { g.close(t) })
	return g
}

// copyRecord makes rec the record of bucket/key at n, as if it had arrived
// from another office.
func copyRecord(t *testing.T, n *gateway.Node, bucket, key string, rec *gateway.ObjectRecord) {
	t.Helper()
	cp := *rec
	cp.Bucket, cp.Key = bucket, key
	if err := n.Namespace().PutObject(context.Background(), &cp, nil); err != nil {
		t.Fatal(err)
	}
}

func replBucketAt(t *testing.T, n *gateway.Node, bucket string, on bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := n.HeadBucket(ctx, bucket); err != nil {
		if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: bucket}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.SetBucketReplicated(ctx, bucket, on); err != nil {
		t.Fatal(err)
	}
}

// waitAsked waits until the gate was asked for c.
func waitAsked(t *testing.T, g *gateExchange, c cid.Cid) {
	t.Helper()
	waitUntil(t, "a request for "+c.String(), func() error {
		if asked, _ := g.counts(c); asked == 0 {
			return errors.New("not asked")
		}
		return nil
	})
}

// TestReplicationResumesAfterRestart: a node stopped mid-object resumes
// from its persistent queue when it starts again (the same entry, with
// its progress) and fetches only the blocks it lacks: no block is ever
// fetched twice.
func TestReplicationResumesAfterRestart(t *testing.T) {
	t.Parallel()
	origin := newGatedOrigin(t)
	rec := origin.put(t, "big", randomBytes(31, 250_000))
	nodes, leaves := replDAG(t, origin.blocks.Blockstore(), rec.Root)
	all := append(append([]cid.Cid{}, nodes...), leaves...)

	dir := t.TempDir()
	const first = 40
	gate1 := newGate(origin.blocks.Blockstore(), first)
	b1 := openGated(t, dir, gate1, nil)
	replBucketAt(t, b1.Node, "rep", true)
	copyRecord(t, b1.Node, "rep", "big", rec)
	wantLocal := int64(first - len(nodes)) // the structure comes first
	var since1 gateway.ObjectReplication
	waitUntil(t, "the first blocks fetched", func() error {
		st := replStatus(t, b1.Node)
		if len(st.InProgress) != 1 || st.InProgress[0].LeavesLocal != wantLocal {
			return fmt.Errorf("status %+v", st)
		}
		since1 = st.InProgress[0]
		return nil
	})
	if since1.LeavesTotal != int64(len(leaves)) || since1.BytesTotal != 250_000 || since1.BytesLocal != wantLocal*1000 {
		t.Fatalf("progress %+v, want %d of %d leaves", since1, wantLocal, len(leaves))
	}
	b1.close(t)

	gate2 := newGate(origin.blocks.Blockstore(), 0)
	reg := prometheus.NewRegistry()
	b2 := openGated(t, dir, gate2, reg)
	st := replStatus(t, b2.Node)
	if len(st.InProgress) != 1 || !st.InProgress[0].Since.Equal(since1.Since) || st.InProgress[0].LeavesLocal < wantLocal {
		t.Fatalf("after restart: %+v; want the entry queued at %v with at least %d leaves local", st, since1.Since, wantLocal)
	}
	if got := replGauge(t, reg, "s3mesh_replication_queue_objects"); got != 1 {
		t.Errorf("queue gauge %v after restart, want 1", got)
	}
	gate2.setBudget(-1)
	waitBucketComplete(t, "B", b2.Node, "rep", 1)
	if m := replMissing(t, b2.blocks.Blockstore(), all); m != 0 {
		t.Fatalf("B lacks %d blocks", m)
	}
	for _, c := range all {
		_, s1 := gate1.counts(c)
		_, s2 := gate2.counts(c)
		if s1+s2 != 1 {
			t.Errorf("block %s fetched %d times before the restart and %d after, want once in all", c, s1, s2)
		}
	}
	if got, want := counterIn(t, reg, "s3mesh_replication_fetched_blocks_total"), float64(len(all)-first); got != want {
		t.Errorf("%v blocks fetched after the restart, want %v", got, want)
	}
	if got := replGauge(t, reg, "s3mesh_replication_pending_bytes"); got != 0 {
		t.Errorf("pending bytes %v once complete", got)
	}
}

// TestReplicationOverwriteStopsFetch: an object overwritten while its
// fetch waits for its root is never fetched; the new version is.
func TestReplicationOverwriteStopsFetch(t *testing.T) {
	t.Parallel()
	origin := newGatedOrigin(t)
	v1 := origin.put(t, "v1", randomBytes(41, 30_000))
	v2 := origin.put(t, "v2", randomBytes(42, 30_000))
	gate := newGate(origin.blocks.Blockstore(), 0)
	bn := openGated(t, t.TempDir(), gate, nil)
	b := bn.Node
	replBucketAt(t, b, "rep", true)
	copyRecord(t, b, "rep", "k", v1)
	root1 := cid.MustParse(v1.Root)
	waitAsked(t, gate, root1)
	copyRecord(t, b, "rep", "k", v2)
	gate.setBudget(-1)
	waitBucketComplete(t, "B", b, "rep", 1)
	n1, l1 := replDAG(t, origin.blocks.Blockstore(), v1.Root)
	n2, l2 := replDAG(t, origin.blocks.Blockstore(), v2.Root)
	for _, c := range append(n1, l1...) {
		if _, served := gate.counts(c); served != 0 {
			t.Errorf("block %s of the overwritten version fetched", c)
		}
	}
	if m := replMissing(t, bn.blocks.Blockstore(), append(n2, l2...)); m != 0 {
		t.Errorf("B lacks %d blocks of the current version", m)
	}
	if st := replStatus(t, b); st.QueuedObjects != 0 || len(st.InProgress) != 0 {
		t.Errorf("status %+v, want nothing queued", st)
	}
}

// TestReplicationBucketOffStopsFetch: unmarking a bucket stops the fetch
// in progress and queues none of the objects written afterwards; another
// replicated bucket goes on.
func TestReplicationBucketOffStopsFetch(t *testing.T) {
	t.Parallel()
	origin := newGatedOrigin(t)
	o1 := origin.put(t, "o1", randomBytes(51, 30_000))
	o2 := origin.put(t, "o2", randomBytes(52, 30_000))
	sentinel := origin.put(t, "s", randomBytes(53, 5_000))
	gate := newGate(origin.blocks.Blockstore(), 0)
	bn := openGated(t, t.TempDir(), gate, nil)
	b := bn.Node
	replBucketAt(t, b, "rep", true)
	replBucketAt(t, b, "other", true)
	copyRecord(t, b, "rep", "o1", o1)
	waitAsked(t, gate, cid.MustParse(o1.Root))
	replBucketAt(t, b, "rep", false)
	copyRecord(t, b, "rep", "o2", o2)
	// Records are queued in the order they arrive: once the sentinel,
	// which arrives after o2, is held, o2 has been handled.
	copyRecord(t, b, "other", "s", sentinel)
	gate.setBudget(-1)
	waitBucketComplete(t, "B", b, "other", 1)
	for _, rec := range []*gateway.ObjectRecord{o1, o2} {
		nodes, leaves := replDAG(t, origin.blocks.Blockstore(), rec.Root)
		for _, c := range append(nodes, leaves...) {
			if _, served := gate.counts(c); served != 0 {
				t.Errorf("block %s of an unreplicated bucket fetched", c)
			}
		}
	}
	st := replStatus(t, b)
	if st.QueuedObjects != 0 || len(st.InProgress) != 0 || len(st.Buckets) != 1 || st.Buckets[0].Name != "other" {
		t.Errorf("status %+v, want only bucket other, nothing queued", st)
	}
	if got := gate.servedTotal(); got == 0 {
		t.Errorf("nothing fetched")
	}
}

// TestReplicatedBucketsConfig: Config.ReplicatedBuckets marks a bucket
// that exists when the node starts, and one created later.
func TestReplicatedBucketsConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	n, err := gateway.New(gateway.Config{DataDir: dir, NoSync: true, MultipartMaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "pre"}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n, err = gateway.New(gateway.Config{DataDir: dir, NoSync: true, MultipartMaxAge: -1, ReplicatedBuckets: []string{"pre", "later"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	replicated := func(name string) func() error {
		return func() error {
			b, err := n.Namespace().GetBucket(ctx, name)
			if err == nil && !b.Replicated {
				err = errors.New("not replicated")
			}
			return err
		}
	}
	waitUntil(t, "pre marked", replicated("pre"))
	if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "later"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "later marked", replicated("later"))
	// A replicated bucket on a node alone: what it writes is complete.
	replPut(t, n, "later", "k", randomBytes(61, 3000))
	waitBucketComplete(t, "the node", n, "later", 1)
}
