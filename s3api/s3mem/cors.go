package s3mem

import (
	"context"
	"fmt"
	"slices"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

var _ s3api.CORSStore = (*Store)(nil)

// PutBucketCors implements s3api.CORSStore.
func (s *Store) PutBucketCors(ctx context.Context, name string, rules []s3api.CORSRule) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put cors %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return fmt.Errorf("put cors %s: %w", name, s3err.ErrNoSuchBucket)
	}
	b.cors = slices.Clone(rules)
	return nil
}

// GetBucketCors implements s3api.CORSStore.
func (s *Store) GetBucketCors(ctx context.Context, name string) ([]s3api.CORSRule, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get cors %s: %w", name, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[name]
	if !ok {
		return nil, fmt.Errorf("get cors %s: %w", name, s3err.ErrNoSuchBucket)
	}
	if len(b.cors) == 0 {
		return nil, fmt.Errorf("get cors %s: %w", name, s3err.ErrNoSuchCORSConfiguration)
	}
	return slices.Clone(b.cors), nil
}

// DeleteBucketCors implements s3api.CORSStore.
func (s *Store) DeleteBucketCors(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete cors %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return fmt.Errorf("delete cors %s: %w", name, s3err.ErrNoSuchBucket)
	}
	b.cors = nil
	return nil
}
