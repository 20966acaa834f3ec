package namespace

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	crdt "github.com/ipfs/go-ds-crdt"
	"github.com/ipfs/go-ds-crdt/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// # Epochs: snapshots and a bounded history
//
// go-ds-crdt v0.6.5 keeps every delta for ever and a node that joins walks
// all of them, one round trip per DAG level. The namespace therefore runs
// the CRDT in epochs. Epoch 0 is the CRDT as it always was. Epoch N+1 is a
// fresh go-ds-crdt instance (a new key space in the database, see
// crdtGenNamespace) seeded by a snapshot (crdtsnapshot.go): the winner
// index of the node that folded epoch N. An epoch is named by its number
// and its seed's root CID (epochID); epochs are totally ordered by number,
// then seed CID, and every node moves to the greatest epoch it hears of.
//
// Heads are announced on the one namespace topic in an envelope naming the
// epoch and carrying the small blocks of the heads (see Inline deltas);
// epoch 0 without blocks keeps go-ds-crdt's bare format, but a node of an
// earlier version understands neither envelope: upgrade offices together. A node passes to its CRDT
// only the announcements of its own epoch; one naming a greater epoch makes
// it switch; one naming a lesser epoch makes it announce its own (at most
// once a second), so the sender learns of it.
//
// Switching to epoch E (switchLocked), on every node:
//
//  1. fetch E's seed snapshot — root, inner nodes, leaves, each level in
//     parallel — and merge it into the index (a key takes the snapshot's
//     winner only when it is greater: the index only ever moves to greater
//     versions, so this commutes with applying deltas);
//  2. stop local writes and the old epoch's CRDT;
//  3. open E's CRDT and publish into it every entry the index holds that
//     the seed does not (a key or bucket whose winner, or cut, is newer):
//     the writes made anywhere while the fold was under way, and those an
//     office made while cut off;
//  4. record E as current (the commit point), then delete the old epoch's
//     CRDT state. Its deltas are no longer reachable from Heads, so the
//     node's block GC collects them.
//
// Nothing is lost: before step 4 everything the node knew is either in
// the seed or republished in E. A node that was offline across one or many
// folds does exactly this when it next hears an announcement: it jumps to
// the newest epoch, merges its seed, and republishes what it wrote (or
// learnt) meanwhile. Two partitions that folded independently converge the
// same way: the lesser epoch's nodes switch to the greater, carrying what
// only they had. A crash before the commit point leaves the old epoch
// current (the new key space is wiped at open); after it, the old one is
// wiped at open.
//
// Who folds: while an epoch's DAG height is at least FoldHeight, every
// node announces its heads every RebroadcastInterval (go-ds-crdt alone
// announces only heads no one else did). Each round, the node
// whose NodeID is the least among itself and the offices it knows (topic
// peers and recent announcers) folds when its epoch's DAG height reached
// FoldHeight and every office it knows has announced the same heads in
// the same epoch — or, failing agreement for FoldWait (the horizon), folds
// anyway: the switch above is safe without agreement, agreement only
// spares the offices that lag a republish. Concurrent folds (two leaders
// across a partition) are resolved by the epoch order.
//
// A fresh node is in epoch 0 with nothing: the first announcement of a
// later epoch makes it fetch that epoch's seed and walk only the deltas
// after it (at most about FoldHeight levels).

// Defaults of the epoch settings in CRDTConfig.
const (
	DefaultCRDTInlineDeltaBytes = 64 << 10
	DefaultCRDTFoldHeight       = 1024
	DefaultCRDTFoldWait         = 10 * time.Minute
	DefaultCRDTSnapshotTimeout  = 10 * time.Minute
)

var (
	// keyEpoch holds the current epoch: generation, number, seed CID.
	keyEpoch = []byte("c/epoch")
	// envelopeMagic starts an announcement of an epoch after 0, and
	// envelopeBlocksMagic one (of any epoch) with blocks attached.
	envelopeMagic       = []byte{0xff, 's', '3', 'e'}
	envelopeBlocksMagic = []byte{0xff, 's', '3', 'f'}
)

// epochID names an epoch: its number and its seed's root (cid.Undef for
// epoch 0).
type epochID struct {
	number uint64
	seed   cid.Cid
}

func (a epochID) less(b epochID) bool {
	if a.number != b.number {
		return a.number < b.number
	}
	return bytes.Compare(seedBytes(a.seed), seedBytes(b.seed)) < 0
}

func (a epochID) equal(b epochID) bool { return a.number == b.number && a.seed.Equals(b.seed) }

func seedBytes(c cid.Cid) []byte {
	if !c.Defined() {
		return nil
	}
	return c.Bytes()
}

// crdtGenNamespace is the key space of the CRDT state of generation gen:
// the node's gen-th epoch (generations count this node's switches; epoch
// numbers are the network's).
func crdtGenNamespace(gen uint64) string {
	if gen == 0 {
		return crdtNamespace
	}
	return fmt.Sprintf("%s.%d", crdtNamespace, gen)
}

// wrapHeads puts an announcement of heads (a pb.CRDTBroadcast) of epoch id
// in its envelope, with the blocks attached (see inlineBlocks). Epoch 0
// without blocks keeps go-ds-crdt's bare format.
func wrapHeads(id epochID, heads []byte, attached []blocks.Block) []byte {
	if id.number == 0 && len(attached) == 0 {
		return heads
	}
	magic := envelopeMagic
	if len(attached) > 0 {
		magic = envelopeBlocksMagic
	}
	b := slices.Clone(magic)
	b = binary.AppendUvarint(b, id.number)
	sb := seedBytes(id.seed)
	b = binary.AppendUvarint(b, uint64(len(sb)))
	b = append(b, sb...)
	if len(attached) > 0 {
		b = binary.AppendUvarint(b, uint64(len(attached)))
		for _, blk := range attached {
			cb := blk.Cid().Bytes()
			b = binary.AppendUvarint(b, uint64(len(cb)))
			b = append(b, cb...)
			b = binary.AppendUvarint(b, uint64(len(blk.RawData())))
			b = append(b, blk.RawData()...)
		}
	}
	return append(b, heads...)
}

// readBytes reads a uvarint-prefixed byte string.
func readBytes(b []byte) ([]byte, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return nil, nil, false
	}
	return b[n : n+int(l)], b[n+int(l):], true
}

// unwrapHeads takes an announcement apart. The attached blocks are
// verified: each one's bytes hash to its CID, or the announcement is
// malformed.
func unwrapHeads(data []byte) (epochID, []byte, []blocks.Block, error) {
	rest, ok := bytes.CutPrefix(data, envelopeMagic)
	withBlocks := false
	if !ok {
		if rest, ok = bytes.CutPrefix(data, envelopeBlocksMagic); !ok {
			return epochID{}, data, nil, nil
		}
		withBlocks = true
	}
	num, n := binary.Uvarint(rest)
	if n <= 0 || (num == 0 && !withBlocks) {
		return epochID{}, nil, nil, errBadEntry
	}
	sb, rest, ok := readBytes(rest[n:])
	if !ok {
		return epochID{}, nil, nil, errBadEntry
	}
	id := epochID{number: num}
	if len(sb) > 0 {
		c, err := cid.Cast(sb)
		if err != nil {
			return epochID{}, nil, nil, errBadEntry
		}
		id.seed = c
	}
	if (num == 0) != !id.seed.Defined() {
		return epochID{}, nil, nil, errBadEntry
	}
	var attached []blocks.Block
	if withBlocks {
		count, n := binary.Uvarint(rest)
		if n <= 0 || count > maxInlineBlocks {
			return epochID{}, nil, nil, errBadEntry
		}
		rest = rest[n:]
		for range count {
			var cb, raw []byte
			if cb, rest, ok = readBytes(rest); !ok {
				return epochID{}, nil, nil, errBadEntry
			}
			if raw, rest, ok = readBytes(rest); !ok {
				return epochID{}, nil, nil, errBadEntry
			}
			c, err := cid.Cast(cb)
			if err != nil {
				return epochID{}, nil, nil, errBadEntry
			}
			// NewBlockWithCid checks the hash only in debug builds.
			if sum, err := c.Prefix().Sum(raw); err != nil || !sum.Equals(c) {
				return epochID{}, nil, nil, errBadEntry
			}
			blk, err := blocks.NewBlockWithCid(bytes.Clone(raw), c)
			if err != nil {
				return epochID{}, nil, nil, errBadEntry
			}
			attached = append(attached, blk)
		}
	}
	return id, rest, attached, nil
}

// Inline deltas: go-ds-crdt announces a new delta by its CID and every
// node then fetches it over Bitswap, whose wants go to every connected
// office — with many offices writing at once, that is most of the
// namespace's traffic and latency. A node announcing heads it holds small
// blocks of attaches them (up to maxInlineBlocks, each at most
// maxInlineBlockBytes, maxInlineBytes in all); a receiver verifies each
// against its CID and stores it before go-ds-crdt looks for it. Bitswap
// still serves everything not attached. CRDTConfig.InlineDeltaBytes bounds
// the bytes attached.
const (
	maxInlineBlocks     = 8
	maxInlineBlockBytes = 16 << 10
	// inlineLookup bounds the local read of a head's block.
	inlineLookup = 200 * time.Millisecond
)

// inlineBlocks returns the blocks of the heads of an announcement that
// this node holds and that fit.
func (n *CRDTNamespace) inlineBlocks(ctx context.Context, announcement []byte) []blocks.Block {
	if n.cfg.InlineDeltaBytes < 0 {
		return nil
	}
	var m pb.CRDTBroadcast
	if proto.Unmarshal(announcement, &m) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, inlineLookup)
	defer cancel()
	var out []blocks.Block
	total := 0
	for _, h := range m.Heads {
		if len(out) == maxInlineBlocks {
			break
		}
		c, err := cid.Cast(h.Cid)
		if err != nil {
			continue
		}
		nd, err := n.dag.Get(ctx, c)
		if err != nil {
			continue
		}
		raw := nd.RawData()
		if len(raw) > maxInlineBlockBytes || total+len(raw) > n.cfg.InlineDeltaBytes {
			continue
		}
		blk, err := blocks.NewBlockWithCid(raw, c)
		if err != nil {
			continue
		}
		total += len(raw)
		out = append(out, blk)
	}
	return out
}

// storeAttached stores the verified blocks an announcement carried.
func (n *CRDTNamespace) storeAttached(ctx context.Context, attached []blocks.Block) {
	for _, blk := range attached {
		if blk.Cid().Prefix().Codec != cid.DagProtobuf {
			continue
		}
		nd, err := merkledag.DecodeProtobufBlock(blk)
		if err != nil || !bytes.Equal(nd.RawData(), blk.RawData()) {
			continue // would not store the same bytes: Bitswap fetches it
		}
		if err := n.dag.Add(ctx, nd); err != nil {
			n.log.Debug("storing a delta attached to an announcement", "cid", blk.Cid().String(), "err", err)
		}
	}
}

// headsKey is a canonical form of the heads an announcement names.
func headsKey(data []byte) string {
	var m pb.CRDTBroadcast
	if proto.Unmarshal(data, &m) != nil {
		return ""
	}
	hs := make([]string, 0, len(m.Heads))
	for _, h := range m.Heads {
		hs = append(hs, string(h.Cid))
	}
	slices.Sort(hs)
	return strings.Join(hs, "|")
}

func statsHeadsKey(st crdt.Stats) string {
	hs := make([]string, 0, len(st.Heads))
	for _, h := range st.Heads {
		hs = append(hs, string(h.Bytes()))
	}
	slices.Sort(hs)
	return strings.Join(hs, "|")
}

// epochState is the current epoch's CRDT.
type epochState struct {
	gen  uint64
	id   epochID
	crdt *crdt.Datastore
	view *epochView // nil without PubSub
}

// epochView is go-ds-crdt's Broadcaster for one epoch: it wraps what the
// CRDT broadcasts in the epoch's envelope and is fed, by the demultiplexer
// (demux), the announcements of the same epoch. go-ds-crdt processes one
// announcement at a time; the heads announced meanwhile are gathered into
// one announcement (deduplicated), so none is dropped however many
// offices write at once, and those already merged as another's ancestors
// cost nothing.
type epochView struct {
	n    *CRDTNamespace
	b    *topicBroadcaster
	id   epochID
	wake chan struct{}
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	pending []cid.Cid
	queued  map[cid.Cid]struct{}
}

// maxPendingHeads bounds the heads gathered while go-ds-crdt is busy; the
// oldest give way (heads are announced again).
const maxPendingHeads = 4096

var _ crdt.Broadcaster = (*epochView)(nil)

func newEpochView(n *CRDTNamespace, id epochID) *epochView {
	return &epochView{n: n, b: n.bcast, id: id, wake: make(chan struct{}, 1), done: make(chan struct{}), queued: map[cid.Cid]struct{}{}}
}

// Broadcast implements crdt.Broadcaster.
func (v *epochView) Broadcast(ctx context.Context, data []byte) error {
	return v.b.Broadcast(ctx, wrapHeads(v.id, data, v.n.inlineBlocks(ctx, data)))
}

// Next implements crdt.Broadcaster: the heads announced since the last
// call, in one announcement.
func (v *epochView) Next(ctx context.Context) ([]byte, error) {
	for {
		v.mu.Lock()
		heads := v.pending
		v.pending, v.queued = nil, map[cid.Cid]struct{}{}
		v.mu.Unlock()
		if len(heads) > 0 {
			var m pb.CRDTBroadcast
			for _, h := range heads {
				m.Heads = append(m.Heads, &pb.Head{Cid: h.Bytes()})
			}
			return proto.Marshal(&m)
		}
		select {
		case <-v.wake:
			continue
		case <-ctx.Done():
		case <-v.done:
		case <-v.b.ctx.Done():
		}
		return nil, crdt.ErrNoMoreBroadcast
	}
}

// deliver queues the heads of an announcement without blocking.
func (v *epochView) deliver(announcement []byte) {
	var m pb.CRDTBroadcast
	if proto.Unmarshal(announcement, &m) != nil {
		return
	}
	v.mu.Lock()
	for _, h := range m.Heads {
		c, err := cid.Cast(h.Cid)
		if err != nil {
			continue
		}
		if _, ok := v.queued[c]; ok {
			continue
		}
		if len(v.pending) >= maxPendingHeads {
			delete(v.queued, v.pending[0])
			v.pending = v.pending[1:]
		}
		v.queued[c] = struct{}{}
		v.pending = append(v.pending, c)
	}
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *epochView) close() { v.once.Do(func() { close(v.done) }) }

// peerAnnounce is what an office last announced.
type peerAnnounce struct {
	id    epochID
	heads string
	at    time.Time
}

// epochs is the namespace's epoch bookkeeping.
type epochs struct {
	mu sync.Mutex
	// newest is the greatest epoch announced that is greater than ours.
	newest   epochID
	peers    map[peer.ID]peerAnnounce
	disagree time.Time // since when the leader has waited for agreement
	join     JoinProgress
	tr       *joinTracker
	folds    int
	lastOld  time.Time // last announcement made for a laggard
	// fetching are the heads prefetched lately (see prefetch).
	fetching map[cid.Cid]struct{}
	seedSize int64 // items in the current seed
}

// crdtDS returns the current epoch's CRDT.
func (n *CRDTNamespace) crdtDS() *crdt.Datastore { return n.cur.Load().crdt }

// loadEpoch reads the current epoch (generation 0, epoch 0 when none).
func (n *CRDTNamespace) loadEpoch() (uint64, epochID, error) {
	v, ok, err := n.idx.get(keyEpoch)
	if err != nil || !ok {
		return 0, epochID{}, err
	}
	if len(v) < 16 {
		return 0, epochID{}, errors.New("load epoch: malformed")
	}
	id := epochID{number: binary.BigEndian.Uint64(v[8:16])}
	if len(v) > 16 {
		if id.seed, err = cid.Cast(v[16:]); err != nil {
			return 0, epochID{}, fmt.Errorf("load epoch: %w", err)
		}
	}
	return binary.BigEndian.Uint64(v), id, nil
}

func (n *CRDTNamespace) saveEpoch(gen uint64, id epochID) error {
	v := binary.BigEndian.AppendUint64(nil, gen)
	v = binary.BigEndian.AppendUint64(v, id.number)
	v = append(v, seedBytes(id.seed)...)
	return n.idx.db.Set(keyEpoch, v, n.idx.wo)
}

// dropOtherGens deletes the CRDT state of every generation but keep.
func (n *CRDTNamespace) dropOtherGens(keep uint64) error {
	b := n.idx.db.NewBatch()
	defer b.Close()
	gen0 := []byte(crdtNamespace + "/")
	if keep != 0 {
		if err := b.DeleteRange(gen0, upperBound(gen0), nil); err != nil {
			return err
		}
	}
	lo, hi := []byte(crdtNamespace+"."), gen0 // every later generation sorts here
	if keep == 0 {
		if err := b.DeleteRange(lo, hi, nil); err != nil {
			return err
		}
	} else {
		p := []byte(crdtGenNamespace(keep) + "/")
		if err := b.DeleteRange(lo, p, nil); err != nil {
			return err
		}
		if err := b.DeleteRange(upperBound(p), hi, nil); err != nil {
			return err
		}
	}
	return b.Commit(n.idx.wo)
}

// openGen opens the CRDT of generation gen, epoch id.
func (n *CRDTNamespace) openGen(gen uint64, id epochID) (*epochState, error) {
	ns := crdtGenNamespace(gen)
	guard := newWalkGuard(n.store, ns, n.log)
	if err := guard.recover(context.Background()); err != nil {
		return nil, err
	}
	st := &epochState{gen: gen, id: id}
	var bcast crdt.Broadcaster
	if n.bcast != nil {
		st.view = newEpochView(n, id)
		bcast = guardedBroadcaster{Broadcaster: st.view, g: guard}
	}
	opts := crdt.DefaultOptions()
	opts.Logger = crdtLogger{n.log.With("component", "crdt")}
	opts.RebroadcastInterval = n.cfg.RebroadcastInterval
	opts.DAGSyncerTimeout = n.cfg.DAGSyncTimeout
	opts.RepairInterval = n.cfg.RepairInterval
	opts.PutHook = n.putHook
	c, err := crdt.New(guard, ds.NewKey(ns), n.dag, bcast, opts)
	if err != nil {
		return nil, err
	}
	st.crdt = c
	return st, nil
}

// announcement is the current epoch's heads, in its envelope: what is
// announced when a peer joins. nil when there is nothing to announce.
func (n *CRDTNamespace) announcement(ctx context.Context) ([]byte, error) {
	cur := n.cur.Load()
	h, err := encodeHeads(cur.crdt.InternalStats(ctx))
	if err != nil || cur.id.number == 0 {
		return h, err
	}
	if h == nil {
		h = []byte{}
	}
	return wrapHeads(cur.id, h, nil), nil
}

// demux reads the namespace topic: announcements of the current epoch go
// to its CRDT, a greater epoch wakes the epoch loop, a lesser one is
// answered with ours.
func (n *CRDTNamespace) demux(ctx context.Context) {
	defer close(n.demuxDone)
	for {
		msg, err := n.bcast.sub.Next(ctx)
		if err != nil {
			return
		}
		id, heads, attached, err := unwrapHeads(msg.GetData())
		if err != nil {
			n.log.Debug("ignored a malformed namespace announcement", "peer", msg.GetFrom().String())
			continue
		}
		from := msg.GetFrom()
		cur := n.cur.Load()
		n.ep.mu.Lock()
		if from != "" {
			n.ep.peers[from] = peerAnnounce{id: id, heads: headsKey(heads), at: time.Now()}
		}
		switch {
		case id.equal(cur.id):
		case cur.id.less(id):
			if n.ep.newest.less(id) {
				n.ep.newest = id
				select {
				case n.epochWake <- struct{}{}:
				default:
				}
			}
		default:
			if now := time.Now(); now.Sub(n.ep.lastOld) > time.Second {
				n.ep.lastOld = now
				go n.bcast.announce()
			}
		}
		n.ep.mu.Unlock()
		if id.equal(cur.id) && len(heads) > 0 && cur.view != nil {
			n.storeAttached(ctx, attached)
			n.prefetch(ctx, heads)
			cur.view.deliver(heads)
		}
	}
}

// prefetchLimit bounds the head blocks being prefetched at once.
const prefetchLimit = 32

// prefetch fetches, in the background and in parallel, the blocks of the
// heads an announcement names and of their parents, so that go-ds-crdt —
// which processes one announcement at a time and fetches a delta only when
// it gets to it — finds them in the local store. Without it, a burst of
// concurrent writes at many offices costs every node one Bitswap round
// trip per write, one after the other. Fetching a block changes no state;
// the block store verifies it.
func (n *CRDTNamespace) prefetch(ctx context.Context, announcement []byte) {
	var m pb.CRDTBroadcast
	if proto.Unmarshal(announcement, &m) != nil {
		return
	}
	for _, h := range m.Heads {
		c, err := cid.Cast(h.Cid)
		if err != nil {
			continue
		}
		n.ep.mu.Lock()
		_, seen := n.ep.fetching[c]
		if !seen {
			if len(n.ep.fetching) > 4096 {
				clear(n.ep.fetching)
			}
			n.ep.fetching[c] = struct{}{}
		}
		n.ep.mu.Unlock()
		if seen {
			continue
		}
		select {
		case n.prefetchSem <- struct{}{}:
		default:
			continue // busy: go-ds-crdt fetches it itself
		}
		go func() {
			defer func() { <-n.prefetchSem }()
			ctx, cancel := context.WithTimeout(ctx, n.cfg.DAGSyncTimeout)
			defer cancel()
			nd, err := n.dag.Get(ctx, c)
			if err != nil {
				return
			}
			var parents []cid.Cid
			for _, l := range nd.Links() {
				parents = append(parents, l.Cid)
			}
			for range n.dag.GetMany(ctx, parents) {
			}
		}()
	}
}

// epochLoop moves to newer epochs as they are announced and folds when
// this node leads (see Epochs above).
func (n *CRDTNamespace) epochLoop(ctx context.Context) {
	defer close(n.epochDone)
	t := time.NewTicker(n.cfg.RebroadcastInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.epochWake:
		case <-t.C:
		}
		n.ep.mu.Lock()
		target := n.ep.newest
		n.ep.mu.Unlock()
		if n.cur.Load().id.less(target) {
			if err := n.switchEpoch(ctx, target, nil); err != nil && ctx.Err() == nil {
				n.log.Warn("could not move to the namespace's newer epoch; will retry", "epoch", target.number, "snapshot", target.seed.String(), "err", err)
			}
			continue
		}
		// go-ds-crdt rebroadcasts only the heads no one else announced:
		// while a fold is due, every node announces its heads each round,
		// so the leader can tell whether every office has them.
		if n.bcast != nil && n.foldDue(ctx) {
			n.bcast.announce()
		}
		if n.cfg.FoldHeight > 0 && n.shouldFold(ctx) {
			if _, err := n.Fold(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("namespace fold failed", "err", err)
			}
			continue
		}
		// A fresh epoch has no heads for go-ds-crdt to rebroadcast: say
		// which epoch this is anyway, for offices that lag.
		if cur := n.cur.Load(); cur.id.number > 0 && n.bcast != nil && len(cur.crdt.InternalStats(ctx).Heads) == 0 {
			n.bcast.announce()
		}
	}
}

// knownOffices are the topic peers and the offices heard from lately.
func (n *CRDTNamespace) knownOffices() map[peer.ID]bool {
	out := map[peer.ID]bool{}
	if n.ps != nil {
		for _, p := range n.ps.ListPeers(CRDTTopic(n.cfg.Network)) {
			out[p] = true
		}
	}
	recent := time.Now().Add(-3 * n.cfg.RebroadcastInterval)
	for p, a := range n.ep.peers {
		if a.at.After(recent) {
			out[p] = true
		}
	}
	return out
}

// foldDue reports whether the current epoch reached the fold height
// (DefaultCRDTFoldHeight on a node that never folds).
func (n *CRDTNamespace) foldDue(ctx context.Context) bool {
	h := n.cfg.FoldHeight
	if h <= 0 {
		h = DefaultCRDTFoldHeight
	}
	return n.crdtDS().InternalStats(ctx).MaxHeight >= uint64(h)
}

// ErrFoldRefused marks a fold the namespace cannot make: while a bucket
// is versioned (or was: it keeps older versions), a snapshot, which
// carries each key's current version, would lose the others; the history
// of such a namespace is not folded.
var ErrFoldRefused = errors.New("fold refused")

// anyVersioned returns the name of a bucket whose versioning is or was
// on, "" when there is none.
func (n *CRDTNamespace) anyVersioned(ctx context.Context) (string, error) {
	bs, err := n.ListBuckets(ctx)
	if err != nil {
		return "", err
	}
	for _, b := range bs {
		if b.Versioning != "" {
			return b.Name, nil
		}
	}
	return "", nil
}

// shouldFold reports whether this node is to fold its epoch now.
func (n *CRDTNamespace) shouldFold(ctx context.Context) bool {
	if v, err := n.anyVersioned(ctx); err != nil || v != "" {
		return false
	}
	cur := n.cur.Load()
	st := cur.crdt.InternalStats(ctx)
	if st.MaxHeight < uint64(n.cfg.FoldHeight) || st.QueuedJobs > 0 || cur.crdt.IsDirty(ctx) {
		return false
	}
	mine := statsHeadsKey(st)
	n.ep.mu.Lock()
	defer n.ep.mu.Unlock()
	known := n.knownOffices()
	agreed := true
	recent := time.Now().Add(-3 * n.cfg.RebroadcastInterval)
	for p := range known {
		if p.String() < n.cfg.NodeID && p.String() != n.cfg.NodeID {
			return false // not the leader
		}
		a, ok := n.ep.peers[p]
		if !ok || !a.id.equal(cur.id) || a.heads != mine || a.at.Before(recent) {
			agreed = false
		}
	}
	if agreed {
		n.ep.disagree = time.Time{}
		return true
	}
	if n.ep.disagree.IsZero() {
		n.ep.disagree = time.Now()
	}
	return time.Since(n.ep.disagree) >= n.cfg.FoldWait
}

// Fold starts a new epoch seeded by a snapshot of this node's index and
// returns the snapshot's root. Other nodes follow when they hear of it.
// The background loop calls it when this node leads (see
// CRDTConfig.FoldHeight); it is exported for tests and operators.
func (n *CRDTNamespace) Fold(ctx context.Context) (cid.Cid, error) {
	if v, err := n.anyVersioned(ctx); err != nil || v != "" {
		if err == nil {
			err = fmt.Errorf("%w: bucket %s is versioned, and snapshots carry each key's current version only", ErrFoldRefused, v)
		}
		return cid.Undef, fmt.Errorf("fold: %w", err)
	}
	n.switchMu.Lock()
	defer n.switchMu.Unlock()
	cur := n.cur.Load()
	s, err := n.buildSnapshot(ctx, n.dag, cur.id.number+1, cur.crdt.InternalStats(ctx).Heads)
	if err != nil {
		return cid.Undef, fmt.Errorf("fold: %w", err)
	}
	if err := n.switchLocked(ctx, epochID{number: cur.id.number + 1, seed: s.root}, s); err != nil {
		return cid.Undef, fmt.Errorf("fold: %w", err)
	}
	n.ep.mu.Lock()
	n.ep.folds++
	n.ep.mu.Unlock()
	n.metrics.folds.Inc()
	if n.bcast != nil {
		go n.bcast.announce()
	}
	n.log.Info("namespace folded into a new epoch", "epoch", cur.id.number+1, "snapshot", s.root.String(), "items", s.header.Items, "bytes", s.header.Bytes)
	return s.root, nil
}

// switchEpoch moves to epoch target, fetching its seed.
func (n *CRDTNamespace) switchEpoch(ctx context.Context, target epochID, local *snapshot) error {
	n.switchMu.Lock()
	defer n.switchMu.Unlock()
	return n.switchLocked(ctx, target, local)
}

func (n *CRDTNamespace) setJoin(fn func(p *JoinProgress)) {
	n.ep.mu.Lock()
	fn(&n.ep.join)
	n.ep.mu.Unlock()
}

// switchLocked does a switch (see Epochs above). local is the seed when
// this node built it from its own index: nothing to fetch or install.
func (n *CRDTNamespace) switchLocked(ctx context.Context, target epochID, local *snapshot) (err error) {
	cur := n.cur.Load()
	if !cur.id.less(target) {
		return nil
	}
	tr := &joinTracker{}
	start := time.Now()
	n.setJoin(func(p *JoinProgress) {
		*p = JoinProgress{State: "fetching", Snapshot: target.seed.String(), Epoch: target.number, Started: start}
	})
	n.ep.mu.Lock()
	n.ep.tr = tr
	n.ep.mu.Unlock()
	defer func() {
		n.setJoin(func(p *JoinProgress) {
			p.Finished = time.Now()
			p.LeavesDone, p.ItemsDone, p.Bytes = int(tr.leavesDone.Load()), tr.itemsDone.Load(), tr.bytes.Load()
			if err != nil {
				p.State, p.Err = "failed", err.Error()
			} else {
				p.State = "done"
			}
		})
		n.ep.mu.Lock()
		n.ep.tr = nil
		n.ep.mu.Unlock()
		n.metrics.switchSeconds.Observe(time.Since(start).Seconds())
	}()
	fctx, cancel := context.WithTimeout(ctx, n.cfg.SnapshotTimeout)
	defer cancel()
	s := local
	if s == nil {
		if s, err = loadSnapshotRoot(fctx, n.dag, target.seed); err != nil {
			return err
		}
		if s.header.Epoch != target.number {
			return fmt.Errorf("snapshot %s: %w", target.seed, errSnapshotEpoch)
		}
		n.setJoin(func(p *JoinProgress) {
			p.State, p.Leaves, p.Items = "installing", s.header.Leaves, s.header.Items
		})
		if err := n.installSnapshot(fctx, n.dag, s, tr); err != nil {
			return err
		}
		n.metrics.snapshotBytes.Add(float64(tr.bytes.Load()))
	} else {
		n.setJoin(func(p *JoinProgress) { p.Leaves, p.Items = s.header.Leaves, s.header.Items })
	}
	n.setJoin(func(p *JoinProgress) { p.State = "switching" })

	// Stop local writes and the old epoch.
	n.crdtMu.Lock()
	defer n.crdtMu.Unlock()
	if cur.view != nil {
		cur.view.close()
	}
	if err := cur.crdt.Close(); err != nil {
		n.log.Warn("closing the old epoch's CRDT", "err", err)
	}
	reopen := func(cause error) error {
		old, err := n.openGen(cur.gen, cur.id)
		if err != nil {
			n.indexFailed.Store(true)
			return errors.Join(cause, fmt.Errorf("reopen epoch %d: %w", cur.id.number, err))
		}
		n.cur.Store(old)
		return cause
	}
	journal := []byte(walkJournalSpace)
	if err := n.idx.db.DeleteRange(journal, upperBound(journal), n.idx.wo); err != nil {
		return reopen(err)
	}
	p := []byte(crdtGenNamespace(cur.gen+1) + "/")
	if err := n.idx.db.DeleteRange(p, upperBound(p), n.idx.wo); err != nil {
		return reopen(err)
	}
	next, err := n.openGen(cur.gen+1, target)
	if err != nil {
		return reopen(err)
	}
	republished := 0
	b, _ := next.crdt.Batch(fctx)
	err = n.snapshotDiff(fctx, n.dag, s, func(e kv) error {
		if err := b.Put(fctx, ds.NewKey(e.key), e.value); err != nil {
			return err
		}
		if republished++; republished%maxGroupEntries == 0 {
			if err := b.Commit(fctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && republished%maxGroupEntries != 0 {
		err = b.Commit(fctx)
	}
	if err == nil {
		err = n.saveEpoch(next.gen, target) // the commit point
	}
	if err != nil {
		if next.view != nil {
			next.view.close()
		}
		next.crdt.Close()
		return reopen(err)
	}
	n.cur.Store(next)
	n.ep.mu.Lock()
	n.ep.seedSize = s.header.Items
	n.ep.mu.Unlock()
	n.setJoin(func(p *JoinProgress) { p.Republished = republished })
	if err := n.dropOtherGens(next.gen); err != nil {
		n.log.Warn("deleting the old epoch's CRDT state; it will be deleted at next open", "err", err)
	}
	pq := []byte(prefixPrune)
	if err := n.idx.db.DeleteRange(pq, upperBound(pq), n.idx.wo); err != nil {
		n.log.Warn("clearing the prune queue", "err", err)
	}
	n.log.Info("namespace moved to a new epoch", "epoch", target.number, "snapshot", target.seed.String(),
		"items", s.header.Items, "republished", republished, "dur", time.Since(start))
	return nil
}

// installSeed merges the current epoch's seed into the index (a rebuild).
func (n *CRDTNamespace) installSeed(ctx context.Context) error {
	cur := n.cur.Load()
	if cur.id.number == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.SnapshotTimeout)
	defer cancel()
	s, err := loadSnapshotRoot(ctx, n.dag, cur.id.seed)
	if err != nil {
		return err
	}
	n.ep.mu.Lock()
	n.ep.seedSize = s.header.Items
	n.ep.mu.Unlock()
	return n.installSnapshot(ctx, n.dag, s, &joinTracker{})
}

// EpochStatus is the epoch part of NamespaceStatus.
type EpochStatus struct {
	// Epoch is the current epoch's number (0 until the first fold), and
	// Snapshot the root CID of the snapshot it started from ("" in epoch
	// 0); SnapshotItems counts the keys and buckets in it.
	Epoch         uint64
	Snapshot      string
	SnapshotItems int64
	// Backlog is the DAG height of the current epoch: about how many
	// deltas a node joining now walks after the snapshot, and what a fold
	// collects.
	Backlog uint64
	// Folds counts the folds this node made since it opened.
	Folds int
	// Join is the latest move to a snapshot (a join or a later epoch).
	Join JoinProgress
}

func (n *CRDTNamespace) epochStatus(st crdt.Stats) EpochStatus {
	cur := n.cur.Load()
	n.ep.mu.Lock()
	defer n.ep.mu.Unlock()
	out := EpochStatus{Epoch: cur.id.number, SnapshotItems: n.ep.seedSize, Backlog: st.MaxHeight, Folds: n.ep.folds, Join: n.ep.join}
	if cur.id.seed.Defined() {
		out.Snapshot = cur.id.seed.String()
	}
	if tr := n.ep.tr; tr != nil {
		out.Join.LeavesDone, out.Join.ItemsDone, out.Join.Bytes = int(tr.leavesDone.Load()), tr.itemsDone.Load(), tr.bytes.Load()
	}
	return out
}
