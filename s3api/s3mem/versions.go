package s3mem

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// addVersion adds obj as the newest version of its key and sets its
// version ID; the caller holds s.mu for writing.
func (b *bucket) addVersion(obj *object) {
	key := obj.info.Key
	obj.vid = "null"
	if b.versioning == s3api.VersioningEnabled {
		b.seq++
		obj.vid = fmt.Sprintf("%016x", b.seq)
	}
	obj.info.VersionID = ""
	if b.versioning != "" {
		obj.info.VersionID = obj.vid
	}
	vs := b.versions[key]
	if obj.vid == "null" {
		vs = slices.DeleteFunc(slices.Clone(vs), func(o *object) bool { return o.vid == "null" })
	}
	b.versions[key] = append([]*object{obj}, vs...)
}

// replaceVersion puts obj in the place of the version old (same ID).
func (b *bucket) replaceVersion(old, obj *object) {
	vs := b.versions[old.info.Key]
	if i := slices.Index(vs, old); i >= 0 {
		vs[i] = obj
	}
	if b.objects[old.info.Key] == old {
		b.objects[old.info.Key] = obj
	}
}

// deleteCurrent deletes key without a version ID and returns the delete
// marker written, if any.
func (b *bucket) deleteCurrent(key string, now time.Time) *object {
	if b.versioning == "" {
		if len(b.versions[key]) > 0 {
			delete(b.versions, key)
		}
		b.unsetCurrent(key)
		return nil
	}
	m := &object{info: s3api.ObjectInfo{Bucket: b.info.Name, Key: key, LastModified: now, DeleteMarker: true}}
	b.addVersion(m)
	b.unsetCurrent(key)
	return m
}

// removeVersion removes version id of key; the previous version becomes
// current.
func (b *bucket) removeVersion(key, id string) *object {
	vs := b.versions[key]
	i := slices.IndexFunc(vs, func(o *object) bool { return o.vid == id })
	if i < 0 {
		return nil
	}
	old := vs[i]
	vs = slices.Delete(slices.Clone(vs), i, i+1)
	if len(vs) == 0 {
		delete(b.versions, key)
	} else {
		b.versions[key] = vs
	}
	if i == 0 {
		if len(vs) > 0 && !vs[0].info.DeleteMarker {
			b.setCurrent(vs[0])
		} else {
			b.unsetCurrent(key)
		}
	}
	return old
}

// versionInfo is the record of obj as the versioning calls report it.
func versionInfo(obj *object) *s3api.ObjectInfo {
	info := copyInfo(&obj.info)
	info.VersionID = obj.vid
	return info
}

// PutBucketVersioning sets the bucket's versioning state.
func (s *Store) PutBucketVersioning(ctx context.Context, name, status string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put versioning %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return fmt.Errorf("put versioning %s: %w", name, s3err.ErrNoSuchBucket)
	}
	b.versioning = status
	return nil
}

// GetBucketVersioning returns the bucket's versioning state.
func (s *Store) GetBucketVersioning(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("get versioning %s: %w", name, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[name]
	if !ok {
		return "", fmt.Errorf("get versioning %s: %w", name, s3err.ErrNoSuchBucket)
	}
	return b.versioning, nil
}

// lookupVersion finds version id of key ("" for the current one).
func (s *Store) lookupVersion(ctx context.Context, bucketName, key, id string) (*object, error) {
	op := func(err error) error { return fmt.Errorf("get %s/%s version %q: %w", bucketName, key, id, err) }
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, op(s3err.ErrNoSuchBucket)
	}
	vs := b.versions[key]
	if id == "" {
		if len(vs) > 0 && vs[0].info.DeleteMarker {
			return vs[0], op(s3err.ErrNoSuchKey)
		}
		obj, ok := b.objects[key]
		if !ok {
			return nil, op(s3err.ErrNoSuchKey)
		}
		return obj, nil
	}
	for _, o := range vs {
		if o.vid == id {
			return o, nil
		}
	}
	return nil, op(s3err.ErrNoSuchVersion)
}

// HeadObjectVersion implements s3api.VersioningStore.
func (s *Store) HeadObjectVersion(ctx context.Context, bucketName, key, id string) (*s3api.ObjectInfo, error) {
	obj, err := s.lookupVersion(ctx, bucketName, key, id)
	if obj == nil {
		return nil, err
	}
	return versionInfo(obj), err
}

// GetObjectVersion implements s3api.VersioningStore.
func (s *Store) GetObjectVersion(ctx context.Context, bucketName, key, id string) (*s3api.ObjectInfo, s3api.Content, error) {
	obj, err := s.lookupVersion(ctx, bucketName, key, id)
	if obj == nil {
		return nil, nil, err
	}
	if obj.info.DeleteMarker {
		return versionInfo(obj), nil, err
	}
	return versionInfo(obj), obj.data, err
}

// DeleteObjectVersion implements s3api.VersioningStore.
func (s *Store) DeleteObjectVersion(ctx context.Context, bucketName, key, id string) (*s3api.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("delete %s/%s: %w", bucketName, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, fmt.Errorf("delete %s/%s: %w", bucketName, key, s3err.ErrNoSuchBucket)
	}
	var obj *object
	if id == "" {
		obj = b.deleteCurrent(key, s.now().UTC())
	} else {
		obj = b.removeVersion(key, id)
	}
	if obj == nil {
		return nil, nil
	}
	return versionInfo(obj), nil
}

// ListObjectVersions implements s3api.VersioningStore. It sorts the
// bucket's keys on each call: s3mem is a reference, not a fast store.
func (s *Store) ListObjectVersions(ctx context.Context, in s3api.ListObjectVersionsInput) (*s3api.ListObjectVersionsResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list versions %s: %w", in.Bucket, err)
	}
	maxKeys := in.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[in.Bucket]
	if !ok {
		return nil, fmt.Errorf("list versions %s: %w", in.Bucket, s3err.ErrNoSuchBucket)
	}
	keys := make([]string, 0, len(b.versions))
	for k := range b.versions {
		if strings.HasPrefix(k, in.Prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := &s3api.ListObjectVersionsResult{}
	count := 0
	markerCP, _ := rolledUp(in.KeyMarker, in.Prefix, in.Delimiter)
	lastCP := ""
	full := func() bool {
		if count == maxKeys {
			res.IsTruncated = true
			return true
		}
		return false
	}
	for _, key := range keys {
		if in.KeyMarker != "" && key < in.KeyMarker {
			continue
		}
		if cp, ok := rolledUp(key, in.Prefix, in.Delimiter); ok {
			if cp == lastCP || (markerCP != "" && cp == markerCP) {
				continue
			}
			if full() {
				break
			}
			lastCP = cp
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
			count++
			continue
		}
		vs := b.versions[key]
		skip := 0
		if key == in.KeyMarker {
			skip = len(vs)
			if in.VersionIDMarker != "" {
				if i := slices.IndexFunc(vs, func(o *object) bool { return o.vid == in.VersionIDMarker }); i >= 0 {
					skip = i + 1
				}
			}
		}
		for i := skip; i < len(vs); i++ {
			if full() {
				break
			}
			res.Versions = append(res.Versions, s3api.ObjectVersion{ObjectInfo: *versionInfo(vs[i]), IsLatest: i == 0})
			res.NextKeyMarker, res.NextVersionIDMarker = key, vs[i].vid
			count++
		}
		if res.IsTruncated {
			break
		}
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, nil
}
