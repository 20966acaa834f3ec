package namespace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"s3mesh/gateway/internal/gwtest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"

	"s3mesh/s3api/s3err"
)

// Fault-injection tests of the replicated namespace: several real nodes
// (libp2p hosts on loopback, Bitswap, GossipSub, go-ds-crdt, Pebble), with
// faults injected only by closing connections or by wrapping the DAG
// service a node fetches deltas through (in the style of Pebble's errorfs).

// errInjected is the error of a block fetch failed by a dagFaults.
var errInjected = errors.New("injected fault: block fetch failed")

// TestCrdtPartition proves that an office cut off from the others keeps
// serving what it holds and accepting writes, that the writes of each side
// stay on their side while the partition lasts, and that once it heals
// every office converges to the same listing and, key by key, to the same
// winner: the entry with the greatest version, whatever was written on
// either side (new keys, the same key written on both sides in both
// orders, a key deleted on one side and overwritten on the other, in both
// orders). With C's clock a minute ahead, C's entries have the greater
// versions and win even over writes A made after them.
func TestCrdtPartition(t *testing.T) {
	for _, tc := range []struct {
		name  string
		skewC time.Duration // added to C's clock
	}{
		{"same clocks", 0},
		{"C's clock ahead", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := newCrdtPeers(t, 3)
			if tc.skewC != 0 {
				c := peers[2]
				c.close(t)
				c.mod = func(cfg *CRDTConfig) { cfg.Clock = func() time.Time { return time.Now().Add(tc.skewC) } }
				c.open(t)
				connectCrdtPeers(t, peers)
			}
			partitionAndHeal(t, peers, tc.skewC != 0)
		})
	}
}

// partitionAndHeal runs TestCrdtPartition on peers A, B, C. cWins: C's
// clock is ahead, so its entries win every key it wrote; otherwise the
// last write of each key wins.
func partitionAndHeal(t *testing.T, peers []*crdtPeer, cWins bool) {
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()
	const bkt = "bkt"
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, bkt)
	base := map[string]string{"base1": "b1", "base2": "b2", "delA": "d1", "delC": "d2", "both": "x", "both2": "y"}
	for i, k := range slices.Sorted(maps.Keys(base)) {
		crdtPut(t, peers[i%3], bkt, k, base[k])
	}
	waitFor(t, "base replicated", func() error {
		for _, p := range peers {
			if err := stateIs(p, bkt, base); err != nil {
				return err
			}
		}
		return nil
	})

	pt := cut(t, []*crdtPeer{a, b}, []*crdtPeer{c})

	// C serves what it holds.
	if rec, err := c.ns.GetObject(ctx, bkt, "base1"); err != nil || rec.ETag != "b1" {
		t.Fatalf("C: get base1: %+v, %v", rec, err)
	}
	if err := stateIs(c, bkt, base); err != nil {
		t.Fatalf("C cut off: %v", err)
	}

	// Writes on both sides, in this order; etag "" deletes.
	ops := []struct{ at, key, etag string }{
		{"A", "onlyA", "a-new"},
		{"C", "onlyC", "c-new"},
		{"A", "both", "a-both"}, // same key, A then C
		{"C", "both", "c-both"},
		{"C", "both2", "c-both2"}, // same key, C then A
		{"A", "both2", "a-both2"},
		{"A", "delA", ""}, // deleted at A, then overwritten at C
		{"C", "delA", "c-over"},
		{"A", "delC", "a-over"}, // overwritten at A, then deleted at C
		{"C", "delC", ""},
	}
	byName := map[string]*crdtPeer{"A": a, "C": c}
	sideState := map[string]map[string]string{"A": maps.Clone(base), "C": maps.Clone(base)}
	type written struct{ at, version, etag string }
	best := map[string]written{}  // per key, the write with the greatest version
	wantAt := map[string]string{} // per key, the side whose write must win
	for _, op := range ops {
		p := byName[op.at]
		if op.etag == "" {
			if err := p.ns.DeleteObject(ctx, bkt, op.key); err != nil {
				t.Fatalf("%s: delete %s: %v", op.at, op.key, err)
			}
			delete(sideState[op.at], op.key)
		} else {
			crdtPut(t, p, bkt, op.key, op.etag)
			sideState[op.at][op.key] = op.etag
		}
		// Locally, a write always wins: its version is the key's winner.
		v := winnerVersion(t, p.ns, bkt, op.key)
		if v == "" || !p.ns.own(v) {
			t.Fatalf("%s: %s: winner %q after the write", op.at, op.key, v)
		}
		if v > best[op.key].version {
			best[op.key] = written{op.at, v, op.etag}
		}
		if !cWins || wantAt[op.key] != "C" {
			wantAt[op.key] = op.at
		}
		time.Sleep(3 * time.Millisecond) // the next op's clock reads later
	}

	// A's writes reach B; no write crosses the partition.
	waitFor(t, "B has A's writes", func() error { return stateIs(b, bkt, sideState["A"]) })
	holdFor(t, "partition isolates writes", 2*time.Second, func() error {
		if err := pt.cutErr(); err != nil {
			return err
		}
		for _, p := range []*crdtPeer{a, b} {
			if err := stateIs(p, bkt, sideState["A"]); err != nil {
				return err
			}
		}
		return stateIs(c, bkt, sideState["C"])
	})
	pt.heal()

	// Everyone converges to the greatest version of every key.
	want := maps.Clone(base)
	for k, w := range best {
		if w.etag == "" {
			delete(want, k)
		} else {
			want[k] = w.etag
		}
	}
	keys := slices.Sorted(maps.Keys(best))
	for _, k := range keys {
		if best[k].at != wantAt[k] {
			t.Errorf("%s: %s's write has the greatest version, expected %s's", k, best[k].at, wantAt[k])
		}
	}
	waitFor(t, "convergence after the partition", func() error {
		for _, p := range peers {
			if err := stateIs(p, bkt, want); err != nil {
				return err
			}
			for _, k := range keys {
				v, err := winnerAt(p.ns, bkt, k)
				if err != nil {
					return err
				}
				if v != best[k].version {
					return fmt.Errorf("%s: %s: winner %s, want %s", p.name, k, v, best[k].version)
				}
			}
		}
		return nil
	})
	var won []string
	for _, k := range keys {
		w := best[k]
		for _, p := range peers {
			rec, err := p.ns.GetObject(ctx, bkt, k)
			switch {
			case w.etag == "":
				if !errors.Is(err, s3err.ErrNoSuchKey) {
					t.Errorf("%s: %s: %+v, %v; want NoSuchKey", p.name, k, rec, err)
				}
			case err != nil || rec.ETag != w.etag:
				t.Errorf("%s: %s: %+v, %v; want etag %q", p.name, k, rec, err, w.etag)
			}
		}
		what := w.etag
		if what == "" {
			what = "deleted"
		}
		won = append(won, fmt.Sprintf("%s: %s's %s", k, w.at, what))
	}
	t.Logf("winners: %s", strings.Join(won, ", "))
}

// bucketGone reports a peer at which bucket, or key in it, is not reported
// as NoSuchBucket.
func bucketGone(peers []*crdtPeer, bucket, key string) error {
	ctx := context.Background()
	for _, p := range peers {
		if _, err := p.ns.GetBucket(ctx, bucket); !errors.Is(err, s3err.ErrNoSuchBucket) {
			return fmt.Errorf("%s: get bucket %s: %v", p.name, bucket, err)
		}
		if _, err := p.ns.GetObject(ctx, bucket, key); !errors.Is(err, s3err.ErrNoSuchBucket) {
			return fmt.Errorf("%s: get %s/%s: %v", p.name, bucket, key, err)
		}
		if _, err := listAll(p, bucket); !errors.Is(err, s3err.ErrNoSuchBucket) {
			return fmt.Errorf("%s: list %s: %v", p.name, bucket, err)
		}
	}
	return nil
}

// TestCrdtDeleteBucketRace proves the bucket-deletion semantics documented
// on CRDTNamespace when DeleteBucket at one office races a write into the
// bucket at another. The order is made deterministic by a partition
// ({A, C} | {B}): an object written before the bucket delete marker (by
// version) is dead for ever, everywhere — the bucket is gone and a later
// CreateBucket starts empty; an object written after it stays recorded,
// invisible while the bucket is gone, and listed everywhere once the
// bucket is created again. A live race without partition (B writing in a
// loop while A deletes) must leave every office with the same bucket
// existence and listing, holding exactly the objects written after the
// delete marker.
func TestCrdtDeleteBucketRace(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()

	for _, tc := range []struct {
		name        string
		deleteFirst bool   // A deletes before B writes (by version)
		key         string // the object B writes
		recreateAt  *crdtPeer
		want        map[string]string // listing once re-created
	}{
		{"write then delete", false, "early", b, map[string]string{}},
		{"delete then write", true, "late", a, map[string]string{"late": "etag-late"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bkt := "race-" + tc.key
			if err := a.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
				t.Fatal(err)
			}
			bucketEverywhere(t, peers, bkt)
			pt := cut(t, []*crdtPeer{a, c}, []*crdtPeer{b})
			write := func() {
				crdtPut(t, b, bkt, tc.key, "etag-"+tc.key)
			}
			del := func() {
				if err := a.ns.DeleteBucket(ctx, bkt); err != nil {
					t.Fatalf("A: delete bucket: %v", err)
				}
			}
			if tc.deleteFirst {
				del()
				time.Sleep(5 * time.Millisecond)
				write()
			} else {
				write()
				time.Sleep(5 * time.Millisecond)
				del()
			}
			// The versions are in the intended order.
			objVer := winnerVersion(t, b.ns, bkt, tc.key)
			bs, err := a.ns.bucketState(bkt)
			if err != nil {
				t.Fatal(err)
			}
			if objVer == "" || bs.cut == "" || (objVer > bs.cut) != tc.deleteFirst {
				t.Fatalf("object version %q, delete marker %q: not in the intended order", objVer, bs.cut)
			}
			// Nothing crosses the partition: B still has the bucket and
			// the object, C no longer has the bucket.
			waitFor(t, "C sees the delete", func() error { return bucketGone([]*crdtPeer{a, c}, bkt, tc.key) })
			holdFor(t, "partition", time.Second, func() error {
				if err := pt.cutErr(); err != nil {
					return err
				}
				if rec, err := b.ns.GetObject(ctx, bkt, tc.key); err != nil || rec.ETag != "etag-"+tc.key {
					return fmt.Errorf("B: %+v, %v", rec, err)
				}
				return bucketGone([]*crdtPeer{a, c}, bkt, tc.key)
			})
			pt.heal()

			waitFor(t, "bucket gone everywhere", func() error { return bucketGone(peers, bkt, tc.key) })
			// Stays gone once every node has every entry (a rebroadcast
			// later).
			holdFor(t, "bucket stays gone", 1500*time.Millisecond, func() error { return bucketGone(peers, bkt, tc.key) })
			// An object above the delete marker stays recorded (as the
			// key's winner); one below it is dropped for ever.
			for _, p := range peers {
				v, err := winnerAt(p.ns, bkt, tc.key)
				if err != nil {
					t.Fatal(err)
				}
				if recorded := v == objVer; recorded != tc.deleteFirst || (v != "" && !recorded) {
					t.Errorf("%s: winner of %s while the bucket is gone: %q (written at %s, bucket deleted at %s)", p.name, tc.key, v, objVer, bs.cut)
				}
			}

			if err := tc.recreateAt.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
				t.Fatalf("%s: create bucket again: %v", tc.recreateAt.name, err)
			}
			bucketEverywhere(t, peers, bkt)
			waitFor(t, "listing of the re-created bucket", func() error {
				for _, p := range peers {
					if err := stateIs(p, bkt, tc.want); err != nil {
						return err
					}
				}
				return nil
			})
			for _, p := range peers {
				rec, err := p.ns.GetObject(ctx, bkt, tc.key)
				if len(tc.want) == 0 && !errors.Is(err, s3err.ErrNoSuchKey) {
					t.Errorf("%s: %s after re-create: %+v, %v; want NoSuchKey", p.name, tc.key, rec, err)
				}
				if len(tc.want) != 0 && (err != nil || rec.ETag != tc.want[tc.key]) {
					t.Errorf("%s: %s after re-create: %+v, %v", p.name, tc.key, rec, err)
				}
			}
			// The re-created bucket replicates as usual.
			crdtPut(t, c, bkt, "after", "etag-after")
			etagEverywhere(t, peers, bkt, "after", "etag-after")
		})
	}

	for _, tc := range []struct {
		name string
		// empty: A deletes the objects it sees before each attempt to
		// delete the bucket (like "aws s3 rb --force"); otherwise it only
		// retries while the bucket is not empty.
		empty bool
	}{
		{"live race", false},
		{"live race emptying", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bkt := strings.ReplaceAll(tc.name, " ", "-")
			if err := a.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
				t.Fatal(err)
			}
			bucketEverywhere(t, peers, bkt)
			liveDeleteRace(t, peers, bkt, tc.empty)
		})
	}
}

// liveDeleteRace has B write into bucket in a loop while A deletes it,
// then checks every node ends with the same bucket existence and listing
// and, once the bucket is re-created, lists exactly the objects whose
// winning entry is a put above the delete marker.
func liveDeleteRace(t *testing.T, peers []*crdtPeer, bkt string, empty bool) {
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()
	start := make(chan struct{})
	var deleted atomic.Bool
	var attempts, objDeletes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // A deletes the bucket, retrying while it sees objects
		defer wg.Done()
		<-start
		if empty {
			time.Sleep(20 * time.Millisecond) // let B's first objects arrive
		}
		deadline := time.Now().Add(3 * time.Second)
		for i := 0; i < 200 && time.Now().Before(deadline); i++ {
			if empty {
				objs, err := listAll(a, bkt)
				if err != nil {
					t.Errorf("A: list: %v", err)
					return
				}
				for _, o := range objs {
					if err := a.ns.DeleteObject(ctx, bkt, o.Key); err != nil {
						t.Errorf("A: delete %s: %v", o.Key, err)
						return
					}
					objDeletes.Add(1)
				}
			}
			attempts.Add(1)
			err := a.ns.DeleteBucket(ctx, bkt)
			if err == nil {
				deleted.Store(true)
				return
			}
			if !errors.Is(err, s3err.ErrBucketNotEmpty) {
				t.Errorf("A: delete bucket: %v", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	close(start)
	var wrote []string
	stopped := ""
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		key := fmt.Sprintf("k%04d", i)
		err := putObj(b, bkt, key, "etag-"+key)
		if errors.Is(err, s3err.ErrNoSuchBucket) {
			stopped = key // B has applied the delete marker
			break
		}
		if err != nil {
			t.Fatalf("B: put %s: %v", key, err)
		}
		wrote = append(wrote, key)
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	t.Logf("B wrote %d objects (stopped at %q); A deleted %d objects; A's bucket delete: done %v after %d attempt(s)",
		len(wrote), stopped, objDeletes.Load(), deleted.Load(), attempts.Load())

	// Every node agrees on the bucket's existence and listing.
	var exists bool
	waitFor(t, "same bucket state everywhere", func() error {
		var ref map[string]string
		for i, p := range peers {
			_, err := p.ns.GetBucket(ctx, bkt)
			ok := err == nil
			if err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
				return err
			}
			if i == 0 {
				exists = ok
			} else if ok != exists {
				return fmt.Errorf("bucket exists at %s: %v, at %s: %v", peers[0].name, exists, p.name, ok)
			}
			if !ok {
				continue
			}
			got, err := listEtags(p, bkt)
			if err != nil {
				return err
			}
			if i == 0 {
				ref = got
			} else if !maps.Equal(got, ref) {
				return fmt.Errorf("%s lists %d keys, %s %d", peers[0].name, len(ref), p.name, len(got))
			}
		}
		return nil
	})
	if exists != !deleted.Load() {
		t.Fatalf("bucket exists everywhere: %v, but A's delete succeeded: %v", exists, deleted.Load())
	}

	// What the bucket must hold: per key, the greatest entry, if it is a
	// put above the delete marker. Each entry is held at least by the
	// node that wrote it: take the union.
	var cutVer string
	if !exists {
		bs, err := a.ns.bucketState(bkt)
		if err != nil {
			t.Fatal(err)
		}
		cutVer = bs.cut
	}
	type top struct {
		version string
		put     bool
	}
	greatest := map[string]top{}
	for _, p := range peers {
		res, err := p.ns.crdtDS().Query(ctx, queryPrefix("/o/"+b64.EncodeToString([]byte(bkt))))
		if err != nil {
			t.Fatal(err)
		}
		entries, err := res.Rest()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			pk, err := parseEntryKey(e.Key)
			if err != nil {
				t.Fatal(err)
			}
			en, err := decodeEntry(e.Value)
			if err != nil {
				t.Fatal(err)
			}
			if pk.version > greatest[pk.key].version {
				greatest[pk.key] = top{pk.version, en.kind == entryPut}
			}
		}
	}
	if len(greatest) != len(wrote) {
		t.Fatalf("the nodes hold entries of %d keys; B wrote %d", len(greatest), len(wrote))
	}
	want := map[string]string{}
	for k, e := range greatest {
		if e.put && e.version > cutVer {
			want[k] = "etag-" + k
		}
	}
	t.Logf("%d of the %d objects written are above the delete marker and not deleted", len(want), len(wrote))
	if !exists {
		if err := c.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
			t.Fatal(err)
		}
		bucketEverywhere(t, peers, bkt)
	}
	waitFor(t, "listing everywhere", func() error {
		for _, p := range peers {
			if err := stateIs(p, bkt, want); err != nil {
				return err
			}
		}
		return nil
	})
	if err := sameWinners(peers, bkt, wrote); err != nil {
		t.Fatal(err)
	}
}

func etagsOf(keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = "etag-" + k
	}
	return m
}

// TestCrdtDeltaFetchRetry proves that a delta whose block cannot be
// fetched is retried, not lost. "head": while every fetch of B fails, A
// writes objects in a row; B applies none of them, and once fetches work
// again it applies them all (the head is not marked processed, and each
// rebroadcast of A retries it). "deep": B fetches the newest deltas but the
// fetch of one deeper in the chain fails, leaving the branch half walked
// (B applies the newer half only); once fetches work again, B must apply
// the older half too: the failed walk is unwound (see walkGuard), and A's
// next rebroadcast walks the branch again.
func TestCrdtDeltaFetchRetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		// failAt is the index of the write whose delta B cannot fetch
		// during the second phase; -1: no second phase.
		failAt int
	}{
		{name: "head", failAt: -1},
		{name: "deep", failAt: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := newCrdtPeers(t, 2)
			a, b := peers[0], peers[1]
			// A attaches no delta to its announcements: B fetches every
			// one (and fails to, while the faults are on).
			a.close(t)
			a.mod = func(c *CRDTConfig) { c.InlineDeltaBytes = -1 }
			a.open(t)
			connectCrdtPeers(t, peers)
			ctx := context.Background()
			const bkt = "bkt"
			if err := a.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
				t.Fatal(err)
			}
			bucketEverywhere(t, peers, bkt)
			crdtPut(t, a, bkt, "before", "before")
			etagEverywhere(t, peers, bkt, "before", "before")
			f := withFaults(t, peers, b, func(c *CRDTConfig) { c.RepairInterval = time.Second })

			f.failWhen(failAll)
			const n = 6
			var heads []cid.Cid // A's head after each write
			want := map[string]string{"before": "before"}
			for i := range n {
				key := fmt.Sprintf("obj%d", i)
				crdtPut(t, a, bkt, key, "etag-"+key)
				want[key] = "etag-" + key
				st := a.ns.crdtDS().InternalStats(ctx)
				if len(st.Heads) != 1 {
					t.Fatalf("A has %d heads", len(st.Heads))
				}
				heads = append(heads, st.Heads[0])
			}
			// About two rebroadcasts of A: B applies nothing.
			holdFor(t, "B applies nothing while its fetches fail", 2*time.Second, func() error {
				return stateIs(b, bkt, map[string]string{"before": "before"})
			})
			// B tried each of the n heads broadcast, then again when A
			// rebroadcast its head.
			waitFor(t, "B retries", func() error {
				if got := f.failed.Load(); got <= n {
					return fmt.Errorf("%d fetches failed", got)
				}
				return nil
			})
			t.Logf("phase 1: %d fetches failed, %d let through", f.failed.Load(), f.fetched.Load())

			if tc.failAt >= 0 {
				bad := heads[tc.failAt]
				failedBefore := f.failed.Load()
				f.failWhen(func(c cid.Cid) bool { return c.Equals(bad) })
				half := map[string]string{"before": "before"}
				for i := tc.failAt + 1; i < n; i++ {
					key := fmt.Sprintf("obj%d", i)
					half[key] = "etag-" + key
				}
				waitFor(t, "B walked half the branch", func() error {
					if f.failed.Load() == failedBefore {
						return errors.New("no failure yet")
					}
					return stateIs(b, bkt, half)
				})
				holdFor(t, "B stops at the missing delta", 1500*time.Millisecond, func() error { return stateIs(b, bkt, half) })
				t.Logf("phase 2: %d fetches failed, %d let through; B is dirty: %v", f.failed.Load(), f.fetched.Load(), b.ns.crdtDS().IsDirty(ctx))
			}

			f.failWhen(nil)
			waitForDiag(t, "B caught up", crdtWait, func() error { return stateIs(b, bkt, want) },
				func() string { return crdtDiag(b, a) })
			if err := stateIs(a, bkt, want); err != nil {
				t.Fatal(err)
			}
			if err := sameWinners(peers, bkt, slices.Collect(maps.Keys(want))); err != nil {
				t.Fatal(err)
			}
			t.Logf("end: %d fetches failed, %d let through", f.failed.Load(), f.fetched.Load())
		})
	}
}

// TestCrdtRestartMidApply proves that a node stopped (cleanly) in the
// middle of applying a backlog of deltas converges once restarted: C is
// stopped while A and B write 500 objects (2,000 with S3MESH_HEAVY),
// reopened with its fetches slowed down, closed again as soon as its index
// shows some but not all of the objects, and reopened; it must end with
// exactly those keys and their ETags. Without the walkGuard, go-ds-crdt
// v0.6.5 leaves the branch cut by the Close half walked for ever (its
// issue #279). Each delta of a chain is one Bitswap round trip, and
// Bitswap's client batches its want messages for at least 20 ms.
func TestCrdtRestartMidApply(t *testing.T) {
	peers := newCrdtPeers(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()
	const bkt = "bkt"
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, bkt)
	c.close(t)

	total := 500
	if os.Getenv("S3MESH_HEAVY") != "" {
		total = 2000
	}
	start := time.Now()
	want := writeConcurrently(t, []*crdtPeer{a, b}, bkt, total)
	t.Logf("A and B wrote %d objects in %v", total, time.Since(start))

	f := &dagFaults{}
	f.delay.Store(int64(3 * time.Millisecond))
	c.wrapDAG = f.wrap(c)
	start = time.Now()
	c.open(t)
	connectCrdtPeers(t, peers)
	var partial int
	deadline := time.Now().Add(crdtWait)
	for partial == 0 {
		got, err := listAll(c, bkt)
		switch {
		case err != nil && !errors.Is(err, s3err.ErrNoSuchBucket):
			t.Fatal(err)
		case len(got) == total:
			t.Fatalf("C applied all %d objects before it could be stopped: slow it down more", total)
		case len(got) > 0:
			partial = len(got)
		case time.Now().After(deadline):
			t.Fatal("C applied nothing")
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	tPartial := time.Since(start)
	t.Logf("C reopened with fetches slowed; %d of %d keys applied after %v", partial, total, tPartial)
	start = time.Now()
	c.close(t)
	tClose := time.Since(start)
	start = time.Now()
	c.open(t)
	atOpen, err := listEtags(c, bkt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("C closed in %v, reopened with %d keys applied", tClose, len(atOpen))
	connectCrdtPeers(t, peers)
	waitForDiag(t, "C converged after its restart", 3*time.Minute, func() error { return stateIs(c, bkt, want) },
		func() string { return crdtDiag(c, a, b) })
	t.Logf("C converged %v after its second open; %d block fetches slowed in all", time.Since(start), f.fetched.Load())
	if err := sameWinners(peers, bkt, slices.Collect(maps.Keys(want))); err != nil {
		t.Fatal(err)
	}
}

// writeConcurrently writes total objects into bucket, split between
// writers writing at the same time, and returns key -> ETag.
func writeConcurrently(t *testing.T, writers []*crdtPeer, bucket string, total int) map[string]string {
	t.Helper()
	var wg sync.WaitGroup
	for w, p := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += len(writers) {
				key := fmt.Sprintf("obj%05d", i)
				if err := putObj(p, bucket, key, "etag-"+key); err != nil {
					t.Errorf("%s: put %s: %v", p.name, key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := make(map[string]string, total)
	for i := range total {
		key := fmt.Sprintf("obj%05d", i)
		want[key] = "etag-" + key
	}
	return want
}

// TestCrdtCatchUpHeavy proves that a node stopped while others write
// 10,000 objects catches up after its restart: the full listing, paged,
// and a sample of ETags. Only with S3MESH_HEAVY set.
func TestCrdtCatchUpHeavy(t *testing.T) {
	gwtest.Heavy(t, "writes 10,000 objects through three nodes")
	peers := newCrdtPeers(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	ctx := context.Background()
	const bkt = "bkt"
	if err := a.ns.CreateBucket(ctx, BucketRecord{Name: bkt}); err != nil {
		t.Fatal(err)
	}
	bucketEverywhere(t, peers, bkt)
	c.close(t)

	const total = 10_000
	start := time.Now()
	want := writeConcurrently(t, []*crdtPeer{a, b}, bkt, total)
	tWrite := time.Since(start)

	start = time.Now()
	c.open(t)
	connectCrdtPeers(t, peers)
	var last error
	deadline := time.Now().Add(10 * time.Minute)
	for {
		got, err := listAll(c, bkt)
		if err == nil && len(got) == total {
			break
		}
		last = err
		if err == nil {
			last = fmt.Errorf("C lists %d keys", len(got))
		} else if !errors.Is(err, s3err.ErrNoSuchBucket) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("C did not catch up: %v", last)
		}
		time.Sleep(500 * time.Millisecond)
	}
	tCatchUp := time.Since(start)
	objs, err := listAll(c, bkt)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
		if o.ETag != want[o.Key] {
			t.Fatalf("C lists %s with etag %q, want %q", o.Key, o.ETag, want[o.Key])
		}
	}
	if !slices.Equal(keys, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("C lists %d keys, not the %d written", len(keys), total)
	}
	for i := 0; i < total; i += 97 {
		key := fmt.Sprintf("obj%05d", i)
		rec, err := c.ns.GetObject(ctx, bkt, key)
		if err != nil || rec.ETag != want[key] {
			t.Fatalf("C: %s: %+v, %v", key, rec, err)
		}
	}
	t.Logf("write %d objects at A and B: %v; C caught up after its restart in %v", total, tWrite, tCatchUp)
}
