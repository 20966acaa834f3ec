package s3api

import (
	"context"
	"time"
)

// The versioning and CORS roles through the metrics decorator (see
// storeWithMetrics): when the wrapped store lacks one, its methods answer
// NotImplemented.

var (
	_ VersioningStore = (*storeWithMetrics)(nil)
	_ CORSStore       = (*storeWithMetrics)(nil)
)

func (s *storeWithMetrics) versioning() (VersioningStore, error) {
	if v, ok := s.next.(VersioningStore); ok {
		return v, nil
	}
	return nil, notImplementedRole("bucket versioning")
}

func (s *storeWithMetrics) cors() (CORSStore, error) {
	if c, ok := s.next.(CORSStore); ok {
		return c, nil
	}
	return nil, notImplementedRole("bucket CORS")
}

// timed runs fn as the store call op and records it.
func timed[T any](s *storeWithMetrics, op string, fn func() (T, error)) (T, error) {
	start := time.Now()
	v, err := fn()
	s.observe(op, start, err)
	return v, err
}

func (s *storeWithMetrics) PutBucketVersioning(ctx context.Context, bucket, status string) error {
	v, err := s.versioning()
	if err != nil {
		return err
	}
	_, err = timed(s, "PutBucketVersioning", func() (struct{}, error) {
		return struct{}{}, v.PutBucketVersioning(ctx, bucket, status)
	})
	return err
}

func (s *storeWithMetrics) GetBucketVersioning(ctx context.Context, bucket string) (string, error) {
	v, err := s.versioning()
	if err != nil {
		return "", err
	}
	return timed(s, "GetBucketVersioning", func() (string, error) { return v.GetBucketVersioning(ctx, bucket) })
}

func (s *storeWithMetrics) HeadObjectVersion(ctx context.Context, bucket, key, versionID string) (*ObjectInfo, error) {
	v, err := s.versioning()
	if err != nil {
		return nil, err
	}
	return timed(s, "HeadObjectVersion", func() (*ObjectInfo, error) { return v.HeadObjectVersion(ctx, bucket, key, versionID) })
}

func (s *storeWithMetrics) GetObjectVersion(ctx context.Context, bucket, key, versionID string) (*ObjectInfo, Content, error) {
	v, err := s.versioning()
	if err != nil {
		return nil, nil, err
	}
	var c Content
	info, err := timed(s, "GetObjectVersion", func() (*ObjectInfo, error) {
		info, content, err := v.GetObjectVersion(ctx, bucket, key, versionID)
		c = content
		return info, err
	})
	return info, c, err
}

func (s *storeWithMetrics) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string) (*ObjectInfo, error) {
	v, err := s.versioning()
	if err != nil {
		return nil, err
	}
	return timed(s, "DeleteObjectVersion", func() (*ObjectInfo, error) { return v.DeleteObjectVersion(ctx, bucket, key, versionID) })
}

func (s *storeWithMetrics) ListObjectVersions(ctx context.Context, in ListObjectVersionsInput) (*ListObjectVersionsResult, error) {
	v, err := s.versioning()
	if err != nil {
		return nil, err
	}
	return timed(s, "ListObjectVersions", func() (*ListObjectVersionsResult, error) { return v.ListObjectVersions(ctx, in) })
}

func (s *storeWithMetrics) PutBucketCors(ctx context.Context, bucket string, rules []CORSRule) error {
	c, err := s.cors()
	if err != nil {
		return err
	}
	_, err = timed(s, "PutBucketCors", func() (struct{}, error) { return struct{}{}, c.PutBucketCors(ctx, bucket, rules) })
	return err
}

func (s *storeWithMetrics) GetBucketCors(ctx context.Context, bucket string) ([]CORSRule, error) {
	c, err := s.cors()
	if err != nil {
		return nil, err
	}
	return timed(s, "GetBucketCors", func() ([]CORSRule, error) { return c.GetBucketCors(ctx, bucket) })
}

func (s *storeWithMetrics) DeleteBucketCors(ctx context.Context, bucket string) error {
	c, err := s.cors()
	if err != nil {
		return err
	}
	_, err = timed(s, "DeleteBucketCors", func() (struct{}, error) { return struct{}{}, c.DeleteBucketCors(ctx, bucket) })
	return err
}
