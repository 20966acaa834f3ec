package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// heapSampler records the peak of runtime.MemStats.HeapInuse, sampled at a
// fixed interval until stopped.
type heapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.sample()
	s.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	})
	return s
}

func (s *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peak = max(s.peak, ms.HeapInuse)
}

// Stop ends sampling and returns the peak.
func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	s.wg.Wait()
	s.sample()
	return s.peak
}

// TestFlatHeap puts and gets a 1 GiB object through the whole HTTP stack
// (minio-go with streaming signatures, the handler, the gateway on disk) and
// checks that the process's heap stays flat: content is streamed, never
// held whole.
func TestFlatHeap(t *testing.T) {
	if testing.Short() || os.Getenv("S3MESH_HEAVY") == "" {
		t.Skip("moves 2 GiB through the stack; set S3MESH_HEAVY=1 to run")
	}
	const (
		size     = 1 << 30
		heapMax  = 128 << 20
		interval = 50 * time.Millisecond
	)
	if storeKind() != "gateway" {
		t.Skip("the in-memory store holds objects in the heap")
	}
	srv := startS3(t, "")
	c := newMinio(t, srv, minioModes[0], testAccessKey, testSecretKey)
	ctx := t.Context()
	if err := c.MakeBucket(ctx, "heavy", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	runtime.GC()

	sent := sha256.New()
	s := startHeapSampler(interval)
	start := time.Now()
	info, err := c.PutObject(ctx, "heavy", "one-gib", io.TeeReader(randomReader(99, size), sent), size,
		minio.PutObjectOptions{DisableMultipart: true})
	putPeak := s.Stop()
	if err != nil {
		t.Fatalf("PutObject(1 GiB): %v", err)
	}
	t.Logf("PUT 1 GiB in %v: peak HeapInuse %.1f MiB, ETag %s", time.Since(start).Round(time.Millisecond), float64(putPeak)/(1<<20), info.ETag)
	if info.Size != size {
		t.Errorf("PutObject: size %d, want %d", info.Size, size)
	}

	runtime.GC()
	got := sha256.New()
	s = startHeapSampler(interval)
	start = time.Now()
	o, err := c.GetObject(ctx, "heavy", "one-gib", minio.GetObjectOptions{})
	if err != nil {
		s.Stop()
		t.Fatalf("GetObject: %v", err)
	}
	n, err := io.Copy(got, o)
	o.Close()
	getPeak := s.Stop()
	if err != nil {
		t.Fatalf("GetObject: read after %d bytes: %v", n, err)
	}
	t.Logf("GET 1 GiB in %v: peak HeapInuse %.1f MiB", time.Since(start).Round(time.Millisecond), float64(getPeak)/(1<<20))
	if n != size || !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Errorf("GetObject: %d bytes sha256 %s, want %d bytes sha256 %s", n, hex.EncodeToString(got.Sum(nil)), size, hex.EncodeToString(sent.Sum(nil)))
	}
	for _, p := range []struct {
		op   string
		peak uint64
	}{{"PUT", putPeak}, {"GET", getPeak}} {
		if p.peak >= heapMax {
			t.Errorf("%s: peak HeapInuse %.1f MiB, want below %d MiB", p.op, float64(p.peak)/(1<<20), heapMax>>20)
		}
	}
}
