package replicate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/fetch"
	"s3mesh/gateway/namespace"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"

	s3exchange "s3mesh/exchange"
	"s3mesh/s3api/s3err"
)

// errReplStalled is the cause an attempt is stopped with when no block
// arrived within Config.FetchTimeout.
var errReplStalled = errors.New("no block arrived from any peer within the fetch timeout")

// errReplIncomplete marks an attempt that fetched every block but found
// some missing afterwards: a garbage collection that ran meanwhile did not
// see them as live yet (see fetchObject).
var errReplIncomplete = errors.New("blocks missing after the fetch")

// maxReplDepth bounds the depth of a DAG the replicator walks.
const maxReplDepth = 64

// replLeaf is a raw leaf of an object's DAG and its size.
type replLeaf struct {
	c    cid.Cid
	size int64
}

// replFetch is one attempt at fetching one object.
type replFetch struct {
	r      *Replicator
	a      *replActive
	writer string          // the record's writer, "" when unknown
	ctx    context.Context // the attempt's
	read   *fetch.Read     // the attempt's read through the node's fetcher
	// last is when a block last arrived from the exchange, or when the
	// attempt started waiting for one (Unix ns); waiting counts the
	// blocks being fetched from the exchange.
	last    atomic.Int64
	waiting atomic.Int64

	leaves []replLeaf
	nodes  []cid.Cid // the dag-pb nodes, all local once structure returns
	// inline is the file bytes held in dag-pb nodes; pbLeaves counts the
	// dag-pb nodes without links (leaves of DAGs without raw leaves).
	inline, pbLeaves int64
}

// fetchObject makes every block of the object's DAG local, in one Bitswap
// session (one per attempt):
//
//  1. the record is checked: still root, bucket still replicated;
//  2. the root and every dag-pb node below it are fetched (the structure:
//     small, about one block per 174 leaves), level by level, up to
//     Config.ReplicationWindow at once, which lists the raw leaves in file
//     order;
//  3. the leaves missing locally are fetched in this node's order (see
//     stripe), at most Config.ReplicationWindow in flight: by
//     Config.Swarm when set (see replFetch.swarm; the node's first
//     stretch of leaves is its share), otherwise through the session;
//     each is stored as it arrives;
//  4. every block is checked to be local again.
//
// Step 4 closes a race with GC: GC marks a live DAG through the blocks it
// finds stored, so leaves under a dag-pb node fetched after GC looked for
// it may be swept; the check finds them and the object is fetched again
// (it stays queued). Every replSaveEvery the progress is saved and the
// record checked again; an attempt during which no block arrives for
// Config.FetchTimeout stops with errReplStalled. The error, when ctx ends
// first, is its cause.
//
// A GET of the object meanwhile reads through its own session. Neither
// asks peers for a block the other is fetching: the node's exchange
// (onceExchange) lets a read wait for a fetch in flight, and stores the
// block before that fetch ends, so a read that starts later finds it
// locally. Bitswap alone (one want per block and peer across sessions) is
// not enough: see onceExchange.
func (r *Replicator) fetchObject(ctx context.Context, bucket, key string, e replEntry, a *replActive) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := r.current(ctx, bucket, key, e.Root); err != nil {
		return err
	}
	root, err := cid.Decode(e.Root)
	if err != nil {
		return fmt.Errorf("%w: record root %q: %v", errReplDropped, e.Root, err)
	}
	f := &replFetch{r: r, a: a, writer: e.Writer, ctx: ctx, read: r.fetch.NewRead(ctx)}
	f.read.Keep = true // a replicated bucket's blocks are kept, not cache
	f.last.Store(time.Now().UnixNano())
	watchDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { f.watch(cancel, watchDone) })
	err = f.run(root, e.Size)
	close(watchDone)
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// run does steps 2 to 4 of fetchObject.
func (f *replFetch) run(root cid.Cid, size int64) error {
	if err := f.structure(root, size); err != nil {
		return err
	}
	bs := f.r.blocks
	var missing []int
	var leavesLocal, bytesLocal int64
	for i, l := range f.leaves {
		has, err := bs.Has(f.ctx, l.c)
		if err != nil {
			return fmt.Errorf("read block %s: %w", l.c, err)
		}
		if has {
			leavesLocal++
			bytesLocal += l.size
		} else {
			missing = append(missing, i)
		}
	}
	f.a.leavesTotal.Store(int64(len(f.leaves)) + f.pbLeaves)
	f.a.leavesLocal.Store(leavesLocal + f.pbLeaves)
	f.a.bytesLocal.Store(bytesLocal + f.inline)
	f.r.saveProgress(f.a)

	start, owners := f.r.stripes(root.String(), len(f.leaves), f.writer)
	order := rotate(missing, start)
	if sw := f.r.cfg.Swarm; sw == nil || !f.r.fetch.Online() {
		f.a.markClaimed() // sessions: a GET shares the blocks in flight
	} else {
		var err error
		if order, err = f.swarm(sw, order, owners); err != nil {
			return err
		}
	}
	err := f.parallel(len(order), func(j int) error {
		l := f.leaves[order[j]]
		b, err := f.get(l.c)
		if err != nil {
			return err
		}
		if int64(len(b.RawData())) != l.size {
			return fmt.Errorf("block %s: %d bytes, its parent says %d", l.c, len(b.RawData()), l.size)
		}
		f.a.leavesLocal.Add(1)
		f.a.bytesLocal.Add(l.size)
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range append(slices.Clone(f.nodes), replLeafCIDs(f.leaves)...) {
		has, err := bs.Has(f.ctx, c)
		if err != nil {
			return fmt.Errorf("read block %s: %w", c, err)
		}
		if !has {
			return fmt.Errorf("%w: %s", errReplIncomplete, c)
		}
	}
	return nil
}

// errSwarmUnlanded ends the flight of a leaf the swarm fetch did not hand
// over itself: a read waiting for it looks again.
var errSwarmUnlanded = errors.New("swarm fetch ended without this block")

// swarm fetches the leaves order (indices into f.leaves) through the
// node's swarm fetcher, all but those another read of this node is
// fetching already, which it returns for the session to wait for. A GET
// of a leaf the swarm fetches waits for it (onceExchange.claim).
func (f *replFetch) swarm(sw SetFetcher, order []int, owners []peer.ID) ([]int, error) {
	fetcher := f.r.fetch
	cs := make([]cid.Cid, len(order))
	for j, i := range order {
		cs[j] = f.leaves[i].c
	}
	claimed := fetcher.Claim(cs)
	f.a.markClaimed()
	var (
		rest  []int
		req   = s3exchange.SetRequest{Window: f.r.window}
		leafs = make(map[cid.Cid]replLeaf, len(claimed))
	)
	for j, i := range order {
		if claimed[cs[j]] == nil {
			rest = append(rest, i)
			continue
		}
		if owners != nil {
			req.Owners = append(req.Owners, owners[i])
		}
		req.Blocks = append(req.Blocks, cs[j])
		req.Sizes = append(req.Sizes, f.leaves[i].size)
		leafs[cs[j]] = f.leaves[i]
	}
	var (
		mu      sync.Mutex
		sizeErr error
	)
	req.Got = func(b blocks.Block) {
		c := b.Cid()
		mu.Lock()
		fl := claimed[c]
		delete(claimed, c)
		mu.Unlock()
		if fl == nil {
			return
		}
		l := leafs[c]
		if int64(len(b.RawData())) != l.size {
			mu.Lock()
			sizeErr = fmt.Errorf("block %s: %d bytes, its parent says %d", c, len(b.RawData()), l.size)
			mu.Unlock()
			fetcher.Land(c, fl, nil, sizeErr)
			return
		}
		fetcher.Land(c, fl, b, nil)
		f.last.Store(time.Now().UnixNano())
		f.a.leavesLocal.Add(1)
		f.a.bytesLocal.Add(l.size)
		f.r.metrics.fetchedBlocks.Inc()
		f.r.metrics.fetchedBytes.Add(float64(l.size))
	}
	if f.waiting.Add(1) == 1 {
		f.last.Store(time.Now().UnixNano())
	}
	err := sw.FetchSet(f.ctx, req)
	f.waiting.Add(-1)
	mu.Lock()
	defer mu.Unlock()
	for c, fl := range claimed {
		// Stored meanwhile by another read (FetchSet found it local).
		fetcher.Land(c, fl, nil, errSwarmUnlanded)
		if err == nil {
			f.a.leavesLocal.Add(1)
			f.a.bytesLocal.Add(leafs[c].size)
		}
	}
	claimed = nil
	switch {
	case err != nil:
		return nil, fmt.Errorf("fetch leaves: %w", err)
	case sizeErr != nil:
		return nil, sizeErr
	}
	return rest, nil
}

func replLeafCIDs(ls []replLeaf) []cid.Cid {
	out := make([]cid.Cid, len(ls))
	for i, l := range ls {
		out[i] = l.c
	}
	return out
}

// structure fetches the dag-pb nodes of the DAG under root and lists its
// raw leaves in file order.
func (f *replFetch) structure(root cid.Cid, size int64) error {
	switch root.Prefix().Codec {
	case cid.Raw:
		f.leaves = []replLeaf{{c: root, size: size}}
		return nil
	case cid.DagProtobuf:
	default:
		return fmt.Errorf("root %s: codec %#x is not dag-pb or raw", root, root.Prefix().Codec)
	}
	nd, err := f.getNode(root)
	if err != nil {
		return err
	}
	return f.expand(nd, 0)
}

// expand lists the raw leaves below nd, fetching its dag-pb children (at
// most the window at once) before descending into them in order.
func (f *replFetch) expand(nd ipld.Node, depth int) error {
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return fmt.Errorf("node %s: %T is not a dag-pb node", nd.Cid(), nd)
	}
	if depth > maxReplDepth {
		return fmt.Errorf("node %s: DAG deeper than %d", nd.Cid(), maxReplDepth)
	}
	f.nodes = append(f.nodes, pn.Cid())
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return fmt.Errorf("node %s: %w", pn.Cid(), err)
	}
	switch fsn.Type() {
	case unixfs.TFile, unixfs.TRaw:
	default:
		return fmt.Errorf("node %s: unixfs node type %s is not a file", pn.Cid(), fsn.Type())
	}
	f.inline += int64(len(fsn.Data()))
	links := pn.Links()
	if len(links) != fsn.NumChildren() {
		return fmt.Errorf("node %s: %d links but %d block sizes", pn.Cid(), len(links), fsn.NumChildren())
	}
	if len(links) == 0 {
		f.pbLeaves++
		return nil
	}
	var pb []int
	for i, l := range links {
		switch l.Cid.Prefix().Codec {
		case cid.Raw:
		case cid.DagProtobuf:
			pb = append(pb, i)
		default:
			return fmt.Errorf("node %s: link to %s: codec %#x is not dag-pb or raw", pn.Cid(), l.Cid, l.Cid.Prefix().Codec)
		}
	}
	kids := make([]ipld.Node, len(links))
	if err := f.parallel(len(pb), func(j int) error {
		k, err := f.getNode(links[pb[j]].Cid)
		kids[pb[j]] = k
		return err
	}); err != nil {
		return err
	}
	for i, l := range links {
		if kids[i] == nil {
			f.leaves = append(f.leaves, replLeaf{c: l.Cid, size: int64(fsn.BlockSize(i))})
			continue
		}
		if err := f.expand(kids[i], depth+1); err != nil {
			return err
		}
		kids[i] = nil // let it go
	}
	return nil
}

// parallel calls fn(0..n-1), taking j in order, at most the window at
// once; it stops at the first error and returns it.
func (f *replFetch) parallel(n int, fn func(j int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	next := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(f.r.window, n) {
		wg.Go(func() {
			for j := range next {
				if err := fn(j); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		})
	}
feed:
	for j := range n {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return f.ctx.Err()
}

// get returns block c through the attempt's read: from the local store,
// or else fetched from peers (and stored).
func (f *replFetch) get(c cid.Cid) (blocks.Block, error) {
	if f.waiting.Add(1) == 1 {
		f.last.Store(time.Now().UnixNano())
	}
	b, fromPeer, err := f.read.GetSource(c)
	f.waiting.Add(-1)
	if err != nil {
		return nil, err
	}
	if fromPeer {
		f.last.Store(time.Now().UnixNano())
		f.r.metrics.fetchedBlocks.Inc()
		f.r.metrics.fetchedBytes.Add(float64(len(b.RawData())))
	}
	return b, nil
}

func (f *replFetch) getNode(c cid.Cid) (ipld.Node, error) {
	b, err := f.get(c)
	if err != nil {
		return nil, err
	}
	return dag.DecodeNode(b)
}

// watch runs beside an attempt until done is closed: every replSaveEvery
// (or a quarter of the fetch timeout, if shorter) it saves the progress,
// stops the attempt with errReplDropped when the record changed or the
// bucket is no longer replicated, and with errReplStalled when no block
// arrived for Config.FetchTimeout while one was awaited.
func (f *replFetch) watch(cancel context.CancelCauseFunc, done <-chan struct{}) {
	a := f.a
	timeout := f.r.cfg.FetchTimeout
	t := time.NewTicker(max(min(replSaveEvery, timeout/4), 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
		if f.waiting.Load() > 0 && time.Since(time.Unix(0, f.last.Load())) >= timeout {
			cancel(errReplStalled)
			return
		}
		if err := f.r.current(f.ctx, a.bucket, a.key, a.root); errors.Is(err, errReplDropped) {
			cancel(err)
			return
		}
		f.r.saveProgress(a)
	}
}

// current returns errReplDropped unless root is the current record of
// bucket/key in a replicated bucket.
func (r *Replicator) current(ctx context.Context, bucket, key, root string) error {
	if !r.isReplicated(bucket) {
		return errReplDropped
	}
	rec, err := r.ns.GetObject(ctx, bucket, key)
	switch {
	case errors.Is(err, s3err.ErrNoSuchKey), errors.Is(err, s3err.ErrNoSuchBucket):
		return errReplDropped
	case err != nil:
		return err
	case rec.Root != root:
		return errReplDropped
	}
	return nil
}

// saveProgress writes an active fetch's progress to its queue entry.
func (r *Replicator) saveProgress(a *replActive) {
	if _, err := r.updateEntry(a.bucket, a.key, a.root, a.progress); err != nil {
		r.log.Warn("saving replication progress failed", "bucket", a.bucket, "cid", a.root, "err", err)
	}
}

// stripes returns the participants' stripes of an object of n leaves:
// the leaf [start] at which this node starts fetching (it then goes on in
// order and wraps around), and for each leaf the participant whose share
// it is (see exchange.SetRequest.Owners); owners is nil when this node
// sees no other participant.
//
// Offices start on different stripes so that they can serve each other:
// node i of the N participants (this node and the peers it sees on the
// namespace topic, sorted by ID, without the record's writer when it is
// known) starts at leaf floor(s·n/N) with s = (i + h(root)) mod N, and its
// share ends where the next stripe starts. While B fetches stripe 1 from
// the writer, C fetches stripe 2, and each takes the other's from the
// other: the writer sends each stripe about once, instead of every office
// pulling leaf 0, then leaf 1, from it. The writer comes from the
// namespace (the winning entry's version); when it is not known, it counts
// as a participant and its stripe is no one's share: offices with nothing
// else to fetch pick it up (see exchange.SetRequest.Share). The h(root) term keeps the
// node sorted first from always starting where GETs start. Nodes that
// momentarily see different participant sets may pick overlapping
// stripes; that costs overlap, never correctness. Alone (or without
// pubsub), the start is a hash of this node's ID and the root.
func (r *Replicator) stripes(root string, n int, writer string) (start int, owners []peer.ID) {
	if n <= 1 {
		return 0, nil
	}
	ids := r.participants()
	if writer != "" && writer != r.self {
		ids = slices.DeleteFunc(ids, func(id string) bool { return id == writer })
	}
	if len(ids) <= 1 {
		return int(fnvHash(r.self+"\x00"+root) % uint64(n)), nil
	}
	N := len(ids)
	h := int(fnvHash(root) % uint64(N))
	owners = make([]peer.ID, n)
	for i, id := range ids {
		p, err := peer.Decode(id)
		if err != nil {
			// Not a peer ID (a node without pubsub names itself
			// otherwise): no shares, every leaf is this node's.
			s := (sort.SearchStrings(ids, r.self) + h) % N
			return int(int64(s) * int64(n) / int64(N)), nil
		}
		s := (i + h) % N
		from, to := int(int64(s)*int64(n)/int64(N)), int(int64(s+1)*int64(n)/int64(N))
		for l := from; l < to; l++ {
			owners[l] = p
		}
		if id == r.self {
			start = from
		}
	}
	return start, owners
}

// participants returns the sorted IDs of this node and of the peers it
// sees on the namespace topic; nil without pubsub.
func (r *Replicator) participants() []string {
	ps := r.cfg.PubSub
	if ps == nil || r.self == "" {
		return nil
	}
	ids := []string{r.self}
	for _, p := range ps.ListPeers(namespace.CRDTTopic(r.cfg.Network)) {
		ids = append(ids, p.String())
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func fnvHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// rotate returns the sorted indices idx starting at the first >= start,
// wrapping around.
func rotate(idx []int, start int) []int {
	k := sort.SearchInts(idx, start)
	return append(slices.Clone(idx[k:]), idx[:k]...)
}
