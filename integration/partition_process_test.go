package integration

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"s3mesh/internal/poll"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// Bounds of the waits in this file. They are generous for a loaded 2-core
// machine; nothing is asserted about how fast things happen.
const (
	// convergeWait bounds a wait for replicated writes to agree everywhere.
	convergeWait = 90 * time.Second
	// partitionConvergeWait bounds, once a cut link is back, the wait for
	// the offices to reconnect and agree. Reconnection is governed by the
	// static-peer redial backoff (exchange.Config.ReconnectMin/Max, 1 s
	// doubling to 1 min, ±25% jitter; no flag sets them) and the
	// namespace's head rebroadcast (gateway DefaultCRDTRebroadcastInterval,
	// 10 s).
	partitionConvergeWait = 90 * time.Second
	// disconnectWait bounds the wait, after the cut, for the cut office to
	// notice that its peers are gone (yamux keepalive: a ping after 30 s
	// of silence, which fails after 10 s).
	disconnectWait = 90 * time.Second
)

// waitFor waits until cond returns nil and returns how long that took
// (see poll.Until).
func waitFor(t *testing.T, bound time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	return poll.Until(t, what, bound, cond)
}

// getMD5 reads the whole object and returns its length and MD5.
func getMD5(ctx context.Context, c *minio.Client, bucket, key string) (int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, "", err
	}
	defer obj.Close()
	h := md5.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// listETags lists bucket and returns each key's ETag.
func listETags(ctx context.Context, c *minio.Client, bucket string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m := map[string]string{}
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		m[o.Key] = o.ETag
	}
	return m, nil
}

func putPattern(ctx context.Context, c *minio.Client, bucket, key string, seed byte, size int64) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	info, err := c.PutObject(ctx, bucket, key, &patternReader{seed: seed, n: size}, size, minio.PutObjectOptions{})
	if err != nil {
		return fmt.Errorf("PUT %s/%s: %w", bucket, key, err)
	}
	if want := patternMD5(seed, size); info.ETag != want {
		return fmt.Errorf("PUT %s/%s answered ETag %s, want %s", bucket, key, info.ETag, want)
	}
	return nil
}

// TestProcessThreeOfficesConcurrentWrites runs three offices on loopback
// (B peered with A, C with A and B) and, three times over, has all three
// PUT the same key at the same moment with different bodies. Each time the
// offices must settle on one of the three bodies: the same ETag at every
// office, and every office serves exactly those bytes (never a mix).
func TestProcessThreeOfficesConcurrentWrites(t *testing.T) {
	needIntegration(t)
	ctx := context.Background()
	a := startNode(t, t.TempDir())
	b := startNode(t, t.TempDir(), "--peer", a.peerAddr(t))
	c := startNode(t, t.TempDir(), "--peer", a.peerAddr(t), "--peer", b.peerAddr(t))
	names := []string{"A", "B", "C"}
	clients := []*minio.Client{a.client(t), b.client(t), c.client(t)}

	const bucket = "concurrent"
	if err := clients[0].MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, convergeWait, "bucket created at A visible at every office", func() error {
		for i, cl := range clients {
			if ok, err := cl.BucketExists(ctx, bucket); err != nil || !ok {
				return fmt.Errorf("%s: exists=%v err=%v", names[i], ok, err)
			}
		}
		return nil
	})
	t.Logf("bucket replicated to every office in %s", d.Round(time.Millisecond))

	final := map[string]string{} // key -> winning ETag
	for round := range 3 {
		key := fmt.Sprintf("round%d/build.tar", round)
		size := int64(3<<20 + 4321*round + 17) // a few 1 MiB blocks, same size for all three
		bodies := map[string]string{}          // md5 -> writer
		seeds := make([]byte, len(clients))
		for i := range clients {
			seeds[i] = byte(40 + 10*round + i)
			bodies[patternMD5(seeds[i], size)] = names[i]
		}
		if len(bodies) != len(clients) {
			t.Fatalf("round %d: bodies are not distinct", round)
		}

		// Start barrier: every writer is parked on start, with a warm
		// connection to its node, when it is closed.
		start := make(chan struct{})
		var parked, done sync.WaitGroup
		errs := make([]error, len(clients))
		for i, cl := range clients {
			if _, err := cl.BucketExists(ctx, bucket); err != nil {
				t.Fatalf("%s: %v", names[i], err)
			}
			parked.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				parked.Done()
				<-start
				errs[i] = putPattern(ctx, cl, bucket, key, seeds[i], size)
			}()
		}
		parked.Wait()
		close(start)
		done.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, names[i], err)
			}
		}

		// Converged: every office HEADs the same ETag, one of the three
		// bodies. (Each office holds its own write and the one it shows,
		// so agreement means every office has seen the latest version:
		// nothing later can still arrive.)
		var winner string
		d := waitFor(t, convergeWait, key+": one ETag at every office", func() error {
			etags := make([]string, len(clients))
			for i, cl := range clients {
				info, err := cl.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
				if err != nil {
					return fmt.Errorf("%s: HEAD: %v", names[i], err)
				}
				if _, ok := bodies[info.ETag]; !ok || info.Size != size {
					t.Fatalf("round %d: %s reports ETag %s size %d, which is none of the three bodies (%v, size %d)", round, names[i], info.ETag, info.Size, slices.Collect(maps.Keys(bodies)), size)
				}
				etags[i] = info.ETag
			}
			if etags[1] != etags[0] || etags[2] != etags[0] {
				return fmt.Errorf("offices disagree: A %s, B %s, C %s", etags[0], etags[1], etags[2])
			}
			winner = etags[0]
			return nil
		})
		final[key] = winner

		// Every office serves the winner's bytes: the whole body, hashed.
		for i, cl := range clients {
			waitFor(t, convergeWait, fmt.Sprintf("%s: GET %s", names[i], key), func() error {
				n, sum, err := getMD5(ctx, cl, bucket, key)
				if err != nil {
					return err
				}
				if n != size || sum != winner {
					t.Fatalf("round %d: %s serves %d bytes md5 %s; every office reports ETag %s (%s's body, %d bytes)", round, names[i], n, sum, winner, bodies[winner], size)
				}
				return nil
			})
		}
		t.Logf("round %d: %s's body won; offices agreed %s after the PUTs", round, bodies[winner], d.Round(time.Millisecond))
	}

	// Still agreed, and listed alike, once all rounds are done.
	for i, cl := range clients {
		got, err := listETags(ctx, cl, bucket)
		if err != nil {
			t.Fatalf("%s: list: %v", names[i], err)
		}
		if !maps.Equal(got, final) {
			t.Errorf("%s lists %v; want %v", names[i], got, final)
		}
	}
}

// TestProcessPartition: an office cut off from the others (its link taken
// down) keeps serving what it holds and accepts writes, and after the link
// returns every office converges to the same listing.
//
// Offices A, B and C run in network namespaces joined by a bridge (see
// netns_test.go), every office a static peer of the other two. C's port on
// the bridge is taken down; while it is down C reads an object it holds,
// lists, writes a new key and overwrites two; A writes a new key,
// overwrites one of those two (later than C) and deletes a key. After the
// link is back every office lists the union of the writes, last writer
// winning, and A reads C's new object, its blocks fetched from C.
func TestProcessPartition(t *testing.T) {
	needIntegration(t)
	lab := newNetnsLab(t)
	ctx := context.Background()

	offices := []*nsOffice{lab.addOffice("a", 1), lab.addOffice("b", 2), lab.addOffice("c", 3)}
	if reached, ok := lab.ping(offices[0], offices[2].addr); ok && !reached {
		t.Fatalf("office a cannot ping office c (%s) over the bridge", offices[2].addr)
	}
	dirs := make([]string, len(offices))
	ids := make([]string, len(offices))
	for i := range offices {
		dirs[i] = t.TempDir()
		ids[i] = peerIDOf(t, dirs[i])
	}
	nodes := make([]*nsNode, len(offices))
	for i, o := range offices {
		var peers []string
		for j := range offices {
			if j != i {
				peers = append(peers, "--peer", p2pAddr(offices[j], ids[j]))
			}
		}
		nodes[i] = startNodeIn(t, o, dirs[i], ids[i], peers...)
	}
	A, B, C := nodes[0], nodes[1], nodes[2]
	ca, cb, cc := A.client(t), B.client(t), C.client(t)
	clients := []*minio.Client{ca, cb, cc}
	names := []string{"A", "B", "C"}

	d := waitFor(t, convergeWait, "full mesh (every office connected to both others)", func() error {
		for i, n := range nodes {
			if k, err := n.connectedPeers(ctx, clients[i]); err != nil || k != 2 {
				return fmt.Errorf("%s: %d peers connected (%v)", names[i], k, err)
			}
		}
		return nil
	})
	t.Logf("offices connected in a full mesh %s after start", d.Round(time.Millisecond))

	// Before the cut: a bucket and objects, replicated everywhere.
	const bucket = "offices"
	if err := ca.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, convergeWait, "bucket visible at every office", func() error {
		for i, cl := range clients {
			if ok, err := cl.BucketExists(ctx, bucket); err != nil || !ok {
				return fmt.Errorf("%s: exists=%v err=%v", names[i], ok, err)
			}
		}
		return nil
	})
	type body struct {
		seed byte
		size int64
	}
	etag := func(b body) string { return patternMD5(b.seed, b.size) }
	initial := map[string]body{
		"docs/big.bin":   {11, 3<<20 + 5},
		"docs/small.txt": {12, 1000},
		"c-overwrites":   {13, 1<<20 + 3},
		"a-deletes":      {14, 5000},
		"both-write":     {16, 1<<20 + 1},
	}
	for _, k := range slices.Sorted(maps.Keys(initial)) {
		if err := putPattern(ctx, ca, bucket, k, initial[k].seed, initial[k].size); err != nil {
			t.Fatal(err)
		}
	}
	initial["from-b"] = body{15, 2<<20 + 7}
	if err := putPattern(ctx, cb, bucket, "from-b", 15, 2<<20+7); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, b := range initial {
		want[k] = etag(b)
	}
	agree := func(want map[string]string, subset []int) func() error {
		return func() error {
			for _, i := range subset {
				got, err := listETags(ctx, clients[i], bucket)
				if err != nil {
					return fmt.Errorf("%s: list: %v", names[i], err)
				}
				if !maps.Equal(got, want) {
					return fmt.Errorf("%s lists %v; want %v", names[i], got, want)
				}
			}
			return nil
		}
	}
	d = waitFor(t, convergeWait, "initial objects listed alike at every office", agree(want, []int{0, 1, 2}))
	t.Logf("initial objects replicated in %s", d.Round(time.Millisecond))
	// C reads big.bin once, so its blocks are C's own before the cut.
	big := initial["docs/big.bin"]
	if n, sum, err := getMD5(ctx, cc, bucket, "docs/big.bin"); err != nil || n != big.size || sum != etag(big) {
		t.Fatalf("C reads docs/big.bin before the cut: %d bytes md5 %s err %v; want %d bytes md5 %s", n, sum, err, big.size, etag(big))
	}

	// The cut.
	lab.setLink(offices[2], false)
	cutAt := time.Now()
	t.Cleanup(func() { lab.setLink(offices[2], true) }) // harmless if already up
	if reached, _ := lab.ping(offices[0], offices[2].addr); reached {
		t.Fatalf("A still reaches C with C's link down")
	}

	// C keeps serving what it holds...
	if n, sum, err := getMD5(ctx, cc, bucket, "docs/big.bin"); err != nil || n != big.size || sum != etag(big) {
		t.Fatalf("C reads docs/big.bin during the cut: %d bytes md5 %s err %v; want %d bytes md5 %s", n, sum, err, big.size, etag(big))
	}
	if got, err := listETags(ctx, cc, bucket); err != nil || !maps.Equal(got, want) {
		t.Fatalf("C lists during the cut: %v (err %v); want %v", got, err, want)
	}
	// ...and takes writes: a new key and two overwrites.
	cNew := body{21, 2<<20 + 9}
	cOver := body{22, 1<<20 + 11}
	cBoth := body{24, 1<<20 + 13}
	for _, w := range []struct {
		key string
		b   body
	}{{"c-new", cNew}, {"c-overwrites", cOver}, {"both-write", cBoth}} {
		if err := putPattern(ctx, cc, bucket, w.key, w.b.seed, w.b.size); err != nil {
			t.Fatalf("C during the cut: %v", err)
		}
	}
	// A, on the other side, writes too: a new key, an overwrite of a key C
	// also overwrote (later than C, so A's wins) and a delete.
	time.Sleep(10 * time.Millisecond) // A's write is at a later millisecond than C's
	aNew := body{23, 2<<20 + 3}
	aBoth := body{25, 1<<20 + 17}
	if err := putPattern(ctx, ca, bucket, "a-new", aNew.seed, aNew.size); err != nil {
		t.Fatalf("A during the cut: %v", err)
	}
	if err := putPattern(ctx, ca, bucket, "both-write", aBoth.seed, aBoth.size); err != nil {
		t.Fatalf("A during the cut: %v", err)
	}
	if err := ca.RemoveObject(ctx, bucket, "a-deletes", minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("A during the cut: DELETE: %v", err)
	}

	// A and B still replicate between themselves...
	majority := maps.Clone(want)
	majority["a-new"] = etag(aNew)
	majority["both-write"] = etag(aBoth)
	delete(majority, "a-deletes")
	d = waitFor(t, convergeWait, "A's writes during the cut reach B", agree(majority, []int{0, 1}))
	t.Logf("during the cut, A's writes reached B in %s", d.Round(time.Millisecond))
	// ...but none of C's writes reach them, nor theirs C.
	minority := maps.Clone(want)
	minority["c-new"] = etag(cNew)
	minority["c-overwrites"] = etag(cOver)
	minority["both-write"] = etag(cBoth)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for i, cl := range clients[:2] {
			if _, err := cl.StatObject(ctx, bucket, "c-new", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
				t.Fatalf("%s: HEAD c-new (written at C during the cut): %v; want NoSuchKey", names[i], err)
			}
		}
		if err := agree(minority, []int{2})(); err != nil {
			t.Fatalf("C during the cut: %v", err)
		}
	}

	// Hold the cut until C has noticed that its peers are gone, so the
	// offices really have to reconnect (a link back within the keepalive
	// window would just resume the old TCP connections).
	dropped := false
	for time.Since(cutAt) < disconnectWait {
		if k, err := C.connectedPeers(ctx, cc); err == nil && k == 0 {
			dropped = true
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if dropped {
		t.Logf("C saw its connections to A and B close %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	} else {
		t.Logf("C still counted connected peers %s after the cut; restoring the link anyway", disconnectWait)
	}

	// The link returns.
	lab.setLink(offices[2], true)
	upAt := time.Now()
	t.Logf("C's link was down for %s", upAt.Sub(cutAt).Round(time.Millisecond))
	reconnected := make(chan time.Duration, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	t.Cleanup(stopWatch)
	go func() {
		for time.Since(upAt) < partitionConvergeWait && watchCtx.Err() == nil {
			if k, err := C.connectedPeers(watchCtx, cc); err == nil && k == 2 {
				reconnected <- time.Since(upAt)
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		close(reconnected)
	}()

	final := maps.Clone(majority)
	final["c-new"] = etag(cNew)
	final["c-overwrites"] = etag(cOver)
	d = waitFor(t, partitionConvergeWait, "every office lists the union of the writes after the link returned", agree(final, []int{0, 1, 2}))
	t.Logf("after the link returned, every office listed the same in %s", d.Round(time.Millisecond))

	// C's new object and overwrite are readable at A, fetched from C; A's
	// new object is readable at C.
	reads := []struct {
		at  int
		key string
		b   body
	}{{0, "c-new", cNew}, {0, "c-overwrites", cOver}, {1, "c-new", cNew}, {2, "a-new", aNew}, {2, "both-write", aBoth}}
	for _, r := range reads {
		remaining := partitionConvergeWait - time.Since(upAt)
		waitFor(t, max(remaining, 30*time.Second), fmt.Sprintf("%s reads %s", names[r.at], r.key), func() error {
			n, sum, err := getMD5(ctx, clients[r.at], bucket, r.key)
			if err != nil {
				return err
			}
			if n != r.b.size || sum != etag(r.b) {
				t.Fatalf("%s reads %s: %d bytes md5 %s; want %d bytes md5 %s", names[r.at], r.key, n, sum, r.b.size, etag(r.b))
			}
			return nil
		})
	}
	t.Logf("reads of the other side's writes done %s after the link returned", time.Since(upAt).Round(time.Millisecond))
	// For the record (not asserted): when C was connected to both others
	// again. A pair whose redial loops have backed off may take up to
	// ReconnectMax plus jitter (75 s) after the link is back.
	if r, ok := <-reconnected; ok {
		t.Logf("C was connected to both A and B again %s after the link returned", r.Round(time.Millisecond))
	} else {
		t.Logf("C was not connected to both A and B within %s of the link returning", partitionConvergeWait)
	}
}
