package s3mem

import (
	"context"
	"fmt"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// CopyObject makes in.Key an object with the content of the current version
// of the source, sharing its bytes. The copy keeps the source's size, ETag,
// checksums and part sizes; it takes the source's metadata and tags, or
// in.Metadata and in.Tags with ReplaceMetadata. It returns
// s3err.ErrNoSuchBucket (either bucket), s3err.ErrNoSuchKey (source) and
// s3err.ErrPreconditionFailed (in.SourceETag, or in.Conditions on the
// destination).
func (s *Store) CopyObject(ctx context.Context, in *s3api.CopyObjectInput) (*s3api.ObjectInfo, error) {
	op := func(err error) error {
		return fmt.Errorf("copy %s/%s to %s/%s: %w", in.SourceBucket, in.SourceKey, in.Bucket, in.Key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[in.Bucket]
	if !ok {
		return nil, op(s3err.ErrNoSuchBucket)
	}
	src, err := s.source(in.SourceBucket, in.SourceKey, in.SourceVersionID, in.SourceETag)
	if err != nil {
		return nil, op(err)
	}
	if err := checkConditions(b, in.Key, in.Conditions); err != nil {
		return nil, op(err)
	}
	info := copyInfo(&src.info)
	info.Bucket, info.Key = in.Bucket, in.Key
	if in.ReplaceMetadata {
		info.Metadata = copyMetadata(in.Metadata)
		info.Tags = copyTags(in.Tags)
	}
	info.LastModified = s.now().UTC()
	obj := &object{info: *info, data: src.data}
	b.store(obj)
	return copyInfo(&obj.info), nil
}

// PutObjectTagging replaces the tags of the current version of key; an
// empty or nil map removes them. Nothing else changes, LastModified
// included. It returns s3err.ErrNoSuchBucket or s3err.ErrNoSuchKey.
func (s *Store) PutObjectTagging(ctx context.Context, bucketName, key string, tags map[string]string) (*s3api.ObjectInfo, error) {
	op := func(err error) error { return fmt.Errorf("put tagging %s/%s: %w", bucketName, key, err) }
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, op(s3err.ErrNoSuchBucket)
	}
	cur, ok := b.objects[key]
	if !ok {
		return nil, op(s3err.ErrNoSuchKey)
	}
	info := copyInfo(&cur.info)
	info.Tags = copyTags(tags)
	obj := &object{info: *info, data: cur.data, vid: cur.vid}
	b.replaceVersion(cur, obj)
	return copyInfo(&obj.info), nil
}
