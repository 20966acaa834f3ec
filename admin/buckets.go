package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"s3mesh/blockstore"
	"s3mesh/gateway"
	"s3mesh/s3api/s3err"
)

// The admin endpoints the status page draws beside peers and status:
// per-bucket usage here (BucketsPath), time series in history.go. Per-bucket
// and per-peer figures are served as JSON rather than as metric labels,
// which stay bounded (see README.md, Metrics).

// bucketsMinAge is how long a computed bucket listing is served before
// the namespace is scanned again; a scan that took d makes it at least
// 10×d, so that the page keeps the scans under a tenth of the time.
const bucketsMinAge = 10 * time.Second

// bucketNamespace is what the bucket figures read from the namespace;
// gateway.Namespace implements it.
type bucketNamespace interface {
	ListBuckets(ctx context.Context) ([]gateway.BucketRecord, error)
	Objects(ctx context.Context, bucket, start string) (gateway.ObjectIterator, error)
}

// BucketsResponse is the body of GET BucketsPath.
type BucketsResponse struct {
	// Computed is when the figures were computed (they are cached).
	Computed     time.Time     `json:"computed"`
	Buckets      []BucketUsage `json:"buckets"`
	TotalObjects int64         `json:"total_objects"`
	TotalBytes   int64         `json:"total_bytes"`
}

// BucketUsage describes one bucket. Bytes is the sum of its objects'
// sizes (logical: content shared with other objects counts each time).
type BucketUsage struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Objects int64     `json:"objects"`
	Bytes   int64     `json:"bytes"`
}

// bucketStats computes BucketsResponse by scanning the namespace, at most
// once per bucketsMinAge (or 10× the last scan's duration); concurrent
// callers share one scan. It is safe for concurrent use.
type bucketStats struct {
	ns  bucketNamespace
	now func() time.Time

	mu     sync.Mutex
	cached *BucketsResponse
	maxAge time.Duration
}

func newBucketStats(ns bucketNamespace) *bucketStats {
	return &bucketStats{ns: ns, now: time.Now, maxAge: bucketsMinAge}
}

// get returns the cached figures, or scans when they are too old.
func (b *bucketStats) get(ctx context.Context) (BucketsResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := b.now()
	if b.cached != nil && start.Sub(b.cached.Computed) < b.maxAge {
		return *b.cached, nil
	}
	out, err := b.scan(ctx)
	if err != nil {
		return BucketsResponse{}, err
	}
	out.Computed = start
	b.cached, b.maxAge = &out, max(bucketsMinAge, 10*b.now().Sub(start))
	return out, nil
}

func (b *bucketStats) scan(ctx context.Context) (BucketsResponse, error) {
	bs, err := b.ns.ListBuckets(ctx)
	if err != nil {
		return BucketsResponse{}, fmt.Errorf("list buckets: %w", err)
	}
	out := BucketsResponse{Buckets: make([]BucketUsage, 0, len(bs))}
	for _, rec := range bs {
		u := BucketUsage{Name: rec.Name, Created: rec.Created.UTC()}
		it, err := b.ns.Objects(ctx, rec.Name, "")
		if errors.Is(err, s3err.ErrNoSuchBucket) {
			continue // deleted since the listing
		}
		if err != nil {
			return BucketsResponse{}, fmt.Errorf("list %s: %w", rec.Name, err)
		}
		for it.Next() {
			obj, err := it.Record()
			if err != nil {
				it.Close()
				return BucketsResponse{}, fmt.Errorf("list %s: %w", rec.Name, err)
			}
			u.Objects++
			u.Bytes += obj.Size
			if u.Objects%4096 == 0 && ctx.Err() != nil {
				break
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return BucketsResponse{}, fmt.Errorf("list %s: %w", rec.Name, err)
		}
		if err := ctx.Err(); err != nil {
			return BucketsResponse{}, err
		}
		out.Buckets = append(out.Buckets, u)
		out.TotalObjects += u.Objects
		out.TotalBytes += u.Bytes
	}
	return out, nil
}

// serveBuckets answers GET BucketsPath.
func (a *api) serveBuckets(w http.ResponseWriter, r *http.Request) error {
	if a.buckets == nil {
		return s3err.New(s3err.ErrNotImplemented, "This node does not compute bucket figures.")
	}
	out, err := a.buckets.get(r.Context())
	if err != nil {
		return err
	}
	out.Computed = out.Computed.UTC().Truncate(time.Millisecond)
	writeJSON(w, r, http.StatusOK, out)
	return nil
}

// DiskStatus is the file system holding the data directory, in the
// status: bytes available to the node and the total size.
type DiskStatus struct {
	FreeBytes  uint64 `json:"free_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
}

// diskOf returns the disk figures of dir's file system, nil when the
// platform or the file system cannot tell.
func diskOf(dir string) *DiskStatus {
	if dir == "" {
		return nil
	}
	free, total, err := blockstore.Disk(dir)
	if err != nil {
		return nil
	}
	return &DiskStatus{FreeBytes: free, TotalBytes: total}
}
