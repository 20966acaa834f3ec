package s3mem

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// DefaultMaxKeys is the page size ListObjects uses when asked for zero or a
// negative number of keys.
const DefaultMaxKeys = 1000

// Config configures a Store. Its zero value is valid.
type Config struct {
	// Now returns the current time, used for LastModified and CreationDate.
	// nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Store is an in-memory s3api.ObjectStore. It is safe for concurrent use.
type Store struct {
	now func() time.Time

	mu      sync.RWMutex
	buckets map[string]*bucket
	// uploadSeq numbers uploads in the order they are created, store-wide.
	uploadSeq uint64
}

var (
	_ s3api.ObjectStore    = (*Store)(nil)
	_ s3api.MultipartStore = (*Store)(nil)
	_ s3api.CopyStore      = (*Store)(nil)
	_ s3api.TaggingStore   = (*Store)(nil)

	_ s3api.VersioningStore = (*Store)(nil)
)

type bucket struct {
	info    s3api.BucketInfo
	keys    []string // sorted by bytes
	objects map[string]*object
	uploads map[string]*upload // by upload ID
	// versioning is the bucket's versioning state ("" never set).
	versioning string
	// versions holds every version of a key, newest first, delete
	// markers included; a key's null version has vid "null".
	versions map[string][]*object
	// seq numbers the bucket's versions.
	seq uint64
	// cors is the bucket's CORS configuration, nil for none.
	cors []s3api.CORSRule
}

// object is one committed version; neither it nor its data is ever mutated
// after it is stored. A change of tags stores a new object sharing data.
type object struct {
	info s3api.ObjectInfo
	data content
	// vid is the version's ID, "null" for the null version.
	vid string
}

// New returns an empty Store that uses the system clock.
func New() *Store { return NewWithConfig(Config{}) }

// NewWithConfig returns an empty Store configured by cfg.
func NewWithConfig(cfg Config) *Store {
	cfg = cfg.withDefaults()
	return &Store{now: cfg.Now, buckets: make(map[string]*bucket)}
}

// ListBuckets returns every bucket, ordered by name.
func (s *Store) ListBuckets(ctx context.Context) ([]s3api.BucketInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]s3api.BucketInfo, 0, len(s.buckets))
	for _, b := range s.buckets {
		out = append(out, b.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreateBucket creates an empty bucket, or returns
// s3err.ErrBucketAlreadyOwnedByYou.
func (s *Store) CreateBucket(ctx context.Context, in s3api.CreateBucketInput) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create bucket %s: %w", in.Bucket, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[in.Bucket]; ok {
		return fmt.Errorf("create bucket %s: %w", in.Bucket, s3err.ErrBucketAlreadyOwnedByYou)
	}
	s.buckets[in.Bucket] = &bucket{
		info: s3api.BucketInfo{
			Name:         in.Bucket,
			CreationDate: s.now().UTC(),
			Location:     in.Location,
		},
		objects:  make(map[string]*object),
		uploads:  make(map[string]*upload),
		versions: make(map[string][]*object),
	}
	return nil
}

// HeadBucket returns the bucket, or s3err.ErrNoSuchBucket.
func (s *Store) HeadBucket(ctx context.Context, name string) (*s3api.BucketInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("head bucket %s: %w", name, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[name]
	if !ok {
		return nil, fmt.Errorf("head bucket %s: %w", name, s3err.ErrNoSuchBucket)
	}
	info := b.info
	return &info, nil
}

// DeleteBucket deletes an empty bucket. It returns s3err.ErrNoSuchBucket or
// s3err.ErrBucketNotEmpty.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return fmt.Errorf("delete bucket %s: %w", name, s3err.ErrNoSuchBucket)
	}
	if len(b.keys) > 0 || len(b.versions) > 0 {
		return fmt.Errorf("delete bucket %s: %w", name, s3err.ErrBucketNotEmpty)
	}
	delete(s.buckets, name)
	return nil
}

// PutObject reads in.Body to its end and commits it as the current version
// of in.Key. The body is read without holding the store's lock; the
// bucket's existence and in.Conditions are checked again at commit time.
func (s *Store) PutObject(ctx context.Context, in *s3api.PutObjectInput) (*s3api.ObjectInfo, error) {
	op := func(err error) error { return fmt.Errorf("put %s/%s: %w", in.Bucket, in.Key, err) }
	if err := ctx.Err(); err != nil {
		return nil, op(err)
	}
	if in.CID != "" {
		return nil, op(s3err.New(s3err.ErrNotImplemented, "This store has no content addressing: x-s3mesh-cid is not supported."))
	}
	s.mu.RLock()
	b, ok := s.buckets[in.Bucket]
	var err error
	if ok {
		err = checkConditions(b, in.Key, in.Conditions)
	}
	s.mu.RUnlock()
	if !ok {
		return nil, op(s3err.ErrNoSuchBucket)
	}
	if err != nil {
		return nil, op(err)
	}

	data, err := readBody(ctx, in.Body, in.Size)
	if err != nil {
		return nil, op(err)
	}
	sum := md5.Sum(data)
	if in.ContentMD5 != nil && !bytes.Equal(in.ContentMD5, sum[:]) {
		return nil, op(s3err.ErrBadDigest)
	}
	// Checksums are read only now: a wrapping reader may fill in a trailer
	// checksum when the body reaches EOF.
	obj := &object{
		info: s3api.ObjectInfo{
			Bucket:    in.Bucket,
			Key:       in.Key,
			Size:      int64(len(data)),
			ETag:      hex.EncodeToString(sum[:]),
			CID:       "",
			Metadata:  copyMetadata(in.Metadata),
			Checksums: maps.Clone(in.Checksums),
			Tags:      copyTags(in.Tags),
		},
		data: newContent(data),
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok = s.buckets[in.Bucket]
	if !ok {
		return nil, op(s3err.ErrNoSuchBucket)
	}
	if err := checkConditions(b, in.Key, in.Conditions); err != nil {
		return nil, op(err)
	}
	obj.info.LastModified = s.now().UTC()
	b.store(obj)
	return copyInfo(&obj.info), nil
}

// store makes obj the current version of its key: a new version when the
// bucket's versioning is Enabled, else the key's null version (replacing
// the previous one). The caller holds s.mu for writing.
func (b *bucket) store(obj *object) {
	b.addVersion(obj)
	b.setCurrent(obj)
}

// setCurrent makes obj the visible object of its key.
func (b *bucket) setCurrent(obj *object) {
	key := obj.info.Key
	if _, exists := b.objects[key]; !exists {
		i, _ := sort.Find(len(b.keys), func(i int) int { return strings.Compare(key, b.keys[i]) })
		b.keys = append(b.keys, "")
		copy(b.keys[i+1:], b.keys[i:])
		b.keys[i] = key
	}
	b.objects[key] = obj
}

// checkConditions checks c against the current version of key; the caller
// holds s.mu.
func checkConditions(b *bucket, key string, c s3api.PutConditions) error {
	cur, exists := b.objects[key]
	if exists && (c.IfNoneMatch == "*" || (c.IfNoneMatch != "" && strings.Trim(c.IfNoneMatch, `"`) == cur.info.ETag)) {
		return s3err.ErrPreconditionFailed
	}
	if c.IfMatch != "" {
		if !exists {
			return s3err.ErrNoSuchKey
		}
		if strings.Trim(c.IfMatch, `"`) != cur.info.ETag {
			return s3err.ErrPreconditionFailed
		}
	}
	return nil
}

// readBody reads r to its end. With size >= 0 it fails with
// s3err.ErrIncompleteBody when r holds fewer or more than size bytes.
func readBody(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	if r == nil {
		r = bytes.NewReader(nil)
	}
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(min(size, 64<<20)) + 1)
	}
	src := io.Reader(&ctxReader{ctx: ctx, r: r})
	if size >= 0 {
		// One byte more than announced tells a long body from an exact one.
		src = io.LimitReader(src, size+1)
	}
	if _, err := buf.ReadFrom(src); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	// With size >= 0, a body of exactly size bytes made the limited reader
	// ask for the extra byte, so r has reached EOF either way.
	if size >= 0 && int64(buf.Len()) != size {
		return nil, fmt.Errorf("read body: got %d or more bytes, want %d: %w", buf.Len(), size, s3err.ErrIncompleteBody)
	}
	data := buf.Bytes()
	return data[:len(data):len(data)], nil
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// HeadObject returns the current version's record, or s3err.ErrNoSuchBucket
// or s3err.ErrNoSuchKey.
func (s *Store) HeadObject(ctx context.Context, bucketName, key string) (*s3api.ObjectInfo, error) {
	obj, err := s.lookup(ctx, "head", bucketName, key)
	if err != nil {
		return nil, err
	}
	return copyInfo(&obj.info), nil
}

// GetObject returns the current version's record and its content. The
// content stays readable after the key is overwritten or deleted.
func (s *Store) GetObject(ctx context.Context, bucketName, key string) (*s3api.ObjectInfo, s3api.Content, error) {
	obj, err := s.lookup(ctx, "get", bucketName, key)
	if err != nil {
		return nil, nil, err
	}
	return copyInfo(&obj.info), obj.data, nil
}

func (s *Store) lookup(ctx context.Context, op, bucketName, key string) (*object, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", op, bucketName, key, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, fmt.Errorf("%s %s/%s: %w", op, bucketName, key, s3err.ErrNoSuchBucket)
	}
	obj, ok := b.objects[key]
	if !ok {
		return nil, fmt.Errorf("%s %s/%s: %w", op, bucketName, key, s3err.ErrNoSuchKey)
	}
	return obj, nil
}

// DeleteObject removes key; a missing key is not an error. It returns
// s3err.ErrNoSuchBucket.
func (s *Store) DeleteObject(ctx context.Context, bucketName, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s/%s: %w", bucketName, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return fmt.Errorf("delete %s/%s: %w", bucketName, key, s3err.ErrNoSuchBucket)
	}
	b.deleteCurrent(key, s.now().UTC())
	return nil
}

// unsetCurrent makes key invisible.
func (b *bucket) unsetCurrent(key string) {
	if _, ok := b.objects[key]; !ok {
		return
	}
	delete(b.objects, key)
	i, found := sort.Find(len(b.keys), func(i int) int { return strings.Compare(key, b.keys[i]) })
	if found {
		b.keys = append(b.keys[:i], b.keys[i+1:]...)
	}
}

// ListObjects lists keys in byte order as the s3api.ObjectStore contract
// describes, seeking by binary search: it never visits a key outside the
// page it returns except the one that tells whether more entries follow.
func (s *Store) ListObjects(ctx context.Context, in s3api.ListObjectsInput) (*s3api.ListObjectsResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", in.Bucket, err)
	}
	maxKeys := in.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[in.Bucket]
	if !ok {
		return nil, fmt.Errorf("list %s: %w", in.Bucket, s3err.ErrNoSuchBucket)
	}
	keys := b.keys

	// Seek to the first candidate: after After (and past the whole rolled-up
	// prefix After lies in), and not before Prefix.
	var i int
	if p, ok := rolledUp(in.After, in.Prefix, in.Delimiter); ok {
		i = pastPrefix(keys, p)
	} else {
		i = sort.Search(len(keys), func(i int) bool { return keys[i] > in.After })
	}
	if in.Prefix > in.After {
		i = max(i, sort.SearchStrings(keys, in.Prefix))
	}

	res := &s3api.ListObjectsResult{}
	count := 0
	for i < len(keys) && strings.HasPrefix(keys[i], in.Prefix) {
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		key := keys[i]
		if p, ok := rolledUp(key, in.Prefix, in.Delimiter); ok {
			res.CommonPrefixes = append(res.CommonPrefixes, p)
			res.NextAfter = p
			i = pastPrefix(keys, p)
		} else {
			res.Objects = append(res.Objects, *copyInfo(&b.objects[key].info))
			res.NextAfter = key
			i++
		}
		count++
	}
	if !res.IsTruncated {
		res.NextAfter = ""
	}
	return res, nil
}

// rolledUp returns the common prefix key rolls up into: prefix plus the
// remainder of key up to and including the first delimiter.
func rolledUp(key, prefix, delim string) (string, bool) {
	if delim == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	j := strings.Index(key[len(prefix):], delim)
	if j < 0 {
		return "", false
	}
	return key[:len(prefix)+j+len(delim)], true
}

// pastPrefix returns the index of the first key after every key that starts
// with p.
func pastPrefix(keys []string, p string) int {
	return sort.Search(len(keys), func(i int) bool {
		return keys[i] > p && !strings.HasPrefix(keys[i], p)
	})
}

func copyMetadata(m s3api.ObjectMetadata) s3api.ObjectMetadata {
	m.User = maps.Clone(m.User)
	return m
}

// copyTags returns a copy of tags, nil when there are none.
func copyTags(tags map[string]string) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	return maps.Clone(tags)
}

// copyInfo returns a deep copy of info: the caller may change it freely.
func copyInfo(info *s3api.ObjectInfo) *s3api.ObjectInfo {
	c := *info
	c.Metadata = copyMetadata(info.Metadata)
	c.Checksums = maps.Clone(info.Checksums)
	c.Tags = maps.Clone(info.Tags)
	c.PartSizes = slices.Clone(info.PartSizes)
	return &c
}
