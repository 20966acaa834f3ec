package gateway

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"

	"s3mesh/gateway/namespace"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// Bucket versioning (s3api.VersioningStore). Every write of an object is
// already an immutable entry of the replicated namespace, versioned by a
// hybrid logical clock and the writer's node ID; an S3 version ID is that
// version (or "null" for the null version), so a version has the same ID
// at every office and the versions of a key have one order everywhere. See
// namespace/crdtversions.go.

var _ s3api.VersioningStore = (*Node)(nil)

// PutBucketVersioning implements s3api.VersioningStore: the state is a
// bucket setting, replicated like the others.
func (n *Node) PutBucketVersioning(ctx context.Context, bucket, status string) error {
	if status != s3api.VersioningEnabled && status != s3api.VersioningSuspended {
		return fmt.Errorf("put versioning %s: %w", bucket, s3err.ErrMalformedXML)
	}
	_, err := n.crdt.UpdateBucket(ctx, bucket, func(b *BucketRecord) error {
		b.Versioning = status
		return nil
	})
	return err
}

// GetBucketVersioning implements s3api.VersioningStore.
func (n *Node) GetBucketVersioning(ctx context.Context, bucket string) (string, error) {
	b, err := n.ns.GetBucket(ctx, bucket)
	if err != nil {
		return "", err
	}
	return b.Versioning, nil
}

// HeadObjectVersion implements s3api.VersioningStore.
func (n *Node) HeadObjectVersion(ctx context.Context, bucket, key, versionID string) (*s3api.ObjectInfo, error) {
	rec, err := n.crdt.ObjectVersion(ctx, bucket, key, versionID)
	if rec == nil {
		return nil, err
	}
	return rec.Info(), err
}

// GetObjectVersion implements s3api.VersioningStore, with GetObject's
// content rules; a delete marker has no content.
func (n *Node) GetObjectVersion(ctx context.Context, bucket, key, versionID string) (*s3api.ObjectInfo, s3api.Content, error) {
	rec, err := n.crdt.ObjectVersion(ctx, bucket, key, versionID)
	if rec == nil {
		return nil, nil, err
	}
	if rec.DeleteMarker || err != nil {
		return rec.Info(), nil, err
	}
	root, err := cid.Decode(rec.Root)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s/%s: record root: %w", bucket, key, err)
	}
	return rec.Info(), &content{n: n, bucket: bucket, key: key, root: root, size: rec.Size}, nil
}

// DeleteObjectVersion implements s3api.VersioningStore. A removed version's
// blocks stay until garbage collection.
func (n *Node) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string) (*s3api.ObjectInfo, error) {
	var (
		rec *ObjectRecord
		err error
	)
	if versionID == "" {
		rec, err = n.crdt.DeleteCurrent(ctx, bucket, key)
	} else {
		rec, err = n.crdt.DeleteVersion(ctx, bucket, key, versionID)
	}
	if err != nil || rec == nil {
		return nil, err
	}
	return rec.Info(), nil
}

// ListObjectVersions implements s3api.VersioningStore with range scans of
// the namespace's index of versions.
func (n *Node) ListObjectVersions(ctx context.Context, in s3api.ListObjectVersionsInput) (*s3api.ListObjectVersionsResult, error) {
	return namespace.ListVersions(ctx, n.crdt, in)
}
