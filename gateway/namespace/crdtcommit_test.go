package namespace

import (
	"context"
	"fmt"
	"s3mesh/gateway/internal/gwtest"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// gatedDAG blocks Add while gate is held, and says when an Add starts.
type gatedDAG struct {
	ipld.DAGService
	gate    sync.RWMutex
	entered chan struct{}
	adds    int
	mu      sync.Mutex
}

func (g *gatedDAG) Add(ctx context.Context, nd ipld.Node) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	g.gate.RLock()
	defer g.gate.RUnlock()
	g.mu.Lock()
	g.adds++
	g.mu.Unlock()
	return g.DAGService.Add(ctx, nd)
}

// TestGroupCommit: writes that queue while a delta is being stored are
// published together in the next delta, and every one of them is applied.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bs := boxobs.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := &gatedDAG{DAGService: merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs))), entered: make(chan struct{}, 1)}
	reg := prometheus.NewRegistry()
	ns, err := OpenCRDTNamespace(CRDTConfig{Dir: t.TempDir(), NodeID: "solo", NoSync: true, PruneInterval: -1, Registerer: reg}, nil, dag)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := ns.CreateBucket(ctx, BucketRecord{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	<-dag.entered   // the bucket's delta
	dag.gate.Lock() // the next delta's Add waits
	locked := true
	defer func() {
		if locked {
			dag.gate.Unlock() // let Close finish after a failure
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	put := func(i int) {
		errs <- ns.PutObject(ctx, &ObjectRecord{Bucket: "b", Key: fmt.Sprintf("k%02d", i), ETag: "e", Root: gwtest.EmptyFileCID, Size: 1}, nil)
	}
	// The first write is being published (its Add blocked); the others
	// queue behind it.
	wg.Go(func() { put(0) })
	select {
	case <-dag.entered:
	case <-time.After(crdtWait):
		t.Fatal("the first write never reached Add")
	}
	for i := 1; i < writers; i++ {
		wg.Go(func() { put(i) })
	}
	// Writers whose keys share a lock stripe with a queued one wait for
	// it; at least half of them queue.
	const queued = writers / 2
	deadline := time.Now().Add(crdtWait)
	for len(ns.commits) < queued {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(ns.commits), queued)
		}
		time.Sleep(time.Millisecond)
	}
	locked = false
	dag.gate.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if o, _ := ns.Usage(); o != writers {
		t.Fatalf("%d objects visible, want %d", o, writers)
	}
	// The bucket, the first write, then the queued writes in one delta
	// (and any that were waiting for a lock in later ones).
	if dag.adds > 2+writers-queued {
		t.Errorf("%d deltas stored, want at most %d", dag.adds, 2+writers-queued)
	}
	if n := testutil.CollectAndCount(reg, "s3mesh_namespace_delta_entries"); n != 1 {
		t.Fatalf("delta_entries series: %d", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "s3mesh_namespace_delta_entries" {
			h := mf.GetMetric()[0].GetHistogram()
			if int(h.GetSampleCount()) != dag.adds || h.GetSampleSum() != writers+1 {
				t.Errorf("delta_entries: %d deltas, %v entries; want %d deltas, %d entries", h.GetSampleCount(), h.GetSampleSum(), dag.adds, writers+1)
			}
		}
	}
}
