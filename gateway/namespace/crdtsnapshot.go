package namespace

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// A snapshot is the namespace's state — the winner index, every key's
// winning entry (v/) and every bucket's state (w/) — as a content-addressed
// DAG of blocks, stored and fetched through the namespace's DAGService like
// the deltas:
//
//	root      dag-pb node: Data is the JSON snapshotHeader; Links are the
//	          bucket leaves (header.BucketLeaves of them), then the inner
//	          nodes
//	inner     dag-pb node, no data: up to snapshotFanout links to object
//	          leaves, in key order
//	leaf      raw block: a sorted run of index items, each
//	          uvarint(len key) key uvarint(len value) value, where key and
//	          value are the index's own (v/<bucket>/<key> → winner, or
//	          w/<bucket> → bucket state)
//
// Leaves end where a key's hash is 0 modulo snapshotLeafTarget (or
// at snapshotLeafMaxBytes), so a leaf's extent depends on the keys in it,
// not on what comes before: two snapshots of states that differ in a few
// keys share every other leaf, and a node that holds the previous
// snapshot fetches only the leaves that changed (the block service reads
// local blocks first).
//
// Every block is verified by its CID when fetched. A joining node fetches
// the root, then every inner node at once, then every leaf at once
// (DAGService.GetMany, in windows of snapshotWindow leaves,
// snapshotFetchers at a time): a few round trips whatever the size, and
// the leaves are installed as they arrive, in any order, since installing
// is a merge that keeps the greater version of each key (see installLeaf).
const (
	snapshotFormatV1 = 1
	// snapshotLeafTarget is the mean number of items in a leaf.
	snapshotLeafTarget = 256
	// snapshotLeafMaxBytes ends a leaf that grew past it.
	snapshotLeafMaxBytes = 512 << 10
	// snapshotFanout is the most leaves an inner node links to.
	snapshotFanout = 1024
	// snapshotWindow is how many leaves one fetch asks for, and
	// snapshotFetchers how many such fetches run at once.
	snapshotWindow   = 16
	snapshotFetchers = 4
)

// snapshotHeader is the root's data.
type snapshotHeader struct {
	Format int `json:"format"`
	// Epoch is the epoch the snapshot seeds (see crdtepoch.go).
	Epoch uint64 `json:"epoch"`
	// Items counts the index items (keys and buckets), Bytes the sum of
	// the leaves' sizes.
	Items  int64 `json:"items"`
	Bytes  int64 `json:"bytes"`
	Leaves int   `json:"leaves"`
	// BucketLeaves is how many of the root's first links are bucket
	// leaves; the others are inner nodes.
	BucketLeaves int `json:"bucket_leaves"`
	// Made is when, and By the NodeID of the node that, made it; Heads
	// are the CRDT heads of the epoch it folds, as they were when it was
	// made. For information only.
	Made  time.Time `json:"made"`
	By    string    `json:"by"`
	Heads []string  `json:"heads,omitempty"`
}

// snapshotItem is one index item.
type snapshotItem struct{ key, value []byte }

// leafBuilder cuts a sorted stream of items into leaves.
type leafBuilder struct {
	buf   []byte
	items int
	out   []ipld.Node
	total int64
}

func (l *leafBuilder) add(key, value []byte) {
	l.buf = binary.AppendUvarint(l.buf, uint64(len(key)))
	l.buf = append(l.buf, key...)
	l.buf = binary.AppendUvarint(l.buf, uint64(len(value)))
	l.buf = append(l.buf, value...)
	l.items++
	if leafBoundary(key) || len(l.buf) >= snapshotLeafMaxBytes {
		l.flush()
	}
}

// leafBoundary reports whether a leaf ends after key: FNV-64a, whose low
// bits are poorly mixed, finished with SplitMix64's mixer.
func leafBoundary(key []byte) bool {
	h := fnv.New64a()
	h.Write(key)
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x%snapshotLeafTarget == 0
}

func (l *leafBuilder) flush() {
	if l.items == 0 {
		return
	}
	nd, err := merkledag.NewRawNodeWPrefix(bytes.Clone(l.buf), cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1})
	if err != nil {
		panic(err) // sha2-256 always hashes
	}
	l.out = append(l.out, nd)
	l.total += int64(len(l.buf))
	l.buf, l.items = l.buf[:0], 0
}

func decodeLeaf(b []byte, fn func(key, value []byte) error) error {
	for len(b) > 0 {
		kl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < kl {
			return fmt.Errorf("snapshot leaf: %w", errBadEntry)
		}
		key := b[n : n+int(kl)]
		b = b[n+int(kl):]
		vl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < vl {
			return fmt.Errorf("snapshot leaf: %w", errBadEntry)
		}
		value := b[n : n+int(vl)]
		b = b[n+int(vl):]
		if err := fn(key, value); err != nil {
			return err
		}
	}
	return nil
}

// snapshot is a snapshot's root, decoded.
type snapshot struct {
	root    cid.Cid
	header  snapshotHeader
	buckets []cid.Cid // bucket leaves
	inner   []cid.Cid
}

// buildSnapshot writes the index's current state as a snapshot seeding
// epoch to dag and returns it. It reads a consistent view of the index
// (a Pebble snapshot) while writes go on.
func (n *CRDTNamespace) buildSnapshot(ctx context.Context, dag ipld.DAGService, epoch uint64, heads []cid.Cid) (*snapshot, error) {
	view := n.idx.db.NewSnapshot()
	defer view.Close()
	scan := func(prefix string, l *leafBuilder) (int64, error) {
		p := []byte(prefix)
		it, err := view.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
		if err != nil {
			return 0, err
		}
		defer it.Close()
		var c int64
		for ok := it.First(); ok; ok = it.Next() {
			l.add(it.Key(), it.Value())
			c++
			if c%4096 == 0 && ctx.Err() != nil {
				return c, ctx.Err()
			}
		}
		l.flush()
		return c, it.Error()
	}
	var bl, ol leafBuilder
	nb, err := scan(prefixBState, &bl)
	if err != nil {
		return nil, fmt.Errorf("build snapshot: %w", err)
	}
	no, err := scan(prefixWinner, &ol)
	if err != nil {
		return nil, fmt.Errorf("build snapshot: %w", err)
	}
	h := snapshotHeader{
		Format: snapshotFormatV1, Epoch: epoch, Items: nb + no, Bytes: bl.total + ol.total,
		Leaves: len(bl.out) + len(ol.out), BucketLeaves: len(bl.out), Made: n.cfg.Clock().UTC(), By: n.cfg.NodeID,
	}
	for _, c := range heads {
		h.Heads = append(h.Heads, c.String())
	}
	leaves := append(bl.out, ol.out...)
	if err := dag.AddMany(ctx, leaves); err != nil {
		return nil, fmt.Errorf("build snapshot: store leaves: %w", err)
	}
	s := &snapshot{header: h}
	root := merkledag.NodeWithData(nil)
	root.SetCidBuilder(merkledag.V1CidPrefix())
	for _, l := range bl.out {
		s.buckets = append(s.buckets, l.Cid())
		if err := root.AddNodeLink("", l); err != nil {
			return nil, fmt.Errorf("build snapshot: %w", err)
		}
	}
	var inner []ipld.Node
	for i := 0; i < len(ol.out); i += snapshotFanout {
		nd := merkledag.NodeWithData(nil)
		nd.SetCidBuilder(merkledag.V1CidPrefix())
		for _, l := range ol.out[i:min(i+snapshotFanout, len(ol.out))] {
			if err := nd.AddNodeLink("", l); err != nil {
				return nil, fmt.Errorf("build snapshot: %w", err)
			}
		}
		inner = append(inner, nd)
		s.inner = append(s.inner, nd.Cid())
		if err := root.AddNodeLink("", nd); err != nil {
			return nil, fmt.Errorf("build snapshot: %w", err)
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("build snapshot: %w", err)
	}
	root.SetData(hb)
	if err := dag.AddMany(ctx, append(inner, root)); err != nil {
		return nil, fmt.Errorf("build snapshot: store root: %w", err)
	}
	s.root = root.Cid()
	return s, nil
}

// loadSnapshotRoot fetches and decodes a snapshot's root.
func loadSnapshotRoot(ctx context.Context, dag ipld.NodeGetter, root cid.Cid) (*snapshot, error) {
	nd, err := dag.Get(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: fetch root: %w", root, err)
	}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		if pn, err = merkledag.DecodeProtobuf(nd.RawData()); err != nil {
			return nil, fmt.Errorf("snapshot %s: root: %w: %w", root, errBadEntry, err)
		}
	}
	s := &snapshot{root: root}
	if err := json.Unmarshal(pn.Data(), &s.header); err != nil || s.header.Format != snapshotFormatV1 {
		return nil, fmt.Errorf("snapshot %s: header: %w", root, errBadEntry)
	}
	links := pn.Links()
	if s.header.BucketLeaves < 0 || s.header.BucketLeaves > len(links) {
		return nil, fmt.Errorf("snapshot %s: header: %w", root, errBadEntry)
	}
	for i, l := range links {
		if i < s.header.BucketLeaves {
			s.buckets = append(s.buckets, l.Cid)
		} else {
			s.inner = append(s.inner, l.Cid)
		}
	}
	return s, nil
}

// leaves fetches the inner nodes (all at once) and returns the object
// leaves in key order.
func (s *snapshot) leaves(ctx context.Context, dag ipld.NodeGetter) ([]cid.Cid, error) {
	got := make(map[cid.Cid]ipld.Node, len(s.inner))
	for r := range dag.GetMany(ctx, s.inner) {
		if r.Err != nil {
			return nil, fmt.Errorf("snapshot %s: fetch inner node: %w", s.root, r.Err)
		}
		got[r.Node.Cid()] = r.Node
	}
	var out []cid.Cid
	for _, c := range s.inner {
		nd, ok := got[c]
		if !ok {
			return nil, fmt.Errorf("snapshot %s: inner node %s missing", s.root, c)
		}
		for _, l := range nd.Links() {
			out = append(out, l.Cid)
		}
	}
	if len(out)+len(s.buckets) != s.header.Leaves {
		return nil, fmt.Errorf("snapshot %s: %d leaves, header says %d: %w", s.root, len(out)+len(s.buckets), s.header.Leaves, errBadEntry)
	}
	return out, nil
}

// JoinProgress describes the namespace's latest move to a snapshot (a
// join, or a newer epoch): what it fetched and installed.
type JoinProgress struct {
	// State is "" (never), "fetching", "installing", "switching", "done"
	// or "failed".
	State string
	// Snapshot is the root CID of the snapshot, Epoch the epoch it seeds.
	Snapshot string
	Epoch    uint64
	// Leaves and LeavesDone count the snapshot's leaf blocks and those
	// installed; Items and ItemsDone its index items likewise.
	Leaves, LeavesDone int
	Items, ItemsDone   int64
	// Bytes is the size of the leaves installed.
	Bytes int64
	// Republished counts the entries this node held that the snapshot did
	// not, published again in the new epoch.
	Republished int
	// Started and Finished bound the move (Finished is zero while it runs).
	Started, Finished time.Time
	// Err is why it failed.
	Err string
}

// joinTracker is the JoinProgress of the move in progress.
type joinTracker struct {
	leavesDone, itemsDone, bytes atomic.Int64
}

// installSnapshot fetches the snapshot s's leaves (buckets first, then
// every object leaf at once) and merges each into the index as it
// arrives.
func (n *CRDTNamespace) installSnapshot(ctx context.Context, dag ipld.NodeGetter, s *snapshot, tr *joinTracker) error {
	install := func(cids []cid.Cid) error {
		cids = dedup(cids)
		if len(cids) == 0 {
			return nil
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// Windows of leaves, several at once: one GetMany of hundreds of
		// blocks stalls in Bitswap's session (measured: 168 leaves of
		// ~90 KB took 46 s on loopback, 37 took 0.25 s).
		windows := make(chan []cid.Cid)
		go func() {
			defer close(windows)
			for i := 0; i < len(cids); i += snapshotWindow {
				select {
				case windows <- cids[i:min(i+snapshotWindow, len(cids))]:
				case <-ctx.Done():
					return
				}
			}
		}()
		var wg sync.WaitGroup
		errs := make(chan error, snapshotFetchers)
		for range snapshotFetchers {
			wg.Go(func() {
				for w := range windows {
					seen := 0
					for r := range dag.GetMany(ctx, w) {
						if r.Err != nil {
							errs <- fmt.Errorf("snapshot %s: fetch leaf: %w", s.root, r.Err)
							cancel()
							return
						}
						items, err := n.installLeaf(r.Node.RawData())
						if err != nil {
							errs <- fmt.Errorf("snapshot %s: leaf %s: %w", s.root, r.Node.Cid(), err)
							cancel()
							return
						}
						seen++
						tr.leavesDone.Add(1)
						tr.itemsDone.Add(items)
						tr.bytes.Add(int64(len(r.Node.RawData())))
					}
					if seen != len(w) {
						err := ctx.Err()
						if err == nil {
							err = errors.New("fetch ended early")
						}
						errs <- fmt.Errorf("snapshot %s: %d of %d leaves fetched: %w", s.root, seen, len(w), err)
						cancel()
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs // nil when none failed
	}
	if err := install(s.buckets); err != nil {
		return err
	}
	leaves, err := s.leaves(ctx, dag)
	if err != nil {
		return err
	}
	return install(leaves)
}

func dedup(cids []cid.Cid) []cid.Cid {
	seen := make(map[cid.Cid]struct{}, len(cids))
	out := cids[:0:0]
	for _, c := range cids {
		if _, ok := seen[c]; !ok {
			seen[c] = struct{}{}
			out = append(out, c)
		}
	}
	return out
}

// splitWinnerKey takes v/<bucket>/<key> apart.
func splitWinnerKey(k []byte) (bucket, key string, ok bool) {
	rest, ok := bytes.CutPrefix(k, []byte(prefixWinner))
	if !ok {
		return "", "", false
	}
	b, kk, ok := bytes.Cut(rest, []byte("/"))
	if !ok || len(b) == 0 || len(kk) == 0 {
		return "", "", false
	}
	return string(b), string(kk), true
}

// validWinner checks an object winner from a snapshot as apply checks an
// entry.
func validWinner(bucket, key string, w winner) error {
	ms, c, _, err := parseVersion(w.version)
	_, _ = ms, c
	if err != nil {
		return err
	}
	switch w.kind {
	case entryPut:
		if _, err := decodeObject(bucket, key, w.payload); err != nil {
			return fmt.Errorf("%w: %w", errBadEntry, err)
		}
	case entryDelete:
		if len(w.payload) != 0 {
			return errBadEntry
		}
	default:
		return errBadEntry
	}
	return nil
}

// installLeaf merges one leaf into the index and returns how many items
// it held. Bucket items go through applyBucket (a bucket's winner and,
// when it has one, the delete marker at its cut); object items are merged
// in one batch: an item replaces the key's winner only when its version
// is greater, and is dropped when older than its bucket's cut — the rules
// of apply, so installing commutes with applying entries.
func (n *CRDTNamespace) installLeaf(b []byte) (int64, error) {
	var objs []snapshotItem
	var items int64
	err := decodeLeaf(b, func(key, value []byte) error {
		items++
		if rest, ok := bytes.CutPrefix(key, []byte(prefixBState)); ok {
			return n.installBucket(string(rest), value)
		}
		objs = append(objs, snapshotItem{key, value})
		return nil
	})
	if err != nil {
		return items, err
	}
	return items, n.installObjects(objs)
}

func (n *CRDTNamespace) installBucket(name string, value []byte) error {
	if name == "" || bytes.ContainsRune([]byte(name), '/') {
		return errBadEntry
	}
	bs, err := decodeBucketState(value)
	if err != nil {
		return err
	}
	if bs.cut != "" {
		if _, _, _, err := parseVersion(bs.cut); err != nil {
			return err
		}
		if err := n.applyBucket(bucketEntryKey(name, bs.cut), parsedKey{bucket: name, version: bs.cut}, entry{kind: entryDelete}); err != nil {
			return err
		}
	}
	if _, _, _, err := parseVersion(bs.version); err != nil {
		return err
	}
	switch bs.kind {
	case entryCreate:
		if _, err := decodeBucket(name, bs.payload); err != nil {
			return fmt.Errorf("%w: %w", errBadEntry, err)
		}
	case entryDelete:
	default:
		return errBadEntry
	}
	return n.applyBucket(bucketEntryKey(name, bs.version), parsedKey{bucket: name, version: bs.version}, entry{kind: bs.kind, payload: bs.payload})
}

func (n *CRDTNamespace) installObjects(items []snapshotItem) error {
	if len(items) == 0 {
		return nil
	}
	type parsed struct {
		bucket, key string
		w           winner
	}
	ps := make([]parsed, 0, len(items))
	for _, it := range items {
		bucket, key, ok := splitWinnerKey(it.key)
		if !ok {
			return errBadEntry
		}
		w, err := decodeWinner(it.value)
		if err != nil {
			return err
		}
		if err := validWinner(bucket, key, w); err != nil {
			return err
		}
		ps = append(ps, parsed{bucket, key, w})
	}
	n.applyBucketMu.Lock()
	defer n.applyBucketMu.Unlock()
	// Indexed: the version index (x/) is read back within the batch.
	b := n.idx.db.NewIndexedBatch()
	defer b.Close()
	states := map[string]bucketState{}
	var du usage
	var made []madeVisible
	var made2 []string
	for _, p := range ps {
		bs, ok := states[p.bucket]
		if !ok {
			var err error
			if bs, err = n.bucketState(p.bucket); err != nil {
				return err
			}
			states[p.bucket] = bs
		}
		ms, c, _, _ := parseVersion(p.w.version)
		n.clock.observe(ms, c)
		if p.w.version < bs.cut {
			continue
		}
		wk := winnerKey(p.bucket, p.key)
		cur, ok, err := n.idx.get(wk)
		if err != nil {
			return err
		}
		if ok {
			cw, err := decodeWinner(cur)
			if err != nil {
				return err
			}
			if p.w.version <= cw.version {
				continue
			}
		}
		if err := b.Set(wk, p.w.encode(), nil); err != nil {
			return err
		}
		// The winner is a version of its key too (see crdtversions.go).
		// A snapshot carries winners only: the keys' older versions are
		// not in it (folds are refused while a bucket is versioned).
		pk := parsedKey{object: true, bucket: p.bucket, key: p.key, version: p.w.version}
		if _, err := n.applyVersion(b, objectEntryKey(p.bucket, p.key, p.w.version), pk, entry{kind: p.w.kind, payload: p.w.payload}); err != nil {
			return err
		}
		visible := p.w.kind == entryPut && bs.exists()
		d, err := n.setVisible(b, p.bucket, p.key, p.w.payload, visible)
		if err != nil {
			return err
		}
		du.add(d)
		if visible && n.cfg.OnObject != nil {
			made = append(made, madeVisible{key: p.key, payload: p.w.payload, version: p.w.version})
			made2 = append(made2, p.bucket)
		}
	}
	if err := n.saveClock(b); err != nil {
		return err
	}
	if err := b.Commit(n.idx.wo); err != nil {
		return err
	}
	n.addUsage(du)
	for i, m := range made {
		n.notifyObject(made2[i], m.key, m.payload, m.version)
	}
	return nil
}

// snapshotDiff calls fn with every entry the index holds that the
// snapshot s (already installed) does not: a key whose winner is newer
// than the snapshot's, a bucket whose winner or cut is. Both are read in
// key order and merged.
func (n *CRDTNamespace) snapshotDiff(ctx context.Context, dag ipld.NodeGetter, s *snapshot, fn func(kv) error) error {
	objLeaves, err := s.leaves(ctx, dag)
	if err != nil {
		return err
	}
	// The snapshot's items in index order: v/ (object leaves) before w/.
	next := snapshotCursor(ctx, dag, append(objLeaves, s.buckets...))
	sk, sv, err := next()
	if err != nil {
		return err
	}
	lo, hi := []byte(prefixWinner), upperBound([]byte(prefixBState))
	it, err := n.idx.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		isObj := bytes.HasPrefix(k, []byte(prefixWinner))
		if !isObj && !bytes.HasPrefix(k, []byte(prefixBState)) {
			continue
		}
		for sk != nil && bytes.Compare(sk, k) < 0 {
			if sk, sv, err = next(); err != nil {
				return err
			}
		}
		var snapV []byte
		if sk != nil && bytes.Equal(sk, k) {
			snapV = sv
		}
		if isObj {
			err = diffObject(k, it.Value(), snapV, fn)
		} else {
			err = diffBucket(k, it.Value(), snapV, fn)
		}
		if err != nil {
			return err
		}
	}
	return it.Error()
}

func diffObject(k, cur, snap []byte, fn func(kv) error) error {
	bucket, key, ok := splitWinnerKey(k)
	if !ok {
		return nil
	}
	w, err := decodeWinner(cur)
	if err != nil {
		return err
	}
	if snap != nil {
		sw, err := decodeWinner(snap)
		if err != nil {
			return err
		}
		if w.version <= sw.version {
			return nil
		}
	}
	return fn(kv{objectEntryKey(bucket, key, w.version), entryOf(w)})
}

func diffBucket(k, cur, snap []byte, fn func(kv) error) error {
	name := string(k[len(prefixBState):])
	bs, err := decodeBucketState(cur)
	if err != nil {
		return err
	}
	var sbs bucketState
	if snap != nil {
		if sbs, err = decodeBucketState(snap); err != nil {
			return err
		}
	}
	if bs.cut > sbs.cut && bs.cut != bs.version {
		if err := fn(kv{bucketEntryKey(name, bs.cut), entry{kind: entryDelete, written: versionTime(bs.cut)}.encode()}); err != nil {
			return err
		}
	}
	if bs.kind != 0 && bs.version > sbs.version {
		return fn(kv{bucketEntryKey(name, bs.version), entryOf(bs.winner)})
	}
	return nil
}

// entryOf is the CRDT entry of a winner, written at its version's time.
func entryOf(w winner) []byte {
	return entry{kind: w.kind, written: versionTime(w.version), payload: w.payload}.encode()
}

func versionTime(v string) time.Time {
	ms, _, _, _ := parseVersion(v)
	return time.UnixMilli(ms)
}

// snapshotCursor returns the items of the leaves, in order, one per call;
// a nil key at the end.
func snapshotCursor(ctx context.Context, dag ipld.NodeGetter, leaves []cid.Cid) func() ([]byte, []byte, error) {
	var items []snapshotItem
	return func() ([]byte, []byte, error) {
		for len(items) == 0 {
			if len(leaves) == 0 {
				return nil, nil, nil
			}
			nd, err := dag.Get(ctx, leaves[0])
			if err != nil {
				return nil, nil, fmt.Errorf("snapshot leaf %s: %w", leaves[0], err)
			}
			leaves = leaves[1:]
			if err := decodeLeaf(nd.RawData(), func(k, v []byte) error {
				items = append(items, snapshotItem{k, v})
				return nil
			}); err != nil {
				return nil, nil, err
			}
		}
		it := items[0]
		items = items[1:]
		return it.key, it.value, nil
	}
}

var errSnapshotEpoch = errors.New("snapshot seeds another epoch")
