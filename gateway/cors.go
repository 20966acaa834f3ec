package gateway

import (
	"context"
	"encoding/json"
	"fmt"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// A bucket's CORS rules are a bucket setting, replicated like the others:
// the namespace keeps them as JSON in the bucket record.

var _ s3api.CORSStore = (*Node)(nil)

// PutBucketCors implements s3api.CORSStore.
func (n *Node) PutBucketCors(ctx context.Context, bucket string, rules []s3api.CORSRule) error {
	b, err := json.Marshal(rules)
	if err != nil {
		return fmt.Errorf("put cors %s: %w", bucket, err)
	}
	_, err = n.crdt.UpdateBucket(ctx, bucket, func(r *BucketRecord) error {
		r.CORS = string(b)
		return nil
	})
	return err
}

// GetBucketCors implements s3api.CORSStore.
func (n *Node) GetBucketCors(ctx context.Context, bucket string) ([]s3api.CORSRule, error) {
	b, err := n.ns.GetBucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	if b.CORS == "" {
		return nil, fmt.Errorf("get cors %s: %w", bucket, s3err.ErrNoSuchCORSConfiguration)
	}
	var rules []s3api.CORSRule
	if err := json.Unmarshal([]byte(b.CORS), &rules); err != nil {
		return nil, fmt.Errorf("get cors %s: %w", bucket, err)
	}
	return rules, nil
}

// DeleteBucketCors implements s3api.CORSStore.
func (n *Node) DeleteBucketCors(ctx context.Context, bucket string) error {
	_, err := n.crdt.UpdateBucket(ctx, bucket, func(r *BucketRecord) error {
		r.CORS = ""
		return nil
	})
	return err
}
