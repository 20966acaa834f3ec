package namespace

import (
	"context"
	"fmt"
	"time"

	"s3mesh/s3api"
)

// UploadRef names one multipart upload: the bucket and key it will write
// and its upload ID.
type UploadRef struct {
	Bucket string
	Key    string
	ID     string
}

// UploadRecord is a multipart upload in progress, as an UploadStore keeps
// it. Every field is set at creation and never changes.
type UploadRecord struct {
	UploadRef
	Initiated time.Time
	Metadata  s3api.ObjectMetadata
	// Tags are the tags the object will have; nil for none.
	Tags map[string]string
	// ChecksumAlgorithm and ChecksumType are kept as CreateMultipartUpload
	// received them.
	ChecksumAlgorithm string
	ChecksumType      string
}

// PartRecord is one stored part of an upload: the root of the part's own
// UnixFS DAG and what ListParts and completion need to know of it.
type PartRecord struct {
	Number int
	// Root is the root CID of the part's UnixFS DAG, in its string form.
	Root string
	// Size is the part's length in bytes (the UnixFS file size of Root).
	Size int64
	// DAGSize is the total size in bytes of the blocks of the part's DAG
	// (the dag-pb link Tsize a parent records for Root).
	DAGSize uint64
	// ETag is the hex MD5 of the part's bytes.
	ETag         string
	Checksums    map[string]string
	LastModified time.Time
}

// UploadStore keeps the state of multipart uploads. The state is private
// to the node that accepted the upload: unlike the object records of a
// Namespace it is never replicated. Completion publishes the object record
// through the node's Namespace, then ends the upload with AbortUpload.
//
// Errors: methods return s3err codes, possibly wrapped, for the conditions
// listed on them; any other error is internal.
//
// Durability and consistency: a write that returned nil MUST survive a
// crash and MUST be visible to every later call.
//
// Concurrency: every method MUST be safe for concurrent use.
type UploadStore interface {
	// CreateUpload records a new upload. u.ID MUST be new. It returns
	// s3err.ErrNoSuchBucket.
	CreateUpload(ctx context.Context, u *UploadRecord) error
	// GetUpload returns the upload ref names. It returns
	// s3err.ErrNoSuchBucket or s3err.ErrNoSuchUpload (no such ID, or an
	// upload of another key).
	GetUpload(ctx context.Context, ref UploadRef) (*UploadRecord, error)
	// PutPart records p as part p.Number of the upload, replacing an
	// earlier part of that number, atomically with respect to
	// AbortUpload of the upload: a part is never
	// recorded for an upload that has ended. It returns
	// s3err.ErrNoSuchBucket or s3err.ErrNoSuchUpload.
	PutPart(ctx context.Context, ref UploadRef, p *PartRecord) error
	// Parts returns the upload and at most limit of its parts (every part
	// when limit <= 0) numbered after after, in number order; more reports
	// that further parts follow. It returns s3err.ErrNoSuchBucket or
	// s3err.ErrNoSuchUpload. It MUST seek, not scan the upload's parts.
	Parts(ctx context.Context, ref UploadRef, after, limit int) (u *UploadRecord, parts []PartRecord, more bool, err error)
	// AbortUpload ends the upload and forgets its parts. It returns
	// s3err.ErrNoSuchBucket or s3err.ErrNoSuchUpload.
	AbortUpload(ctx context.Context, ref UploadRef) error
	// Uploads returns an iterator over the bucket's uploads ordered by key,
	// then by ID. It returns s3err.ErrNoSuchBucket. The iterator MAY be a
	// snapshot; it MUST seek rather than scan.
	Uploads(ctx context.Context, bucket string) (UploadIterator, error)
	// OpenUploads returns the number of uploads in progress.
	OpenUploads() int64
}

// UploadIterator walks a bucket's uploads by key, then ID. It is not safe
// for concurrent use. The caller MUST Close it.
type UploadIterator interface {
	// Next advances to the next upload. It returns false at the end or on
	// an error (see Err).
	Next() bool
	// Key and ID name the current upload. Valid after Next returned true.
	Key() string
	ID() string
	// Upload decodes the current upload. Valid after Next returned true.
	Upload() (*UploadRecord, error)
	// Seek repositions the iterator: the next call to Next moves to the
	// first upload (k, i) with k > key, or k == key and i >= id.
	Seek(key, id string)
	// Err returns the error that stopped iteration, if any.
	Err() error
	// Close releases the iterator.
	Close() error
}

type uploadRecordV1 struct {
	Initiated int64             `json:"i"` // Unix nanoseconds
	Type      string            `json:"ct,omitempty"`
	Encoding  string            `json:"ce,omitempty"`
	Disp      string            `json:"cd,omitempty"`
	Lang      string            `json:"cl,omitempty"`
	Cache     string            `json:"cc,omitempty"`
	Expires   string            `json:"ex,omitempty"`
	User      map[string]string `json:"u,omitempty"`
	Tags      map[string]string `json:"t,omitempty"`
	Algorithm string            `json:"ca,omitempty"`
	CType     string            `json:"cy,omitempty"`
}

// encodeUpload encodes u without its ref, which the storage key carries.
// Empty user metadata values and tags are kept: a nil map is omitted, an
// empty value in a map is not.
func encodeUpload(u *UploadRecord) ([]byte, error) {
	m := u.Metadata
	b, err := encodeV1(uploadRecordV1{
		Initiated: u.Initiated.UnixNano(),
		Type:      m.ContentType, Encoding: m.ContentEncoding, Disp: m.ContentDisposition,
		Lang: m.ContentLanguage, Cache: m.CacheControl, Expires: m.Expires,
		User: m.User, Tags: u.Tags, Algorithm: u.ChecksumAlgorithm, CType: u.ChecksumType,
	})
	if err != nil {
		return nil, fmt.Errorf("encode upload record: %w", err)
	}
	return b, nil
}

func decodeUpload(ref UploadRef, b []byte) (*UploadRecord, error) {
	var r uploadRecordV1
	if err := decodeV1(b, &r); err != nil {
		return nil, fmt.Errorf("decode upload record %s/%s %s: %w", ref.Bucket, ref.Key, ref.ID, err)
	}
	if len(r.User) == 0 {
		r.User = nil
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	return &UploadRecord{
		UploadRef: ref,
		Initiated: time.Unix(0, r.Initiated).UTC(),
		Metadata: s3api.ObjectMetadata{
			ContentType: r.Type, ContentEncoding: r.Encoding, ContentDisposition: r.Disp,
			ContentLanguage: r.Lang, CacheControl: r.Cache, Expires: r.Expires, User: r.User,
		},
		Tags:              r.Tags,
		ChecksumAlgorithm: r.Algorithm,
		ChecksumType:      r.CType,
	}, nil
}

type partRecordV1 struct {
	Root      string            `json:"r"`
	Size      int64             `json:"s"`
	DAGSize   uint64            `json:"d"`
	ETag      string            `json:"e"`
	Modified  int64             `json:"m"` // Unix nanoseconds
	Checksums map[string]string `json:"ck,omitempty"`
}

// encodePart encodes p without its number, which the storage key carries.
func encodePart(p *PartRecord) ([]byte, error) {
	b, err := encodeV1(partRecordV1{
		Root: p.Root, Size: p.Size, DAGSize: p.DAGSize, ETag: p.ETag,
		Modified: p.LastModified.UnixNano(), Checksums: p.Checksums,
	})
	if err != nil {
		return nil, fmt.Errorf("encode part record: %w", err)
	}
	return b, nil
}

func decodePart(number int, b []byte) (*PartRecord, error) {
	var r partRecordV1
	if err := decodeV1(b, &r); err != nil {
		return nil, fmt.Errorf("decode part record %d: %w", number, err)
	}
	if len(r.Checksums) == 0 {
		r.Checksums = nil
	}
	return &PartRecord{
		Number: number, Root: r.Root, Size: r.Size, DAGSize: r.DAGSize, ETag: r.ETag,
		LastModified: time.Unix(0, r.Modified).UTC(), Checksums: r.Checksums,
	}, nil
}
