package namespace

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"s3mesh/s3api/s3err"
)

// PebbleNamespace also keeps multipart upload state (UploadStore), in the
// same database under keys of its own:
//
//	u/<bucket>/<esc(key)>\x00\x01<id>   upload record
//	p/<bucket>/<id>/<number>            part record, number zero-padded to 5 digits
//
// esc escapes each 0x00 byte of the key as 0x00 0xff, so the encoding
// orders uploads by key, then by ID, and the uploads of keys with a given
// prefix are one range: listing uploads and parts are range scans. Upload
// IDs hold no '/', so the parts of an upload, and all the uploads and parts
// of a bucket, are ranges too.
//
// Lock order: bucketMu, then an upload's lock, then a key's lock.

var _ UploadStore = (*PebbleNamespace)(nil)

const partDigits = 5 // s3api.MaxParts is 10000

func uploadPrefix(bucket string) []byte {
	k := make([]byte, 0, 3+len(bucket))
	k = append(k, prefixUpload...)
	k = append(k, bucket...)
	return append(k, '/')
}

// appendEscaped appends key with each 0x00 escaped as 0x00 0xff.
func appendEscaped(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		b = append(b, key[i])
		if key[i] == 0 {
			b = append(b, 0xff)
		}
	}
	return b
}

func uploadKey(ref UploadRef) []byte {
	k := appendEscaped(uploadPrefix(ref.Bucket), ref.Key)
	k = append(k, 0, 1)
	return append(k, ref.ID...)
}

// splitUploadKey decodes the part of an upload key after its bucket prefix.
func splitUploadKey(b []byte) (key, id string, err error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch b[i+1] {
		case 0xff:
			out = append(out, 0)
			i++
		case 1:
			return string(out), string(b[i+2:]), nil
		}
	}
	return "", "", fmt.Errorf("malformed upload key %q", b)
}

func partPrefix(bucket, id string) []byte {
	k := make([]byte, 0, 4+len(bucket)+len(id))
	k = append(k, prefixPart...)
	k = append(k, bucket...)
	k = append(k, '/')
	if id == "" {
		return k // every part of the bucket
	}
	k = append(k, id...)
	return append(k, '/')
}

func partKey(bucket, id string, number int) []byte {
	return fmt.Appendf(partPrefix(bucket, id), "%0*d", partDigits, number)
}

func (n *PebbleNamespace) lockUpload(id string) *sync.Mutex {
	return &n.uploadMu[maphash.String(n.seed, id)%uint64(len(n.uploadMu))]
}

// countUploads counts the upload records of every bucket.
func (n *PebbleNamespace) countUploads() (int64, error) {
	p := []byte(prefixUpload)
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return 0, err
	}
	var c int64
	for ok := it.First(); ok; ok = it.Next() {
		c++
	}
	return c, errors.Join(it.Error(), it.Close())
}

// uploadErr tells a missing bucket from a missing upload, on the miss path.
func (n *PebbleNamespace) uploadErr(bucket string) error {
	ok, err := n.bucketExists(bucket)
	switch {
	case err != nil:
		return err
	case !ok:
		return s3err.ErrNoSuchBucket
	default:
		return s3err.ErrNoSuchUpload
	}
}

// getUpload returns the upload ref names, or an error from uploadErr.
func (n *PebbleNamespace) getUpload(ref UploadRef) (*UploadRecord, error) {
	v, ok, err := n.get(uploadKey(ref))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, n.uploadErr(ref.Bucket)
	}
	return decodeUpload(ref, v)
}

// CreateUpload implements UploadStore.
func (n *PebbleNamespace) CreateUpload(ctx context.Context, u *UploadRecord) error {
	v, err := encodeUpload(u)
	if err != nil {
		return err
	}
	n.bucketMu.RLock()
	defer n.bucketMu.RUnlock()
	ok, err := n.bucketExists(u.Bucket)
	if err != nil {
		return fmt.Errorf("create upload %s/%s: %w", u.Bucket, u.Key, err)
	}
	if !ok {
		return fmt.Errorf("create upload %s/%s: %w", u.Bucket, u.Key, s3err.ErrNoSuchBucket)
	}
	if err := n.db.Set(uploadKey(u.UploadRef), v, n.wo); err != nil {
		return fmt.Errorf("create upload %s/%s: %w", u.Bucket, u.Key, err)
	}
	n.openUploads.Add(1)
	return nil
}

// GetUpload implements UploadStore.
func (n *PebbleNamespace) GetUpload(ctx context.Context, ref UploadRef) (*UploadRecord, error) {
	u, err := n.getUpload(ref)
	if err != nil {
		return nil, fmt.Errorf("get upload %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err)
	}
	return u, nil
}

// PutPart implements UploadStore.
func (n *PebbleNamespace) PutPart(ctx context.Context, ref UploadRef, p *PartRecord) error {
	v, err := encodePart(p)
	if err != nil {
		return err
	}
	n.bucketMu.RLock()
	defer n.bucketMu.RUnlock()
	mu := n.lockUpload(ref.ID)
	mu.Lock()
	defer mu.Unlock()
	if _, err := n.getUpload(ref); err != nil {
		return fmt.Errorf("put part %d of %s/%s: %w", p.Number, ref.Bucket, ref.Key, err)
	}
	if err := n.db.Set(partKey(ref.Bucket, ref.ID, p.Number), v, n.wo); err != nil {
		return fmt.Errorf("put part %d of %s/%s: %w", p.Number, ref.Bucket, ref.Key, err)
	}
	return nil
}

// Parts implements UploadStore. The upload and its parts are read from one
// snapshot.
func (n *PebbleNamespace) Parts(ctx context.Context, ref UploadRef, after, limit int) (*UploadRecord, []PartRecord, bool, error) {
	op := func(err error) error { return fmt.Errorf("list parts %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err) }
	snap := n.db.NewSnapshot()
	defer snap.Close()
	v, closer, err := snap.Get(uploadKey(ref))
	if errors.Is(err, pebble.ErrNotFound) {
		if err := n.uploadErr(ref.Bucket); err != nil {
			return nil, nil, false, op(err)
		}
	}
	if err != nil {
		return nil, nil, false, op(err)
	}
	u, err := decodeUpload(ref, v)
	closer.Close()
	if err != nil {
		return nil, nil, false, err
	}
	p := partPrefix(ref.Bucket, ref.ID)
	it, err := snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return nil, nil, false, op(err)
	}
	defer it.Close()
	var parts []PartRecord
	more := false
	start := max(after+1, 0)
	for ok := it.SeekGE(partKey(ref.Bucket, ref.ID, start)); ok; ok = it.Next() {
		if limit > 0 && len(parts) == limit {
			more = true
			break
		}
		num, err := strconv.Atoi(string(it.Key()[len(p):]))
		if err != nil {
			return nil, nil, false, op(fmt.Errorf("malformed part key %q", it.Key()))
		}
		rec, err := decodePart(num, it.Value())
		if err != nil {
			return nil, nil, false, op(err)
		}
		parts = append(parts, *rec)
	}
	if err := it.Error(); err != nil {
		return nil, nil, false, op(err)
	}
	return u, parts, more, nil
}

// AbortUpload implements UploadStore.
func (n *PebbleNamespace) AbortUpload(ctx context.Context, ref UploadRef) error {
	if err := n.endUpload(ref, nil); err != nil {
		return fmt.Errorf("abort upload %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err)
	}
	return nil
}

// endUpload deletes the upload ref and its parts, and sets extra (nil:
// nothing) in the same batch; s3err.ErrNoSuchUpload when it is gone.
func (n *PebbleNamespace) endUpload(ref UploadRef, extra *kvPair) error {
	n.bucketMu.RLock()
	defer n.bucketMu.RUnlock()
	mu := n.lockUpload(ref.ID)
	mu.Lock()
	defer mu.Unlock()
	if _, err := n.getUpload(ref); err != nil {
		return err
	}
	b := n.db.NewBatch()
	defer b.Close()
	if err := endUpload(b, ref); err != nil {
		return err
	}
	if extra != nil {
		if err := b.Set(extra.k, extra.v, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(n.wo); err != nil {
		return err
	}
	n.openUploads.Add(-1)
	return nil
}

// kvPair is one key and value to write.
type kvPair struct{ k, v []byte }

// endUpload adds the deletion of the upload and its parts to b.
func endUpload(b *pebble.Batch, ref UploadRef) error {
	if err := b.Delete(uploadKey(ref), nil); err != nil {
		return err
	}
	p := partPrefix(ref.Bucket, ref.ID)
	return b.DeleteRange(p, upperBound(p), nil)
}

// Uploads implements UploadStore. The iterator reads a consistent snapshot
// taken when it is created.
func (n *PebbleNamespace) Uploads(ctx context.Context, bucket string) (UploadIterator, error) {
	p := uploadPrefix(bucket)
	it, err := n.bucketIter(ctx, bucket, p, "list uploads")
	if err != nil {
		return nil, err
	}
	ui := &pebbleUploadIter{it: it, bucket: bucket, prefix: p}
	ui.Seek("", "")
	return ui, nil
}

// OpenUploads implements UploadStore.
func (n *PebbleNamespace) OpenUploads() int64 { return n.openUploads.Load() }

type pebbleUploadIter struct {
	it      *pebble.Iterator
	bucket  string
	prefix  []byte
	seekBuf []byte
	// positioned is true after a Seek: the iterator already stands on the
	// entry the next Next returns.
	positioned bool
	valid      bool
	key, id    string
	err        error
}

func (p *pebbleUploadIter) Next() bool {
	if p.err != nil {
		return false
	}
	if p.positioned {
		p.positioned = false
	} else if p.valid {
		p.valid = p.it.Next()
	}
	if p.valid {
		p.key, p.id, p.err = splitUploadKey(p.it.Key()[len(p.prefix):])
		if p.err != nil {
			p.valid = false
		}
	}
	return p.valid
}

func (p *pebbleUploadIter) Seek(key, id string) {
	p.seekBuf = appendEscaped(append(p.seekBuf[:0], p.prefix...), key)
	p.seekBuf = append(p.seekBuf, 0, 1)
	p.seekBuf = append(p.seekBuf, id...)
	p.valid = p.it.SeekGE(p.seekBuf)
	p.positioned = true
}

func (p *pebbleUploadIter) Key() string { return p.key }
func (p *pebbleUploadIter) ID() string  { return p.id }

func (p *pebbleUploadIter) Upload() (*UploadRecord, error) {
	return decodeUpload(UploadRef{Bucket: p.bucket, Key: p.key, ID: p.id}, p.it.Value())
}

func (p *pebbleUploadIter) Err() error {
	err := p.err
	if err == nil {
		err = p.it.Error()
	}
	if err != nil {
		return fmt.Errorf("list uploads %s: %w", p.bucket, err)
	}
	return nil
}

func (p *pebbleUploadIter) Close() error { return p.it.Close() }

// deleteBucketUploads adds the deletion of every upload and part of bucket
// to b and returns how many uploads it deletes. The caller holds bucketMu
// exclusively.
func (n *PebbleNamespace) deleteBucketUploads(ctx context.Context, b *pebble.Batch, bucket string) (int64, error) {
	p := uploadPrefix(bucket)
	it, err := n.prefixIter(ctx, p)
	if err != nil {
		return 0, err
	}
	var c int64
	for ok := it.First(); ok; ok = it.Next() {
		c++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	if err := b.DeleteRange(p, upperBound(p), nil); err != nil {
		return 0, err
	}
	pp := partPrefix(bucket, "")
	if err := b.DeleteRange(pp, upperBound(pp), nil); err != nil {
		return 0, err
	}
	dp := completedPrefix(bucket)
	if err := b.DeleteRange(dp, upperBound(dp), nil); err != nil {
		return 0, err
	}
	return c, nil
}
