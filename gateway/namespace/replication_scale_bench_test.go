package namespace

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/ipfs/go-ds-crdt/pb"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"s3mesh/exchange"
	"s3mesh/gateway/internal/gwtest"
	"s3mesh/s3api"
)

const (
	// scaleObjectsEnv overrides scaleDefaultObjects, for quick runs.
	scaleObjectsEnv     = "S3MESH_SCALE_N"
	scaleDefaultObjects = 100000
	scaleBucket         = "builds"
	// scaleWriters is the number of concurrent writers per node.
	scaleWriters = 4
	// scalePageKeys is the page size of a listing walk (S3's maximum).
	scalePageKeys = 1000
	// scaleWalks is the number of timed walks per namespace (after one
	// untimed warm-up walk); the median is reported.
	scaleWalks = 5
	// scaleOverwritePercent of the keys are overwritten once before the
	// pruning measurement.
	scaleOverwritePercent = 10
	// scaleCatchupProfileEnv, when set, names a file the CPU profile of
	// the catch-up phase alone is written to (not with -cpuprofile).
	scaleCatchupProfileEnv = "S3MESH_SCALE_CATCHUP_CPUPROFILE"
	// scalePoll is how often a wait looks again; scaleProgress how often
	// a long wait logs where it stands.
	scalePoll     = time.Second
	scaleProgress = 30 * time.Second
)

// scaleBound bounds a wait that grows with the object count n: base plus
// perObject for each object.
func scaleBound(n int, base, perObject time.Duration) time.Duration {
	return base + time.Duration(n)*perObject
}

func scaleObjects(b *testing.B) int {
	s := os.Getenv(scaleObjectsEnv)
	if s == "" {
		return scaleDefaultObjects
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 999999 {
		b.Fatalf("%s=%q: want an integer in 1..999999", scaleObjectsEnv, s)
	}
	return n
}

// scaleKey is the key of object i; keys sort in i order.
func scaleKey(i int) string {
	return fmt.Sprintf("builds/2026/11/%06d/artifact-%06d.bin", i, i)
}

// scaleETag is the ETag of generation gen of object i.
func scaleETag(i int, gen uint8) string {
	s := md5.Sum(fmt.Appendf(nil, "%d/%d", i, gen))
	return hex.EncodeToString(s[:])
}

func scaleRecord(i int, gen uint8) *ObjectRecord {
	return &ObjectRecord{
		Bucket: scaleBucket, Key: scaleKey(i), Root: gwtest.EmptyFileCID,
		Size:         1<<20 + int64(i)*7919%(63<<20),
		ETag:         scaleETag(i, gen),
		LastModified: gwtest.FixedTime.Add(time.Duration(i)*time.Millisecond + time.Duration(gen)*time.Hour),
		ContentType:  "application/octet-stream",
	}
}

// scaleWrite writes the records of objects idx (generation gen[i] of
// object i), position j at nss[j%len(nss)], with writers concurrent
// writers per namespace, and returns the elapsed time.
func scaleWrite(b *testing.B, nss []Namespace, writers int, idx []int, gen []uint8) time.Duration {
	b.Helper()
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	stride := len(nss) * writers
	start := time.Now()
	for ni, ns := range nss {
		for w := range writers {
			wg.Go(func() {
				for j := ni + len(nss)*w; j < len(idx); j += stride {
					i := idx[j]
					if err := ns.PutObject(ctx, scaleRecord(i, gen[i]), nil); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
				}
			})
		}
	}
	wg.Wait()
	d := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	return d
}

// scaleWalk lists the bucket at ns the way an S3 ListObjectsV2 walk does:
// pages of scalePageKeys, each continuing after the last key of the
// previous one. visit, when not nil, sees every object.
func scaleWalk(ns Namespace, visit func(*s3api.ObjectInfo)) (keys, pages int, err error) {
	ctx := context.Background()
	in := s3api.ListObjectsInput{Bucket: scaleBucket, MaxKeys: scalePageKeys}
	for {
		res, err := List(ctx, ns, in)
		if err != nil {
			return keys, pages, err
		}
		pages++
		keys += len(res.Objects)
		if visit != nil {
			for i := range res.Objects {
				visit(&res.Objects[i])
			}
		}
		if !res.IsTruncated {
			return keys, pages, nil
		}
		in.After = res.NextAfter
	}
}

// scaleCheck walks ns and returns nil when it lists exactly the
// expected objects (object i with generation gen[i]'s ETag), in order.
func scaleCheck(ns Namespace, gen []uint8) error {
	var unexpected, stale, unordered int
	prev := ""
	keys, _, err := scaleWalk(ns, func(o *s3api.ObjectInfo) {
		if o.Key <= prev {
			unordered++
		}
		prev = o.Key
		i, err := strconv.Atoi(strings.TrimSuffix(o.Key[strings.LastIndexByte(o.Key, '-')+1:], ".bin"))
		switch {
		case err != nil || i < 0 || i >= len(gen) || o.Key != scaleKey(i):
			unexpected++
		case o.ETag != scaleETag(i, gen[i]):
			stale++
		}
	})
	if err != nil {
		return err
	}
	if keys != len(gen) || unexpected+stale+unordered > 0 {
		return fmt.Errorf("lists %d of %d keys (%d unexpected, %d stale, %d out of order)", keys, len(gen), unexpected, stale, unordered)
	}
	return nil
}

// scaleWaitFor polls cond every scalePoll until it returns nil and
// returns how long that took. It fails b after bound, and logs cond's
// error every scaleProgress: cond's detail argument is true on those
// polls (and the last), when its error may cost more to describe.
func scaleWaitFor(b *testing.B, what string, bound time.Duration, cond func(detail bool) error) time.Duration {
	b.Helper()
	start := time.Now()
	logged := start
	for {
		elapsed := time.Since(start)
		detail := time.Since(logged) >= scaleProgress || elapsed > bound
		err := cond(detail)
		if err == nil {
			return time.Since(start)
		}
		if elapsed > bound {
			b.Fatalf("%s: not within %s: %v", what, bound, err)
		}
		if detail {
			b.Logf("%s: %s so far: %v", what, elapsed.Round(time.Second), err)
			logged = time.Now()
		}
		time.Sleep(scalePoll)
	}
}

// scaleNodeState describes a node while waiting for it.
func scaleNodeState(p *crdtPeer) string {
	st := p.ns.crdtDS().InternalStats(context.Background())
	blocks, _, _ := scaleBlocks(p.blocks)
	return fmt.Sprintf("%d heads, height %d, %d queued jobs, %d blocks", len(st.Heads), st.MaxHeight, st.QueuedJobs, blocks)
}

// scaleCount counts the keys of the bucket at ns without decoding their
// records: cheaper than scaleCheck, to poll with.
func scaleCount(ns Namespace) (int, error) {
	it, err := ns.Objects(context.Background(), scaleBucket, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for it.Next() {
		n++
	}
	return n, errors.Join(it.Err(), it.Close())
}

// scaleConverged returns a wait condition: every peer lists exactly the
// expected objects. A peer holding fewer or more keys than expected is
// not walked.
func scaleConverged(peers []*crdtPeer, gen []uint8) func(bool) error {
	return func(detail bool) error {
		var errs []error
		for _, p := range peers {
			c, err := scaleCount(p.ns)
			if err == nil && c != len(gen) {
				err = fmt.Errorf("holds %d of %d keys", c, len(gen))
			}
			if err == nil {
				err = scaleCheck(p.ns, gen)
			}
			if err != nil {
				if detail {
					err = fmt.Errorf("%v [%s]", err, scaleNodeState(p))
				}
				errs = append(errs, fmt.Errorf("%s %w", p.name, err))
			}
		}
		return errors.Join(errs...)
	}
}

// scaleSameHeads returns a wait condition: every peer has the same heads.
func scaleSameHeads(peers []*crdtPeer) func(bool) error {
	return func(bool) error {
		ctx := context.Background()
		var first []string
		for _, p := range peers {
			var hs []string
			for _, h := range p.ns.crdtDS().InternalStats(ctx).Heads {
				hs = append(hs, h.String())
			}
			slices.Sort(hs)
			if first == nil {
				first = hs
			} else if !slices.Equal(hs, first) {
				return fmt.Errorf("%s has %d heads, %s has %d, not all the same", peers[0].name, len(first), p.name, len(hs))
			}
		}
		return nil
	}
}

// scaleBlocks returns the number and total size of the blocks in bs.
func scaleBlocks(bs boxobs.Blockstore) (blocks int, size int64, err error) {
	ctx := context.Background()
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		return 0, 0, err
	}
	for c := range ch {
		n, err := bs.GetSize(ctx, c)
		if err != nil {
			return 0, 0, err
		}
		blocks++
		size += int64(n)
	}
	return blocks, size, nil
}

// scaleDAGShape describes the CRDT's DAG of deltas as held in a block
// store.
type scaleDAGShape struct {
	blocks     int
	bytes      int64
	links      int // total links
	maxLinks   int // most links of one delta
	levels     int // distinct heights (priorities)
	maxWidth   int // most deltas at one height
	elements   int // entries added, over all deltas
	tombstones int // entries removed, over all deltas
}

func scaleDAG(b *testing.B, bs boxobs.Blockstore) scaleDAGShape {
	b.Helper()
	ctx := context.Background()
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var s scaleDAGShape
	width := map[uint64]int{}
	for c := range ch {
		blk, err := bs.Get(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		nd, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			b.Fatalf("block %s: %v", c, err)
		}
		var d pb.Delta
		if err := proto.Unmarshal(nd.Data(), &d); err != nil {
			b.Fatalf("delta %s: %v", c, err)
		}
		s.blocks++
		s.bytes += int64(len(blk.RawData()))
		s.links += len(nd.Links())
		s.maxLinks = max(s.maxLinks, len(nd.Links()))
		s.elements += len(d.Elements)
		s.tombstones += len(d.Tombstones)
		width[d.Priority]++
	}
	s.levels = len(width)
	for _, w := range width {
		s.maxWidth = max(s.maxWidth, w)
	}
	return s
}

func (s scaleDAGShape) String() string {
	return fmt.Sprintf("%d deltas, %d bytes (%.0f B/delta), %.2f links/delta (max %d), %d heights, at most %d deltas at one height, %d entries added, %d removed",
		s.blocks, s.bytes, float64(s.bytes)/float64(max(s.blocks, 1)), float64(s.links)/float64(max(s.blocks, 1)), s.maxLinks, s.levels, s.maxWidth, s.elements, s.tombstones)
}

// scaleCompact flushes and compacts the whole of db, so that its
// directory holds the data once, compressed, in sstables.
func scaleCompact(b *testing.B, db *pebble.DB) {
	b.Helper()
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(context.Background(), []byte{0}, bytes.Repeat([]byte{0xff}, 16), true); err != nil {
		b.Fatal(err)
	}
}

// scaleDirBytes returns the total size of the files under dir (the
// database of db), the size of db's live sstables and a summary (the
// directory's sstables, WAL and other files; db's live, obsolete and
// zombie sstables). Files Pebble deletes during the walk are skipped.
func scaleDirBytes(b *testing.B, db *pebble.DB, dir string) (total, live int64, summary string) {
	b.Helper()
	var sst, wal int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += fi.Size()
		switch filepath.Ext(path) {
		case ".sst":
			sst += fi.Size()
		case ".log":
			wal += fi.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	t := db.Metrics().Table.Local
	return total, int64(t.LiveSize), fmt.Sprintf("%d B: %d sstables (live %d, obsolete %d, zombie %d), %d WAL, %d other",
		total, sst, t.LiveSize, t.ObsoleteSize, t.ZombieSize, wal, total-sst-wal)
}

// scaleKeyClasses are the kinds of keys in a namespace database, by
// prefix (the first match wins): the CRDT's state (go-ds-crdt under
// /crdt), the index the namespace serves reads from, and its own state.
var scaleKeyClasses = []struct{ prefix, name string }{
	{"/crdt/s/s/", "crdt elements (one per entry ever added)"},
	{"/crdt/s/t/", "crdt tombstones (one per entry ever removed)"},
	{"/crdt/s/k/", "crdt values and priorities (live entries)"},
	{"/crdt/b/", "crdt processed-delta marks (one per delta)"},
	{"/crdt/h/", "crdt heads"},
	{"/crdt/", "crdt other"},
	{"o/", "index: object records (o/)"},
	{"v/", "index: winning entries (v/)"},
	{"s/", "index: prune queue (s/)"},
	{"", "index: other"},
}

// scaleLogical sums the key and value bytes of db by key class (before
// Pebble's compression) and returns the CRDT's and the index's totals and
// a table.
func scaleLogical(b *testing.B, db *pebble.DB) (crdtBytes, indexBytes int64, table string) {
	b.Helper()
	it, err := db.NewIter(nil)
	if err != nil {
		b.Fatal(err)
	}
	count := make([]int, len(scaleKeyClasses))
	size := make([]int64, len(scaleKeyClasses))
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			b.Fatal(err)
		}
		for c, kc := range scaleKeyClasses {
			if bytes.HasPrefix(k, []byte(kc.prefix)) {
				count[c]++
				size[c] += int64(len(k) + len(v))
				break
			}
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	for c, kc := range scaleKeyClasses {
		if count[c] == 0 {
			continue
		}
		fmt.Fprintf(&sb, "\n\t\t%-45s %8d keys %11d B", kc.name, count[c], size[c])
		if strings.HasPrefix(kc.prefix, "/crdt/") {
			crdtBytes += size[c]
		} else {
			indexBytes += size[c]
		}
	}
	return crdtBytes, indexBytes, sb.String()
}

// scaleBitswap returns the Bitswap counters of p.
func scaleBitswap(b *testing.B, p *crdtPeer) *bitswap.Stat {
	b.Helper()
	bs, ok := p.ex.Exchange().(interface{ Stat() (*bitswap.Stat, error) })
	if !ok {
		b.Fatalf("%s: the exchange has no Bitswap Stat", p.name)
	}
	st, err := bs.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// scaleCounter returns the value of the counter name in reg (0 when
// absent).
func scaleCounter(b *testing.B, reg *prometheus.Registry, name string) float64 {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// openScaleJoiner opens an empty crdtPeer like crdtPeer.open does, except
// that its exchange registers its metrics (libp2p's bandwidth counter and
// Bitswap's) in p.reg, beside the namespace's.
//
// foldHeight is CRDTConfig.FoldHeight (-1: the node never folds).
func openScaleJoiner(b *testing.B, name string, foldHeight int) *crdtPeer {
	b.Helper()
	k, err := exchange.LoadOrCreateIdentity(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	p := &crdtPeer{
		name: name, key: k, dir: b.TempDir(), reg: prometheus.NewRegistry(),
		blocks: boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())),
	}
	ex, err := exchange.New(exchange.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Registerer: p.reg}, p.key, p.blocks)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, ex.Host())
	if err != nil {
		cancel()
		ex.Close()
		b.Fatal(err)
	}
	p.ex, p.ps, p.psCancel = ex, ps, cancel
	p.dag = merkledag.NewDAGService(blockservice.New(p.blocks, ex.Exchange()))
	b.Cleanup(func() { p.close(b) })
	// The configuration crdtPeer.open uses.
	p.ns, err = OpenCRDTNamespace(CRDTConfig{
		Dir: p.dir, NodeID: p.ex.ID().String(), Network: crdtTestNetwork, NoSync: true,
		RebroadcastInterval: time.Second, DAGSyncTimeout: 10 * time.Second,
		PruneGrace: time.Nanosecond, PruneInterval: -1, Registerer: p.reg, FoldHeight: foldHeight,
	}, p.ps, p.dag)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// openScaleSolo opens a CRDTNamespace with no peers (no PubSub, offline
// DAG service).
func openScaleSolo(b *testing.B) *CRDTNamespace {
	b.Helper()
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	ns, err := OpenCRDTNamespace(CRDTConfig{Dir: b.TempDir(), NodeID: "solo", NoSync: true, PruneInterval: -1}, nil, dag)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	return ns
}

// scaleBusy returns the Go runtime's estimate of the CPU time the
// process has used so far (available CPU time, GOMAXPROCS times the wall
// time, less the time no goroutine ran): with scaleCPUShare, it tells a
// phase bound by CPU from one bound by waiting.
func scaleBusy() time.Duration {
	s := []rtmetrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindFloat64 || s[1].Value.Kind() != rtmetrics.KindFloat64 {
		return 0
	}
	return time.Duration((s[0].Value.Float64() - s[1].Value.Float64()) * float64(time.Second))
}

// scaleCPUShare returns the share of the machine's CPUs (GOMAXPROCS) the
// process used over wall, given the scaleBusy difference busy.
func scaleCPUShare(busy, wall time.Duration) float64 {
	return float64(busy) / float64(wall) / float64(runtime.GOMAXPROCS(0))
}

// scaleStage is the state of a node's namespace storage and DAG at one
// stage of the benchmark.
type scaleStage struct {
	dir, sst       int64 // database directory, its live sstables
	crdt, index    int64 // key and value bytes
	table, dirLine string
	blocks         int
	deltaBytes     int64
	heads          int
	height         uint64
}

func scaleMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func scaleMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkNamespaceScale measures the replicated namespace at scale, in
// one run (use -benchtime 1x; S3MESH_SCALE_N sets the object count N,
// 100,000 by default):
//
//   - Writes: three crdtPeers (real libp2p hosts on loopback, GossipSub,
//     Bitswap, go-ds-crdt; crdtnet_test.go) and a bucket; N object records
//     are written round-robin across the three nodes, scaleWriters
//     concurrent writers per node. Reported: write throughput, and the
//     time from the last write returning until all three list exactly the
//     N keys with their ETags (convergence).
//   - Listing: a full ListObjectsV2-style walk (pages of 1,000 through
//     listObjects, each continuing after the last key) at each node, at a
//     plain PebbleNamespace holding the same N records (no replication)
//     and at a CRDTNamespace with no peers; the median of scaleWalks walks
//     after a warm-up, and the ratio of the slowest replicated node to
//     the plain namespace (the aim is at most 2).
//   - Storage: the namespace database directory (after a flush and a full
//     compaction) per object at a replicated node and at the plain
//     namespace, with the key and value bytes by kind of key; the delta
//     blocks in each node's block store per object.
//   - DAG: heads and height at each node, the shape of the DAG.
//   - Catch-up: an empty fourth node joins; the time until it lists all N
//     keys and the bytes it received (libp2p transport total, Bitswap's
//     block bytes, and its block store's growth).
//   - Pruning: 10% of the keys are overwritten once, each at another node
//     than its first writer; Prune runs at every node until it has nothing
//     left; reported: entries pruned and the DAG and storage before and
//     after (pruning removes values, never deltas: the DAG only grows).
//
// Convergence and catch-up are reported with the share of the CPUs the
// process used meanwhile (the Go runtime's estimate): both are bound by
// waiting, not by CPU. go-ds-crdt walks the DAG from the heads down, and
// fetches a delta's children only once it has processed the delta, so
// the walk takes about one Bitswap round trip per DAG height level;
// Bitswap's client sends at most one message per peer every 20 ms
// (boxo's minSendMessageDelay), so a round trip costs up to 20 ms, less
// when the session spreads its wants over several peers. The DAG's height
// grows with the writes (about one level per few concurrent writes), and
// nothing removes deltas. S3MESH_SCALE_CATCHUP_CPUPROFILE=file writes a
// CPU profile of the catch-up alone.
//
// Waits poll every scalePoll; a wait's figure includes up to that much
// and one walk of the bucket. Every wait is bounded; the benchmark fails
// if a node does not converge to exactly the N keys (and, after the
// overwrites, their new ETags).
//
//	S3MESH_SCALE_N=5000 go test -run '^$' -bench NamespaceScale -benchtime 1x ./gateway/
//	go test -run '^$' -bench NamespaceScale -benchtime 1x -timeout 60m ./gateway/
func BenchmarkNamespaceScale(b *testing.B) {
	n := scaleObjects(b)
	ctx := context.Background()
	convergeBound := scaleBound(n, 2*time.Minute, 10*time.Millisecond)
	catchupBound := scaleBound(n, 2*time.Minute, 12*time.Millisecond)

	for b.Loop() {
		// The baseline without epochs: no node folds (see
		// BenchmarkNamespaceJoin for joins from a snapshot).
		peers := newCrdtPeers(b, 3)
		for _, p := range peers {
			p.close(b)
			p.mod = func(c *CRDTConfig) { c.FoldHeight = -1 }
			p.open(b)
		}
		connectCrdtPeers(b, peers)
		nss := []Namespace{peers[0].ns, peers[1].ns, peers[2].ns}
		if err := peers[0].ns.CreateBucket(ctx, BucketRecord{Name: scaleBucket, Location: "berlin", Created: gwtest.FixedTime}); err != nil {
			b.Fatal(err)
		}
		waitFor(b, "bucket everywhere", func() error {
			for _, p := range peers {
				if _, err := p.ns.GetBucket(ctx, scaleBucket); err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
			}
			return nil
		})
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		gen := make([]uint8, n)

		// Writes.
		bsBefore := make([]*bitswap.Stat, len(peers))
		for i, p := range peers {
			bsBefore[i] = scaleBitswap(b, p)
		}
		busy0 := scaleBusy()
		writeTime := scaleWrite(b, nss, scaleWriters, all, gen)
		busy1 := scaleBusy()
		b.Logf("writes: %d records at 3 nodes (%d writers each) in %s: %.0f records/s", n, scaleWriters, writeTime.Round(time.Millisecond), float64(n)/writeTime.Seconds())
		for _, p := range peers {
			b.Logf("\t%s after the writes: %s", p.name, scaleNodeState(p))
		}
		convergeTime := scaleWaitFor(b, "three nodes list the N keys", convergeBound, scaleConverged(peers, gen))
		busy2 := scaleBusy()
		b.Logf("CPU use (Go runtime estimate, %d CPUs): %.0f%% during the writes, %.0f%% during convergence (polling included)",
			runtime.GOMAXPROCS(0), 100*scaleCPUShare(busy1-busy0, writeTime), 100*scaleCPUShare(busy2-busy1, convergeTime))
		b.ReportMetric(scaleCPUShare(busy2-busy1, convergeTime), "converge-cpu-share")
		b.Logf("convergence: all three list exactly %d keys %s after the last write returned", n, convergeTime.Round(time.Millisecond))
		for i, p := range peers {
			st := scaleBitswap(b, p)
			b.Logf("\t%s Bitswap during writes: received %d blocks (%d B, %d duplicates), sent %d blocks (%d B)", p.name,
				st.BlocksReceived-bsBefore[i].BlocksReceived, st.DataReceived-bsBefore[i].DataReceived,
				st.DupBlksReceived-bsBefore[i].DupBlksReceived, st.BlocksSent-bsBefore[i].BlocksSent, st.DataSent-bsBefore[i].DataSent)
		}
		b.ReportMetric(float64(n)/writeTime.Seconds(), "write-rec/s")
		b.ReportMetric(convergeTime.Seconds(), "converge-s")

		// The same records in a plain PebbleNamespace and in a
		// CRDTNamespace without peers, written with the same total
		// concurrency.
		plainDir := b.TempDir()
		plain, err := OpenPebbleNamespace(PebbleNamespaceConfig{Dir: plainDir, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { plain.Close() })
		solo := openScaleSolo(b)
		var plainWrite, soloWrite time.Duration
		for _, ns := range []Namespace{plain, solo} {
			if err := ns.CreateBucket(ctx, BucketRecord{Name: scaleBucket, Location: "berlin", Created: gwtest.FixedTime}); err != nil {
				b.Fatal(err)
			}
		}
		plainWrite = scaleWrite(b, []Namespace{plain}, 3*scaleWriters, all, gen)
		soloWrite = scaleWrite(b, []Namespace{solo}, 3*scaleWriters, all, gen)
		for name, ns := range map[string]Namespace{"plain": plain, "solo-crdt": solo} {
			if err := scaleCheck(ns, gen); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
		}
		b.Logf("writes with no replication (%d writers): plain Pebble %.0f records/s, CRDT without peers %.0f records/s",
			3*scaleWriters, float64(n)/plainWrite.Seconds(), float64(n)/soloWrite.Seconds())
		b.ReportMetric(float64(n)/plainWrite.Seconds(), "write-rec/s/plain")
		b.ReportMetric(float64(n)/soloWrite.Seconds(), "write-rec/s/solo-crdt")

		// Listing.
		type target struct {
			name string
			ns   Namespace
		}
		targets := []target{{"plain", plain}, {"solo-crdt", solo}}
		for _, p := range peers {
			targets = append(targets, target{"node-" + p.name, p.ns})
		}
		walkAll := func(label string) map[string]time.Duration {
			times := map[string][]time.Duration{}
			for r := range scaleWalks + 1 {
				for _, t := range targets {
					start := time.Now()
					keys, pages, err := scaleWalk(t.ns, nil)
					d := time.Since(start)
					if err != nil || keys != n || pages != (n+scalePageKeys-1)/scalePageKeys {
						b.Fatalf("%s walk of %s: %d keys in %d pages, %v", label, t.name, keys, pages, err)
					}
					if r > 0 {
						times[t.name] = append(times[t.name], d)
					}
				}
			}
			med := map[string]time.Duration{}
			for _, t := range targets {
				med[t.name] = scaleMedian(times[t.name])
			}
			return med
		}
		walk := walkAll("")
		var worst time.Duration
		var walkLine strings.Builder
		for _, t := range targets {
			fmt.Fprintf(&walkLine, " %s %.1f ms,", t.name, scaleMs(walk[t.name]))
			b.ReportMetric(scaleMs(walk[t.name]), "walk-ms/"+t.name)
			if strings.HasPrefix(t.name, "node-") {
				worst = max(worst, walk[t.name])
			}
		}
		ratio := float64(worst) / float64(walk["plain"])
		b.Logf("full walk of %d keys in %d pages (median of %d):%s slowest replicated / plain = %.2f (aim: <= 2)",
			n, (n+scalePageKeys-1)/scalePageKeys, scaleWalks, strings.TrimSuffix(walkLine.String(), ","), ratio)
		b.ReportMetric(scaleMs(worst), "walk-ms/replicated")
		b.ReportMetric(scaleMs(walk["plain"]), "walk-ms/plain")
		b.ReportMetric(ratio, "walk-ratio")

		// Storage, after a flush and a full compaction.
		a := peers[0]
		scaleCompact(b, a.ns.idx.db)
		scaleCompact(b, plain.db)
		scaleCompact(b, solo.idx.db)
		replDir, replSST, replDirLine := scaleDirBytes(b, a.ns.idx.db, a.dir)
		plainBytes, plainSST, plainDirLine := scaleDirBytes(b, plain.db, plainDir)
		crdtLogical, indexLogical, table := scaleLogical(b, a.ns.idx.db)
		_, plainLogical, _ := scaleLogical(b, plain.db)
		b.Logf("storage: namespace database of node %s: %s = %.0f B/object; plain Pebble: %s = %.0f B/object",
			a.name, replDirLine, float64(replDir)/float64(n), plainDirLine, float64(plainBytes)/float64(n))
		b.Logf("\tnode %s key+value bytes before compression: CRDT %.0f B/object, index %.0f B/object (plain Pebble: %.0f B/object):%s",
			a.name, float64(crdtLogical)/float64(n), float64(indexLogical)/float64(n), float64(plainLogical)/float64(n), table)
		written := scaleStage{dir: replDir, sst: replSST, crdt: crdtLogical, index: indexLogical}
		b.ReportMetric(float64(replDir)/float64(n), "bytes/object-index")
		b.ReportMetric(float64(plainBytes)/float64(n), "bytes/object-plain")
		b.ReportMetric(float64(replSST)/float64(n), "live-sst-bytes/object-index")
		b.ReportMetric(float64(plainSST)/float64(n), "live-sst-bytes/object-plain")
		b.ReportMetric(float64(crdtLogical+indexLogical)/float64(n), "kv-bytes/object-index")
		b.ReportMetric(float64(plainLogical)/float64(n), "kv-bytes/object-plain")

		// The CRDT's DAG.
		var maxHeads int
		var maxHeight uint64
		var shape scaleDAGShape
		for i, p := range peers {
			st := p.ns.crdtDS().InternalStats(ctx)
			blocks, size, err := scaleBlocks(p.blocks)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("DAG at %s: %d heads, height %d; block store %d delta blocks, %d B = %.0f B/object", p.name,
				len(st.Heads), st.MaxHeight, blocks, size, float64(size)/float64(n))
			maxHeads, maxHeight = max(maxHeads, len(st.Heads)), max(maxHeight, st.MaxHeight)
			if i == 0 {
				written.blocks, written.deltaBytes, written.heads, written.height = blocks, size, len(st.Heads), st.MaxHeight
				shape = scaleDAG(b, p.blocks)
				b.Logf("\tshape: %s", shape)
			}
		}
		b.ReportMetric(float64(shape.bytes)/float64(n), "delta-bytes/object")
		b.ReportMetric(float64(shape.blocks), "delta-blocks")
		b.ReportMetric(float64(shape.blocks)/float64(n+1), "delta-blocks/write")
		b.ReportMetric(float64(maxHeads), "heads")
		b.ReportMetric(float64(maxHeight), "height")

		// Catch-up of an empty fourth node.
		d := openScaleJoiner(b, "D", -1)
		before := make([]*bitswap.Stat, len(peers))
		for i, p := range peers {
			before[i] = scaleBitswap(b, p)
		}
		inBefore := scaleCounter(b, d.reg, "s3mesh_exchange_transport_received_bytes_total")
		outBefore := scaleCounter(b, d.reg, "s3mesh_exchange_transport_sent_bytes_total")
		_, dBytesBefore, err := scaleBlocks(d.blocks)
		if err != nil {
			b.Fatal(err)
		}
		if path := os.Getenv(scaleCatchupProfileEnv); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatalf("%s: %v (not with -cpuprofile)", scaleCatchupProfileEnv, err)
			}
			b.Cleanup(func() { f.Close() })
		}
		busy0 = scaleBusy()
		start := time.Now()
		peers = append(peers, d)
		connectCrdtPeers(b, peers)
		scaleWaitFor(b, "D catches up", catchupBound, scaleConverged(peers[3:], gen))
		catchup := time.Since(start)
		catchupShare := scaleCPUShare(scaleBusy()-busy0, catchup)
		if os.Getenv(scaleCatchupProfileEnv) != "" {
			pprof.StopCPUProfile()
		}
		in := scaleCounter(b, d.reg, "s3mesh_exchange_transport_received_bytes_total") - inBefore
		out := scaleCounter(b, d.reg, "s3mesh_exchange_transport_sent_bytes_total") - outBefore
		dBlocks, dBytes, err := scaleBlocks(d.blocks)
		if err != nil {
			b.Fatal(err)
		}
		dst := scaleBitswap(b, d)
		dStats := d.ns.crdtDS().InternalStats(ctx)
		var served strings.Builder
		for i, p := range peers[:3] {
			st := scaleBitswap(b, p)
			fmt.Fprintf(&served, " %s %d blocks (%d B),", p.name, st.BlocksSent-before[i].BlocksSent, st.DataSent-before[i].DataSent)
		}
		b.Logf("catch-up: empty node D lists all %d keys %s after connecting (%.1f deltas/s, %.2f ms per DAG height level; D: %d heads, height %d)",
			n, catchup.Round(time.Millisecond), float64(dBlocks)/catchup.Seconds(), scaleMs(catchup)/float64(max(dStats.MaxHeight, 1)), len(dStats.Heads), dStats.MaxHeight)
		b.Logf("\tD received %.0f B over libp2p (all protocols; sent %.0f B); Bitswap: %d blocks, %d B of blocks (%d duplicate blocks, %d B); block store +%d blocks, +%d B",
			in, out, dst.BlocksReceived, dst.DataReceived, dst.DupBlksReceived, dst.DupDataReceived, dBlocks, dBytes-dBytesBefore)
		b.Logf("\tBitswap served to D:%s", strings.TrimSuffix(served.String(), ","))
		b.Logf("\tCPU use during the catch-up (Go runtime estimate, all nodes and polling): %.0f%% of %d CPUs", 100*catchupShare, runtime.GOMAXPROCS(0))
		b.ReportMetric(catchupShare, "catchup-cpu-share")
		b.ReportMetric(catchup.Seconds(), "catchup-s")
		b.ReportMetric(in/1e6, "catchup-MB")
		b.ReportMetric(float64(dBytes-dBytesBefore)/1e6, "catchup-delta-MB")
		b.ReportMetric(float64(dBlocks)/catchup.Seconds(), "catchup-deltas/s")
		b.ReportMetric(scaleMs(catchup)/float64(max(dStats.MaxHeight, 1)), "catchup-ms/level")

		// Overwrites and pruning. Object i is overwritten at the node
		// after its first writer, i%3, which then holds a superseded
		// entry to prune.
		var over []int
		for i := 0; i < n; i += 100 / scaleOverwritePercent {
			over = append(over, i)
			gen[i] = 1
		}
		overTime := scaleWrite(b, []Namespace{nss[1], nss[2], nss[0]}, scaleWriters, over, gen)
		scaleWaitFor(b, "four nodes list the overwrites", convergeBound, scaleConverged(peers, gen))
		scaleWaitFor(b, "four nodes have the same heads", convergeBound, scaleSameHeads(peers))
		b.Logf("overwrites: %d keys overwritten in %s", len(over), overTime.Round(time.Millisecond))
		stage := func() scaleStage {
			scaleCompact(b, a.ns.idx.db)
			var st scaleStage
			st.dir, st.sst, st.dirLine = scaleDirBytes(b, a.ns.idx.db, a.dir)
			st.crdt, st.index, st.table = scaleLogical(b, a.ns.idx.db)
			var err error
			if st.blocks, st.deltaBytes, err = scaleBlocks(a.blocks); err != nil {
				b.Fatal(err)
			}
			cs := a.ns.crdtDS().InternalStats(ctx)
			st.heads, st.height = len(cs.Heads), cs.MaxHeight
			return st
		}
		overwritten := stage()
		pruned := 0
		for _, p := range peers {
			for {
				c, err := p.ns.Prune(ctx)
				if err != nil {
					b.Fatalf("prune at %s: %v", p.name, err)
				}
				pruned += c
				if c == 0 {
					break
				}
			}
		}
		if pruned != len(over) {
			b.Errorf("pruned %d entries, want %d (one superseded entry per overwritten key)", pruned, len(over))
		}
		scaleWaitFor(b, "four nodes have the same heads after pruning", convergeBound, scaleSameHeads(peers))
		scaleWaitFor(b, "four nodes list the N keys after pruning", convergeBound, scaleConverged(peers, gen))
		afterPrune := stage()
		b.Logf("pruning: %d entries pruned (at the nodes that wrote them). Node %s:", pruned, a.name)
		b.Logf("	%-28s %12s %12s %12s", "", "N writes", "+overwrites", "+prune")
		for _, row := range []struct {
			name string
			get  func(scaleStage) int64
		}{
			{"delta blocks", func(s scaleStage) int64 { return int64(s.blocks) }},
			{"delta bytes", func(s scaleStage) int64 { return s.deltaBytes }},
			{"DAG height", func(s scaleStage) int64 { return int64(s.height) }},
			{"heads", func(s scaleStage) int64 { return int64(s.heads) }},
			{"database bytes (dir)", func(s scaleStage) int64 { return s.dir }},
			{"live sstable bytes", func(s scaleStage) int64 { return s.sst }},
			{"CRDT key+value bytes", func(s scaleStage) int64 { return s.crdt }},
			{"index key+value bytes", func(s scaleStage) int64 { return s.index }},
		} {
			b.Logf("	%-28s %12d %12d %12d", row.name, row.get(written), row.get(overwritten), row.get(afterPrune))
		}
		b.Logf("	key+value bytes after the overwrites:%s", overwritten.table)
		b.Logf("	key+value bytes after pruning:%s", afterPrune.table)
		b.ReportMetric(float64(pruned), "pruned")
		b.ReportMetric(float64(afterPrune.blocks-overwritten.blocks), "prune-delta-blocks")
		b.ReportMetric(float64(afterPrune.deltaBytes-overwritten.deltaBytes), "prune-delta-bytes")
		b.ReportMetric(float64(afterPrune.sst-overwritten.sst), "prune-live-sst-bytes")
		b.ReportMetric(float64(afterPrune.crdt-overwritten.crdt), "prune-crdt-kv-bytes")
	}
}
