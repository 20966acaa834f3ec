package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestProcessMixedLoad runs three peered offices as processes, each with a
// cache budget smaller than the working set its clients read from the
// others, and 64 clients (S3MESH_LOAD_CLIENTS) spread over them doing
// PUT, GET, ranged GET, LIST, DELETE, multipart uploads and copies for
// S3MESH_LOAD (a duration; 20s when unset, the integration suite's smoke)
// while each node collects garbage every 20 s. It asserts zero errors,
// every read byte for byte, and at the end every object readable at every
// office and nothing else listed; it logs throughput and p50/p99 latency
// per operation, and each node's peak RSS and disk use over time.
//
//	S3MESH_INTEGRATION=1 S3MESH_LOAD=5m go test -run TestProcessMixedLoad -v -timeout 30m ./integration/
func TestProcessMixedLoad(t *testing.T) {
	needIntegration(t)
	dur := 20 * time.Second
	if s := os.Getenv("S3MESH_LOAD"); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	clients := 64
	if s := os.Getenv("S3MESH_LOAD_CLIENTS"); s != "" {
		var err error
		if clients, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	const budget = 48 << 20
	ctx := context.Background()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	extra := []string{"--cache-size", strconv.Itoa(budget), "--chunk-size", strconv.Itoa(256 << 10)}
	a := startNode(t, dirs[0], extra...)
	b := startNode(t, dirs[1], append(slices.Clone(extra), "--peer", a.peerAddr(t))...)
	c := startNode(t, dirs[2], append(slices.Clone(extra), "--peer", a.peerAddr(t), "--peer", b.peerAddr(t))...)
	nodes := []*proc{a, b, c}
	names := []string{"A", "B", "C"}
	cl := make([]*minio.Client, len(nodes))
	for i, n := range nodes {
		cl[i] = n.client(t)
	}
	if err := cl[0].MakeBucket(ctx, "load", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		eventually(t, names[i]+" sees the bucket", func() error {
			ok, err := cl[i].BucketExists(ctx, "load")
			if err == nil && !ok {
				err = fmt.Errorf("no bucket")
			}
			return err
		})
	}

	// The shared read set: objects written once at each office and read
	// by the clients of the others (more than a cache budget each).
	type obj struct {
		seed byte
		size int64
	}
	shared := map[string]obj{}
	for i := range nodes {
		for k := range 12 {
			key := fmt.Sprintf("shared/%s/%02d", names[i], k)
			o := obj{seed: byte(200 + i*12 + k), size: int64(2<<20 + k*97_001)}
			if _, err := cl[i].PutObject(ctx, "load", key, &patternReader{seed: o.seed, n: o.size}, o.size, minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			shared[key] = o
		}
	}
	sharedKeys := make([]string, 0, len(shared))
	for k := range shared {
		sharedKeys = append(sharedKeys, k)
	}
	sort.Strings(sharedKeys)
	for i := range nodes {
		eventually(t, names[i]+" lists the shared objects", func() error {
			keys, err := listKeys(ctx, cl[i], "load")
			if err == nil && len(keys) < len(shared) {
				err = fmt.Errorf("%d of %d", len(keys), len(shared))
			}
			return err
		})
	}

	// Statistics.
	type opStats struct {
		mu    sync.Mutex
		durs  []time.Duration
		bytes int64
	}
	ops := map[string]*opStats{}
	for _, op := range []string{"PUT", "GET", "RangeGET", "LIST", "DELETE", "Multipart", "COPY"} {
		ops[op] = &opStats{}
	}
	record := func(op string, d time.Duration, n int64) {
		s := ops[op]
		s.mu.Lock()
		s.durs = append(s.durs, d)
		s.bytes += n
		s.mu.Unlock()
	}
	var errCount atomic.Int64
	var errMu sync.Mutex
	var firstErrs []string
	fail := func(format string, args ...any) {
		errCount.Add(1)
		errMu.Lock()
		if len(firstErrs) < 20 {
			firstErrs = append(firstErrs, fmt.Sprintf(format, args...))
		}
		errMu.Unlock()
	}
	readCheck := func(c *minio.Client, key string, o obj, off, length int64) (int64, error) {
		opts := minio.GetObjectOptions{}
		if length >= 0 {
			if err := opts.SetRange(off, off+length-1); err != nil {
				return 0, err
			}
		} else {
			off, length = 0, o.size
		}
		r, err := c.GetObject(ctx, "load", key, opts)
		if err != nil {
			return 0, err
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			return 0, err
		}
		want, _ := io.ReadAll(&patternReader{seed: o.seed, n: off + length, i: off})
		if !bytes.Equal(got, want) {
			return int64(len(got)), fmt.Errorf("%d bytes differ from the %d expected", len(got), len(want))
		}
		return int64(len(got)), nil
	}

	// Each client owns its keys (load/c<i>/...): it alone writes them, so
	// it knows their content.
	final := make([]map[string]obj, clients)
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for ci := range clients {
		final[ci] = map[string]obj{}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(ci), 7))
			c := cl[ci%len(nodes)]
			mine := final[ci]
			for round := 0; round < 100_000 && time.Now().Before(deadline); round++ {
				key := fmt.Sprintf("c%02d/k%d", ci, r.IntN(8))
				switch p := r.IntN(100); {
				case p < 25: // PUT
					o := obj{seed: byte(r.IntN(200)), size: int64(r.IntN(1<<20) + 1)}
					start := time.Now()
					if _, err := c.PutObject(ctx, "load", key, &patternReader{seed: o.seed, n: o.size}, o.size, minio.PutObjectOptions{}); err != nil {
						fail("PUT %s: %v", key, err)
						continue
					}
					record("PUT", time.Since(start), o.size)
					mine[key] = o
				case p < 50: // GET of a shared object, mostly another office's
					k := sharedKeys[r.IntN(len(sharedKeys))]
					start := time.Now()
					n, err := readCheck(c, k, shared[k], 0, -1)
					if err != nil {
						fail("GET %s: %v", k, err)
						continue
					}
					record("GET", time.Since(start), n)
				case p < 60: // ranged GET, of a shared object or an own one
					k, o := sharedKeys[r.IntN(len(sharedKeys))], obj{}
					o = shared[k]
					if mo, ok := mine[key]; ok && r.IntN(2) == 0 {
						k, o = key, mo
					}
					off := r.Int64N(o.size)
					length := min(o.size-off, r.Int64N(512<<10)+1)
					start := time.Now()
					n, err := readCheck(c, k, o, off, length)
					if err != nil {
						fail("range GET %s [%d,+%d): %v", k, off, length, err)
						continue
					}
					record("RangeGET", time.Since(start), n)
				case p < 70: // LIST of own keys
					start := time.Now()
					var got []string
					for o := range c.ListObjects(ctx, "load", minio.ListObjectsOptions{Prefix: fmt.Sprintf("c%02d/", ci), Recursive: true}) {
						if o.Err != nil {
							fail("LIST: %v", o.Err)
							break
						}
						got = append(got, o.Key)
					}
					want := make([]string, 0, len(mine))
					for k := range mine {
						want = append(want, k)
					}
					sort.Strings(want)
					if !slices.Equal(got, want) {
						fail("LIST c%02d/: %q, want %q", ci, got, want)
						continue
					}
					record("LIST", time.Since(start), 0)
				case p < 78: // DELETE
					start := time.Now()
					if err := c.RemoveObject(ctx, "load", key, minio.RemoveObjectOptions{}); err != nil {
						fail("DELETE %s: %v", key, err)
						continue
					}
					record("DELETE", time.Since(start), 0)
					delete(mine, key)
				case p < 86: // multipart: a 5 MiB part and a small last one
					o := obj{seed: byte(r.IntN(200)), size: 5<<20 + int64(r.IntN(64<<10)+1)}
					start := time.Now()
					if _, err := c.PutObject(ctx, "load", key, &patternReader{seed: o.seed, n: o.size}, o.size,
						minio.PutObjectOptions{PartSize: 5 << 20, DisableContentSha256: true}); err != nil {
						fail("multipart %s: %v", key, err)
						continue
					}
					record("Multipart", time.Since(start), o.size)
					mine[key] = o
				default: // COPY of a shared object to an own key
					k := sharedKeys[r.IntN(len(sharedKeys))]
					start := time.Now()
					if _, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: "load", Object: key}, minio.CopySrcOptions{Bucket: "load", Object: k}); err != nil {
						fail("COPY %s to %s: %v", k, key, err)
						continue
					}
					record("COPY", time.Since(start), 0)
					mine[key] = shared[k]
				}
			}
		})
	}

	// Beside the load: GC every 20 s on each node, RSS and disk sampled.
	bin := s3meshBinary(t)
	stop := make(chan struct{})
	var side sync.WaitGroup
	peakRSS := make([]int64, len(nodes))
	var diskLog []string
	var gcRuns, gcFails atomic.Int64
	side.Go(func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		gcEvery := 0
		for start := time.Now(); ; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			line := fmt.Sprintf("t=%3.0fs", time.Since(start).Seconds())
			for i, n := range nodes {
				if rss := rssOf(n.cmd.Process.Pid); rss > peakRSS[i] {
					peakRSS[i] = rss
				}
				line += fmt.Sprintf("  %s %s", names[i], humanMiB(dirSize(dirs[i])))
			}
			diskLog = append(diskLog, line)
			if gcEvery++; gcEvery%4 == 0 {
				for _, n := range nodes {
					cmd := exec.Command(bin, "gc", "--endpoint", "http://"+n.endpoint)
					cmd.Env = append(os.Environ(), "S3MESH_ACCESS_KEY="+procAccessKey, "S3MESH_SECRET_KEY="+procSecretKey)
					if out, err := cmd.CombinedOutput(); err != nil {
						gcFails.Add(1)
						t.Logf("gc on %s: %v\n%s", n.endpoint, err, out)
					} else {
						gcRuns.Add(1)
					}
				}
			}
		}
	})
	wg.Wait()
	close(stop)
	side.Wait()
	elapsed := dur

	// Every object, at every office; nothing else.
	want := map[string]obj{}
	for k, o := range shared {
		want[k] = o
	}
	for ci := range clients {
		for k, o := range final[ci] {
			want[k] = o
		}
	}
	for i := range nodes {
		eventually(t, names[i]+" lists every object and nothing else", func() error {
			keys, err := listKeys(ctx, cl[i], "load")
			if err != nil {
				return err
			}
			if len(keys) != len(want) {
				return fmt.Errorf("%d keys, want %d", len(keys), len(want))
			}
			for _, k := range keys {
				if _, ok := want[k]; !ok {
					return fmt.Errorf("unexpected key %s", k)
				}
			}
			return nil
		})
	}
	for k, o := range want {
		for i := range nodes {
			if _, err := readCheck(cl[i], k, o, 0, -1); err != nil {
				fail("final GET %s at %s: %v", k, names[i], err)
			}
		}
	}

	// Figures.
	t.Logf("%d clients, %s, 3 offices, cache budget %s each, chunk 256 KiB", clients, elapsed, humanMiB(budget))
	var total int
	for _, op := range []string{"PUT", "GET", "RangeGET", "LIST", "DELETE", "Multipart", "COPY"} {
		s := ops[op]
		slices.Sort(s.durs)
		total += len(s.durs)
		if len(s.durs) == 0 {
			t.Logf("%-9s none", op)
			continue
		}
		q := func(f float64) time.Duration { return s.durs[min(len(s.durs)-1, int(f*float64(len(s.durs))))] }
		t.Logf("%-9s %6d ops %7.1f ops/s %7.1f MiB/s  p50 %8s  p99 %8s", op, len(s.durs), float64(len(s.durs))/elapsed.Seconds(),
			float64(s.bytes)/elapsed.Seconds()/(1<<20), q(0.5).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond))
	}
	t.Logf("total %d ops, %.1f ops/s; %d GCs beside the load (%d failed)", total, float64(total)/elapsed.Seconds(), gcRuns.Load(), gcFails.Load())
	for i := range nodes {
		t.Logf("%s peak RSS %s", names[i], humanMiB(peakRSS[i]))
	}
	for _, l := range diskLog {
		t.Logf("disk: %s", l)
	}
	if n := errCount.Load(); n > 0 {
		t.Fatalf("%d errors; first: %s", n, strings.Join(firstErrs, "\n"))
	}
	if gcFails.Load() > 0 {
		t.Fatalf("%d GC runs failed", gcFails.Load())
	}
}

// rssOf returns the resident set of process pid in bytes (0 if unknown).
func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// dirSize returns the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func humanMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
