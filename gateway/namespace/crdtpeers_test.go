package namespace

import (
	"context"
	"fmt"
	"maps"
	"s3mesh/gateway/internal/gwtest"
	"s3mesh/internal/poll"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"s3mesh/s3api"
)

// Helpers of the multi-node namespace tests: partitions, listings,
// winners and diagnostics.

// partition cuts the connections between two groups of peers and keeps
// them cut until heal: a connection between the groups that opens in the
// meantime is closed at once and counted as a redial.
type partition struct {
	t       *testing.T
	all     []*crdtPeer
	other   map[*crdtPeer]map[peer.ID]string // peer -> the far side's IDs -> names
	notify  map[*crdtPeer]*network.NotifyBundle
	redials atomic.Int64
	mu      sync.Mutex
	log     []string // redials seen
	stop    sync.Once
}

// cut partitions left from right.
func cut(t *testing.T, left, right []*crdtPeer) *partition {
	t.Helper()
	pt := &partition{t: t, all: slices.Concat(left, right), other: map[*crdtPeer]map[peer.ID]string{}, notify: map[*crdtPeer]*network.NotifyBundle{}}
	side := func(ps []*crdtPeer) map[peer.ID]string {
		m := map[peer.ID]string{}
		for _, p := range ps {
			m[p.ex.ID()] = p.name
		}
		return m
	}
	for _, p := range left {
		pt.other[p] = side(right)
	}
	for _, p := range right {
		pt.other[p] = side(left)
	}
	// Watch for new connections first, then cut the existing ones.
	for p, far := range pt.other {
		nb := &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
			name, ok := far[c.RemotePeer()]
			if !ok {
				return
			}
			pt.redials.Add(1)
			pt.mu.Lock()
			pt.log = append(pt.log, fmt.Sprintf("%s-%s (%s)", p.name, name, c.Stat().Direction))
			pt.mu.Unlock()
			go c.Close()
		}}
		pt.notify[p] = nb
		p.ex.Host().Network().Notify(nb)
	}
	t.Cleanup(pt.stopWatching)
	for p, far := range pt.other {
		for id, name := range far {
			if err := p.ex.Host().Network().ClosePeer(id); err != nil {
				t.Fatalf("close %s-%s: %v", p.name, name, err)
			}
		}
	}
	waitFor(t, "partition", pt.cutErr)
	return pt
}

// cutErr reports a connection or a topic peer across the partition.
func (pt *partition) cutErr() error {
	topic := CRDTTopic(crdtTestNetwork)
	for p, far := range pt.other {
		for id, name := range far {
			if c := p.ex.Host().Network().Connectedness(id); c == network.Connected {
				return fmt.Errorf("%s is connected to %s", p.name, name)
			}
		}
		for _, id := range p.ps.ListPeers(topic) {
			if name, ok := far[id]; ok {
				return fmt.Errorf("%s still has %s as a topic peer", p.name, name)
			}
		}
	}
	return nil
}

// check fails the test if the partition does not hold.
func (pt *partition) check() {
	pt.t.Helper()
	if err := pt.cutErr(); err != nil {
		pt.t.Fatalf("partition broken: %v", err)
	}
}

// stopWatching removes the notifiees. Not under pt.mu: the swarm holds
// its notifiee lock while calling them.
func (pt *partition) stopWatching() {
	pt.stop.Do(func() {
		for p, nb := range pt.notify {
			if p.ex != nil {
				p.ex.Host().Network().StopNotify(nb)
			}
		}
	})
}

// heal checks the partition held, reports redials, and reconnects
// everyone.
func (pt *partition) heal() {
	pt.t.Helper()
	pt.check()
	pt.stopWatching()
	if n := pt.redials.Load(); n > 0 {
		pt.mu.Lock()
		pt.t.Logf("REDIAL: %d connection(s) across the partition opened and were closed: %s", n, strings.Join(pt.log, ", "))
		pt.mu.Unlock()
	}
	connectCrdtPeers(pt.t, pt.all)
}

// holdFor polls cond for d and fails the test as soon as it reports an
// error: what must stay true for a while.
func holdFor(t *testing.T, what string, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listAll lists a whole bucket at p, page by page (1000 keys a page, each
// page starting after the last key of the previous one).
func listAll(p *crdtPeer, bucket string) ([]s3api.ObjectInfo, error) {
	var out []s3api.ObjectInfo
	after := ""
	for range 10_000 {
		res, err := List(context.Background(), p.ns, s3api.ListObjectsInput{Bucket: bucket, MaxKeys: 1000, After: after})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Objects...)
		if !res.IsTruncated {
			return out, nil
		}
		if res.NextAfter == "" || res.NextAfter <= after {
			return nil, fmt.Errorf("listing %s: bad NextAfter %q after %q", bucket, res.NextAfter, after)
		}
		after = res.NextAfter
	}
	return nil, fmt.Errorf("listing %s: too many pages", bucket)
}

// listEtags lists a whole bucket at p as key -> ETag.
func listEtags(p *crdtPeer, bucket string) (map[string]string, error) {
	objs, err := listAll(p, bucket)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(objs))
	for _, o := range objs {
		m[o.Key] = o.ETag
	}
	return m, nil
}

// stateIs reports how p's listing of bucket differs from want (key ->
// ETag), or nil.
func stateIs(p *crdtPeer, bucket string, want map[string]string) error {
	got, err := listEtags(p, bucket)
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	if maps.Equal(got, want) {
		return nil
	}
	for k, e := range want {
		if g, ok := got[k]; !ok {
			return fmt.Errorf("%s lists %d keys, not %d: %s missing", p.name, len(got), len(want), k)
		} else if g != e {
			return fmt.Errorf("%s has %s = %q, want %q", p.name, k, g, e)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("%s lists %d keys, not %d: %s is extra", p.name, len(got), len(want), k)
		}
	}
	return nil
}

// winnerAt is winnerVersion without t, for any goroutine.
func winnerAt(ns *CRDTNamespace, bucket, key string) (string, error) {
	v, ok, err := ns.idx.get(winnerKey(bucket, key))
	if err != nil || !ok {
		return "", err
	}
	w, err := decodeWinner(v)
	return w.version, err
}

func putObj(p *crdtPeer, bucket, key, etag string) error {
	return p.ns.PutObject(context.Background(), &ObjectRecord{Bucket: bucket, Key: key, ETag: etag, Root: gwtest.EmptyFileCID, Size: int64(len(etag))}, nil)
}

// sameWinners reports a key of keys whose winning version differs between
// peers, or nil.
func sameWinners(peers []*crdtPeer, bucket string, keys []string) error {
	for _, k := range keys {
		var first string
		for i, p := range peers {
			v, err := winnerAt(p.ns, bucket, k)
			if err != nil {
				return err
			}
			if i == 0 {
				first = v
			} else if v != first {
				return fmt.Errorf("%s: winner %s at %s, %s at %s", k, first, peers[0].name, v, p.name)
			}
		}
	}
	return nil
}

// waitForDiag is waitFor within timeout, logging diag() before failing.
func waitForDiag(t *testing.T, what string, timeout time.Duration, cond func() error, diag func() string) {
	t.Helper()
	poll.UntilDiag(t, what, timeout, cond, diag)
}

// crdtDiag describes p's CRDT: its heads, its dirty bit, and whether the
// heads of the others are among its processed blocks.
func crdtDiag(p *crdtPeer, others ...*crdtPeer) string {
	ctx := context.Background()
	st := p.ns.crdtDS().InternalStats(ctx)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d heads, max height %d, dirty %v", p.name, len(st.Heads), st.MaxHeight, p.ns.crdtDS().IsDirty(ctx))
	mine := map[cid.Cid]bool{}
	for _, h := range st.Heads {
		mine[h] = true
	}
	for _, o := range others {
		for _, h := range o.ns.crdtDS().InternalStats(ctx).Heads {
			done, err := p.ns.store.Has(ctx, ds.NewKey("/crdt/b").ChildString(dshelp.MultihashToDsKey(h.Hash()).String()))
			fmt.Fprintf(&b, "; head %s of %s: processed at %s %v (%v), a head there %v", h, o.name, p.name, done, err, mine[h])
		}
	}
	fmt.Fprintf(&b, "; %s", dagScan(p))
	return b.String()
}

// dagScan walks p's DAG of deltas from its heads through its block store
// and reports the blocks it has not processed (merged), in particular
// those below a processed block: go-ds-crdt skips a processed block, so
// such a block is only reached again by a repair walk.
func dagScan(p *crdtPeer) string {
	ctx := context.Background()
	processed := func(c cid.Cid) bool {
		ok, _ := p.ns.store.Has(ctx, ds.NewKey("/crdt/b").ChildString(dshelp.MultihashToDsKey(c.Hash()).String()))
		return ok
	}
	queue := slices.Clone(p.ns.crdtDS().InternalStats(ctx).Heads)
	seen := cid.NewSet()
	for _, h := range queue {
		seen.Add(h)
	}
	var blocks, unprocessed, missing, belowProcessed int
	var example string
	for len(queue) > 0 && blocks < 1_000_000 {
		c := queue[0]
		queue = queue[1:]
		blocks++
		done := processed(c)
		if !done {
			unprocessed++
		}
		blk, err := p.blocks.Get(ctx, c)
		if err != nil {
			missing++
			continue
		}
		nd, err := merkledag.DecodeProtobufBlock(blk)
		if err != nil {
			return fmt.Sprintf("dag scan: %s: %v", c, err)
		}
		for _, l := range nd.Links() {
			if done && !processed(l.Cid) {
				belowProcessed++
				if example == "" {
					example = fmt.Sprintf(" (e.g. %s below %s)", l.Cid, c)
				}
			}
			if seen.Visit(l.Cid) {
				queue = append(queue, l.Cid)
			}
		}
	}
	return fmt.Sprintf("DAG from the heads: %d blocks, %d not processed, %d not in the block store, %d unprocessed below a processed block%s",
		blocks, unprocessed, missing, belowProcessed, example)
}
