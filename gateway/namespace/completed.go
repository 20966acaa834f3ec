package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"s3mesh/s3api/s3err"
)

// CompletedRetention is how long a completed upload is remembered: a
// CompleteMultipartUpload retried within it (an SDK retries when the first
// answer was lost) answers what the first one did.
const CompletedRetention = 7 * 24 * time.Hour

// CompletedUpload is what the completion of an upload answered.
type CompletedUpload struct {
	UploadRef
	// Parts are the parts the completion listed, as "number:etag".
	Parts []string
	// Root, Size, ETag and Checksums are the object's, as committed.
	Root      string
	Size      int64
	ETag      string
	Checksums map[string]string
	// Completed is when the upload completed.
	Completed time.Time
}

type completedV1 struct {
	Key       string            `json:"k"`
	Parts     []string          `json:"p"`
	Root      string            `json:"r"`
	Size      int64             `json:"s"`
	ETag      string            `json:"e"`
	Checksums map[string]string `json:"ck,omitempty"`
	Completed int64             `json:"t"` // Unix nanoseconds
}

func completedPrefix(bucket string) []byte {
	k := make([]byte, 0, len(prefixDone)+len(bucket)+1)
	k = append(k, prefixDone...)
	k = append(k, bucket...)
	return append(k, '/')
}

func completedKey(bucket, id string) []byte { return append(completedPrefix(bucket), id...) }

// EndCompletedUpload ends the upload c names, deleting it and its parts,
// and remembers what its completion answered, atomically. It returns
// s3err.ErrNoSuchUpload when the upload is gone.
func (n *PebbleNamespace) EndCompletedUpload(ctx context.Context, c *CompletedUpload) error {
	ref := c.UploadRef
	op := func(err error) error {
		return fmt.Errorf("end completed upload %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err)
	}
	v, err := encodeV1(completedV1{Key: ref.Key, Parts: c.Parts, Root: c.Root, Size: c.Size, ETag: c.ETag,
		Checksums: c.Checksums, Completed: c.Completed.UnixNano()})
	if err != nil {
		return op(err)
	}
	if err := n.endUpload(ref, &kvPair{k: completedKey(ref.Bucket, ref.ID), v: v}); err != nil {
		return op(err)
	}
	return nil
}

// CompletedUpload returns what the completion of upload ref answered; it
// returns s3err.ErrNoSuchUpload when no upload of that ID and key
// completed on this node within CompletedRetention (or its bucket was
// deleted since).
func (n *PebbleNamespace) CompletedUpload(ctx context.Context, ref UploadRef) (*CompletedUpload, error) {
	v, ok, err := n.get(completedKey(ref.Bucket, ref.ID))
	if err != nil {
		return nil, fmt.Errorf("completed upload %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err)
	}
	if !ok {
		return nil, s3err.ErrNoSuchUpload
	}
	var r completedV1
	if err := decodeV1(v, &r); err != nil {
		return nil, fmt.Errorf("completed upload %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err)
	}
	if r.Key != ref.Key {
		return nil, s3err.ErrNoSuchUpload
	}
	if len(r.Checksums) == 0 {
		r.Checksums = nil
	}
	return &CompletedUpload{UploadRef: ref, Parts: r.Parts, Root: r.Root, Size: r.Size, ETag: r.ETag,
		Checksums: r.Checksums, Completed: time.Unix(0, r.Completed).UTC()}, nil
}

// SameParts reports whether parts, as "number:etag", are those c's
// completion listed.
func (c *CompletedUpload) SameParts(parts []string) bool { return slices.Equal(c.Parts, parts) }

// SweepCompleted forgets the completed uploads that completed before
// cutoff and returns how many it forgot.
func (n *PebbleNamespace) SweepCompleted(ctx context.Context, cutoff time.Time) (int, error) {
	it, err := n.prefixIter(ctx, []byte(prefixDone))
	if err != nil {
		return 0, fmt.Errorf("sweep completed uploads: %w", err)
	}
	var old [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		var r completedV1
		if err := decodeV1(it.Value(), &r); err != nil || time.Unix(0, r.Completed).Before(cutoff) {
			old = append(old, slices.Clone(it.Key()))
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, fmt.Errorf("sweep completed uploads: %w", err)
	}
	if len(old) == 0 {
		return 0, nil
	}
	b := n.db.NewBatch()
	defer b.Close()
	for _, k := range old {
		if err := b.Delete(k, nil); err != nil {
			return 0, fmt.Errorf("sweep completed uploads: %w", err)
		}
	}
	if err := b.Commit(n.wo); err != nil {
		return 0, fmt.Errorf("sweep completed uploads: %w", err)
	}
	return len(old), nil
}
