package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"s3mesh/s3api/s3err"
)

// PebbleNamespace is a Namespace, and the node's local UploadStore, in a
// local Pebble database. Namespace keys are
//
//	b/<bucket>         bucket record
//	o/<bucket>/<key>   object record
//
// Bucket names cannot contain '/', so "o/<bucket>/" is an exact range and
// byte order within it is key order. Every write is synced.
type PebbleNamespace struct {
	db *pebble.DB
	wo *pebble.WriteOptions

	// bucketMu orders bucket creation and deletion (exclusive) against
	// object writes (shared), so an object is never written into a bucket
	// being deleted.
	bucketMu sync.RWMutex
	seed     maphash.Seed
	keyMu    [256]sync.Mutex // serialises check-and-commit per key
	uploadMu [64]sync.Mutex  // serialises the writes of an upload

	openUploads atomic.Int64 // upload records, counted at open

	closeOnce sync.Once
	closeErr  error
}

var _ Namespace = (*PebbleNamespace)(nil)

// PebbleNamespaceConfig configures a PebbleNamespace.
type PebbleNamespaceConfig struct {
	// Dir is the database directory, created if missing. Required.
	Dir string
	// NoSync commits writes without fsync: a crash can lose acknowledged
	// writes. For tests only. Default false.
	NoSync bool
	// Logger receives Pebble's messages. nil discards.
	Logger *slog.Logger
}

// OpenPebbleNamespace opens (creating if needed) the namespace database in
// cfg.Dir.
func OpenPebbleNamespace(cfg PebbleNamespaceConfig) (*PebbleNamespace, error) {
	if cfg.Dir == "" {
		return nil, errors.New("open namespace: dir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := pebble.Open(cfg.Dir, &pebble.Options{Logger: pebbleLogger{cfg.Logger}})
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", cfg.Dir, err)
	}
	wo := pebble.Sync
	if cfg.NoSync {
		wo = pebble.NoSync
	}
	n := &PebbleNamespace{db: db, wo: wo, seed: maphash.MakeSeed()}
	c, err := n.countUploads()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open namespace %s: %w", cfg.Dir, err)
	}
	n.openUploads.Store(c)
	return n, nil
}

// Close closes the database. Idempotent.
func (n *PebbleNamespace) Close() error {
	n.closeOnce.Do(func() {
		n.closeErr = n.db.Close()
		if n.closeErr != nil {
			n.closeErr = fmt.Errorf("close namespace: %w", n.closeErr)
		}
	})
	return n.closeErr
}

func bucketKey(name string) []byte { return append([]byte(prefixBucket), name...) }

func objectPrefix(bucket string) []byte {
	k := make([]byte, 0, 3+len(bucket))
	k = append(k, prefixObject...)
	k = append(k, bucket...)
	return append(k, '/')
}

func objectKey(bucket, key string) []byte { return append(objectPrefix(bucket), key...) }

// upperBound returns the smallest key greater than every key with prefix
// p, or nil when there is none.
func upperBound(p []byte) []byte {
	b := bytes.Clone(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}

func (n *PebbleNamespace) get(key []byte) ([]byte, bool, error) {
	v, closer, err := n.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, true, nil
}

func (n *PebbleNamespace) bucketExists(name string) (bool, error) {
	_, ok, err := n.get(bucketKey(name))
	return ok, err
}

// CreateBucket implements Namespace.
func (n *PebbleNamespace) CreateBucket(ctx context.Context, b BucketRecord) error {
	n.bucketMu.Lock()
	defer n.bucketMu.Unlock()
	ok, err := n.bucketExists(b.Name)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", b.Name, err)
	}
	if ok {
		return fmt.Errorf("create bucket %s: %w", b.Name, s3err.ErrBucketAlreadyOwnedByYou)
	}
	v, err := encodeBucket(b)
	if err != nil {
		return err
	}
	if err := n.db.Set(bucketKey(b.Name), v, n.wo); err != nil {
		return fmt.Errorf("create bucket %s: %w", b.Name, err)
	}
	return nil
}

// GetBucket implements Namespace.
func (n *PebbleNamespace) GetBucket(ctx context.Context, name string) (*BucketRecord, error) {
	v, ok, err := n.get(bucketKey(name))
	if err != nil {
		return nil, fmt.Errorf("get bucket %s: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("get bucket %s: %w", name, s3err.ErrNoSuchBucket)
	}
	return decodeBucket(name, v)
}

// DeleteBucket implements Namespace. It also discards the bucket's
// multipart uploads in progress; they do not make the bucket non-empty.
func (n *PebbleNamespace) DeleteBucket(ctx context.Context, name string) error {
	n.bucketMu.Lock()
	defer n.bucketMu.Unlock()
	ok, err := n.bucketExists(name)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("delete bucket %s: %w", name, s3err.ErrNoSuchBucket)
	}
	nonEmpty, err := n.hasObjects(ctx, name)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if nonEmpty {
		return fmt.Errorf("delete bucket %s: %w", name, s3err.ErrBucketNotEmpty)
	}
	// Uploads in progress are discarded with the bucket, in the same batch.
	b := n.db.NewBatch()
	defer b.Close()
	dropped, err := n.deleteBucketUploads(ctx, b, name)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if err := b.Delete(bucketKey(name), nil); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if err := b.Commit(n.wo); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	n.openUploads.Add(-dropped)
	return nil
}

// ListBuckets implements Namespace.
func (n *PebbleNamespace) ListBuckets(ctx context.Context) ([]BucketRecord, error) {
	p := []byte(prefixBucket)
	it, err := n.prefixIter(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer it.Close()
	var out []BucketRecord
	for ok := it.First(); ok; ok = it.Next() {
		b, err := decodeBucket(string(it.Key()[len(p):]), it.Value())
		if err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		out = append(out, *b)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	return out, nil
}

// GetObject implements Namespace.
func (n *PebbleNamespace) GetObject(ctx context.Context, bucket, key string) (*ObjectRecord, error) {
	v, ok, err := n.get(objectKey(bucket, key))
	if err != nil {
		return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, err)
	}
	if !ok {
		// Tell a missing bucket from a missing key only on the miss path.
		exists, err := n.bucketExists(bucket)
		if err != nil {
			return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, err)
		}
		if !exists {
			return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, s3err.ErrNoSuchBucket)
		}
		return nil, fmt.Errorf("get object %s/%s: %w", bucket, key, s3err.ErrNoSuchKey)
	}
	return decodeObject(bucket, key, v)
}

func (n *PebbleNamespace) lockKey(bucket, key string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(n.seed)
	h.WriteString(bucket)
	h.WriteByte('/')
	h.WriteString(key)
	return &n.keyMu[h.Sum64()%uint64(len(n.keyMu))]
}

// PutObject implements Namespace.
func (n *PebbleNamespace) PutObject(ctx context.Context, rec *ObjectRecord, check PutCheck) error {
	v, err := encodeObject(rec)
	if err != nil {
		return err
	}
	n.bucketMu.RLock()
	defer n.bucketMu.RUnlock()
	ok, err := n.bucketExists(rec.Bucket)
	if err != nil {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
	}
	if !ok {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, s3err.ErrNoSuchBucket)
	}
	mu := n.lockKey(rec.Bucket, rec.Key)
	mu.Lock()
	defer mu.Unlock()
	k := objectKey(rec.Bucket, rec.Key)
	if check != nil {
		var cur *ObjectRecord
		old, found, err := n.get(k)
		if err != nil {
			return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
		}
		if found {
			if cur, err = decodeObject(rec.Bucket, rec.Key, old); err != nil {
				return err
			}
		}
		if err := check(cur); err != nil {
			return err
		}
	}
	if err := n.db.Set(k, v, n.wo); err != nil {
		return fmt.Errorf("put object %s/%s: %w", rec.Bucket, rec.Key, err)
	}
	return nil
}

// UpdateObject implements Namespace.
func (n *PebbleNamespace) UpdateObject(ctx context.Context, bucket, key string, fn func(cur *ObjectRecord) (*ObjectRecord, error)) (*ObjectRecord, error) {
	n.bucketMu.RLock()
	defer n.bucketMu.RUnlock()
	ok, err := n.bucketExists(bucket)
	if err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	if !ok {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, s3err.ErrNoSuchBucket)
	}
	mu := n.lockKey(bucket, key)
	mu.Lock()
	defer mu.Unlock()
	k := objectKey(bucket, key)
	var cur *ObjectRecord
	old, found, err := n.get(k)
	if err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	if found {
		if cur, err = decodeObject(bucket, key, old); err != nil {
			return nil, err
		}
	}
	rec, err := fn(cur)
	if err != nil {
		return nil, err
	}
	rec.Bucket, rec.Key = bucket, key
	v, err := encodeObject(rec)
	if err != nil {
		return nil, err
	}
	if err := n.db.Set(k, v, n.wo); err != nil {
		return nil, fmt.Errorf("update object %s/%s: %w", bucket, key, err)
	}
	return rec, nil
}

// DeleteObject implements Namespace.
func (n *PebbleNamespace) DeleteObject(ctx context.Context, bucket, key string) error {
	n.bucketMu.RLock()
	defer n.bucketMu.RUnlock()
	ok, err := n.bucketExists(bucket)
	if err != nil {
		return fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	if !ok {
		return fmt.Errorf("delete object %s/%s: %w", bucket, key, s3err.ErrNoSuchBucket)
	}
	mu := n.lockKey(bucket, key)
	mu.Lock()
	defer mu.Unlock()
	if err := n.db.Delete(objectKey(bucket, key), n.wo); err != nil {
		return fmt.Errorf("delete object %s/%s: %w", bucket, key, err)
	}
	return nil
}

// bucketIter returns an iterator over the keys under prefix p of an
// existing bucket, or s3err.ErrNoSuchBucket; errors name the operation op.
func (n *PebbleNamespace) bucketIter(ctx context.Context, bucket string, p []byte, op string) (*pebble.Iterator, error) {
	ok, err := n.bucketExists(bucket)
	if err == nil && !ok {
		err = s3err.ErrNoSuchBucket
	}
	var it *pebble.Iterator
	if err == nil {
		it, err = n.prefixIter(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, bucket, err)
	}
	return it, nil
}

// Objects implements Namespace. The iterator reads a consistent snapshot
// taken when it is created.
func (n *PebbleNamespace) Objects(ctx context.Context, bucket, start string) (ObjectIterator, error) {
	p := objectPrefix(bucket)
	it, err := n.bucketIter(ctx, bucket, p, "list objects")
	if err != nil {
		return nil, err
	}
	pi := &pebbleIter{it: it, bucket: bucket, prefix: p}
	pi.Seek(start)
	return pi, nil
}

type pebbleIter struct {
	it      *pebble.Iterator
	bucket  string
	prefix  []byte
	seekBuf []byte
	// positioned is true after a Seek: the iterator already stands on the
	// entry the next Next returns.
	positioned bool
	valid      bool
}

func (p *pebbleIter) Next() bool {
	if p.positioned {
		p.positioned = false
	} else if p.valid {
		p.valid = p.it.Next()
	}
	return p.valid
}

func (p *pebbleIter) Seek(key string) {
	p.seekBuf = append(append(p.seekBuf[:0], p.prefix...), key...)
	p.valid = p.it.SeekGE(p.seekBuf)
	p.positioned = true
}

func (p *pebbleIter) Key() string { return string(p.it.Key()[len(p.prefix):]) }

func (p *pebbleIter) Record() (*ObjectRecord, error) {
	return decodeObject(p.bucket, p.Key(), p.it.Value())
}

func (p *pebbleIter) Err() error {
	if err := p.it.Error(); err != nil {
		return fmt.Errorf("list objects %s: %w", p.bucket, err)
	}
	return nil
}

func (p *pebbleIter) Close() error { return p.it.Close() }

// pebbleLogger adapts slog to Pebble's logger. Fatalf logs and panics, as
// Pebble expects it not to return.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic(msg)
}

// prefixIter returns an iterator over the keys that start with p.
func (n *PebbleNamespace) prefixIter(ctx context.Context, p []byte) (*pebble.Iterator, error) {
	return n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
}

// hasObjects reports whether bucket holds at least one object record.
func (n *PebbleNamespace) hasObjects(ctx context.Context, bucket string) (bool, error) {
	it, err := n.prefixIter(ctx, objectPrefix(bucket))
	if err != nil {
		return false, err
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return false, err
	}
	return found, nil
}
