package gateway

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"

	"github.com/ipfs/go-cid"
)

var (
	_ s3api.CopyStore    = (*Node)(nil)
	_ s3api.TaggingStore = (*Node)(nil)
)

// CopyObject implements s3api.CopyStore: the new record names the source's
// root CID, so no content is copied. The source version read is the one
// copied even if the source is overwritten before the copy commits.
func (n *Node) CopyObject(ctx context.Context, in *s3api.CopyObjectInput) (*s3api.ObjectInfo, error) {
	if err := n.upkeep.EnsureSpace(ctx); err != nil {
		return nil, fmt.Errorf("copy %s/%s: %w", in.Bucket, in.Key, err)
	}
	w := n.upkeep.BeginWrite()
	defer w.End()
	src, err := n.copySource(ctx, in.SourceBucket, in.SourceKey, in.SourceVersionID)
	if err != nil {
		return nil, fmt.Errorf("copy %s/%s: source: %w", in.Bucket, in.Key, err)
	}
	if root, err := cid.Decode(src.Root); err == nil {
		w.Note(root) // GC spares the source's DAG until the copy commits
	}
	if in.SourceETag != "" && in.SourceETag != src.ETag {
		return nil, fmt.Errorf("copy %s/%s: source etag %s, want %s: %w", in.Bucket, in.Key, src.ETag, in.SourceETag, s3err.ErrPreconditionFailed)
	}
	rec := *src
	rec.Bucket, rec.Key = in.Bucket, in.Key
	rec.LastModified = n.cfg.Clock().UTC()
	rec.PartSizes = slices.Clone(src.PartSizes)
	rec.Checksums = cloneMap(src.Checksums)
	if in.ReplaceMetadata {
		m := in.Metadata
		rec.ContentType, rec.ContentEncoding, rec.ContentDisposition = m.ContentType, m.ContentEncoding, m.ContentDisposition
		rec.ContentLanguage, rec.CacheControl, rec.Expires = m.ContentLanguage, m.CacheControl, m.Expires
		rec.User = cloneMap(m.User)
		rec.Tags = cloneMap(in.Tags)
	} else {
		rec.User = cloneMap(src.User)
		rec.Tags = cloneMap(src.Tags)
	}
	if err := n.ns.PutObject(ctx, &rec, putCheck(in.Conditions)); err != nil {
		return nil, fmt.Errorf("copy %s/%s: %w", in.Bucket, in.Key, err)
	}
	return rec.Info(), nil
}

// PutObjectTagging implements s3api.TaggingStore.
func (n *Node) PutObjectTagging(ctx context.Context, bucket, key string, tags map[string]string) (*s3api.ObjectInfo, error) {
	rec, err := n.ns.UpdateObject(ctx, bucket, key, func(cur *ObjectRecord) (*ObjectRecord, error) {
		if cur == nil {
			return nil, s3err.ErrNoSuchKey
		}
		cur.Tags = cloneMap(tags)
		return cur, nil
	})
	if err != nil {
		return nil, fmt.Errorf("put tagging %s/%s: %w", bucket, key, err)
	}
	info := rec.Info()
	info.Tags = maps.Clone(info.Tags)
	return info, nil
}

// copySource returns the record of a copy source: version versionID of it
// ("" for the current one); a delete marker is s3err.ErrInvalidRequest.
func (n *Node) copySource(ctx context.Context, bucket, key, versionID string) (*ObjectRecord, error) {
	if versionID == "" {
		return n.ns.GetObject(ctx, bucket, key)
	}
	rec, err := n.crdt.ObjectVersion(ctx, bucket, key, versionID)
	if err != nil {
		return nil, err
	}
	if rec.DeleteMarker {
		return nil, s3err.New(s3err.ErrInvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	return rec, nil
}
