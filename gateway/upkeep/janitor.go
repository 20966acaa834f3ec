package upkeep

import (
	"context"
	"errors"
	"fmt"
	"s3mesh/gateway/namespace"
	"time"

	"s3mesh/s3api/s3err"
)

// janitorInterval is how often the janitor sweeps for uploads older than
// maxAge: a quarter of maxAge, at most an hour, at least a second.
func janitorInterval(maxAge time.Duration) time.Duration {
	return max(min(time.Hour, maxAge/4), time.Second)
}

// every calls fn after first, then every interval after each call ends,
// until ctx ends.
func every(ctx context.Context, first, interval time.Duration, fn func()) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
		t.Reset(interval)
	}
}

// SweepUploads aborts every multipart upload initiated more than
// Config.MultipartMaxAge before Config.Clock's now, and returns how many it
// aborted. It scans every bucket's upload records (uploads in progress are
// few next to objects). An upload that ends while the sweep runs is not an
// error. It also forgets the completed uploads older than
// namespace.CompletedRetention (see CompleteMultipartUpload's retries).
func (n *Upkeep) SweepUploads(ctx context.Context) (int, error) {
	cutoff := n.cfg.Clock().Add(-n.cfg.MultipartMaxAge)
	buckets, err := n.ns.ListBuckets(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep uploads: %w", err)
	}
	aborted := 0
	var errs []error
	if _, err := n.idx.SweepCompleted(ctx, n.cfg.Clock().Add(-namespace.CompletedRetention)); err != nil {
		errs = append(errs, err)
	}
	for _, b := range buckets {
		expired, err := n.expiredUploads(ctx, b.Name, cutoff)
		if errors.Is(err, s3err.ErrNoSuchBucket) {
			continue // deleted meanwhile, with its uploads
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ref := range expired {
			err := n.uploads.AbortUpload(ctx, ref)
			switch {
			case err == nil:
				aborted++
				n.cfg.OnUploadExpired()
				n.cfg.Logger.Debug("multipart upload expired", "op", "AbortMultipartUpload", "bucket", ref.Bucket, "upload_id", ref.ID)
			case errors.Is(err, s3err.ErrNoSuchUpload), errors.Is(err, s3err.ErrNoSuchBucket):
			default:
				errs = append(errs, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return aborted, err
		}
	}
	if aborted > 0 {
		n.cfg.Logger.Info("multipart janitor aborted abandoned uploads", "count", aborted, "max_age", n.cfg.MultipartMaxAge)
	}
	if err := errors.Join(errs...); err != nil {
		return aborted, fmt.Errorf("sweep uploads: %w", err)
	}
	return aborted, nil
}

// expiredUploads returns the uploads of bucket initiated before cutoff.
func (n *Upkeep) expiredUploads(ctx context.Context, bucket string, cutoff time.Time) ([]namespace.UploadRef, error) {
	it, err := n.uploads.Uploads(ctx, bucket)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []namespace.UploadRef
	for it.Next() {
		u, err := it.Upload()
		if err != nil {
			return nil, err
		}
		if u.Initiated.Before(cutoff) {
			out = append(out, u.UploadRef)
		}
	}
	return out, it.Err()
}
