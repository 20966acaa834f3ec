package namespace

import (
	"context"
	"time"
)

// BucketRecord is a bucket as the namespace stores it.
type BucketRecord struct {
	Name     string
	Created  time.Time
	Location string
	// Replicated marks a bucket whose objects every node fetches in full,
	// in the background, as soon as their records arrive, and keeps.
	Replicated bool
	// Chunker names how new objects of the bucket are cut into blocks
	// (see ParseChunker); empty means the node's default.
	Chunker string
	// Versioning is the bucket's versioning state: "" (never enabled),
	// VersioningEnabled or VersioningSuspended (see CRDTNamespace,
	// Versions).
	Versioning string
	// CORS is the bucket's CORS configuration, encoded by the gateway
	// (opaque here); empty for none.
	CORS string
}

// The versioning states of a bucket (BucketRecord.Versioning).
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// ObjectRecord is the current version of one object as the namespace
// stores it: where its content is (Root) and what a client may read back.
type ObjectRecord struct {
	Bucket string
	Key    string
	// Root is the root CID of the object's UnixFS DAG, in its string form.
	Root         string
	Size         int64
	ETag         string // hex MD5 for single-part objects, without quotes
	LastModified time.Time

	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	// User holds x-amz-meta-* values by lower-cased name; empty values are
	// kept. nil when there are none.
	User map[string]string
	// Checksums maps an algorithm name to its base64 value.
	Checksums map[string]string
	// Tags are the object's tags; nil when there are none.
	Tags map[string]string
	// PartSizes are the sizes of the parts of an object assembled from a
	// multipart upload, in order; nil for an object written in one PUT.
	PartSizes []int64
	// Writer is the NodeID of the node that wrote the record, where the
	// namespace reports it (CRDTConfig.OnObject); empty otherwise. It is
	// not part of what is stored.
	Writer string
	// Versioned is true for a version written while its bucket's
	// versioning was Enabled; false for the key's "null" version (written
	// in an unversioned or suspended bucket), which the next null write
	// replaces. The CRDTNamespace sets it at commit from the bucket.
	Versioned bool
	// Version is the namespace version of the entry (HLC and writer, the
	// same on every node) where the CRDTNamespace reports it: always by
	// ObjectVersion, Versions and DeleteCurrent; by PutObject and
	// UpdateObject once the bucket's versioning has been set; by GetObject
	// for a Versioned record. Empty otherwise, so that the S3 version ID
	// (VersionID) is reported only where S3 reports one. Not part of the
	// stored payload.
	Version string
	// DeleteMarker is true for a delete marker reported by ObjectVersion,
	// DeleteCurrent or Versions: only LastModified, Versioned and Version
	// are then meaningful.
	DeleteMarker bool
}

// VersionID is the S3 version ID of the record: "null" for a null
// version, else its Version. Empty when Version is.
func (r *ObjectRecord) VersionID() string {
	switch {
	case r.Version == "":
		return ""
	case !r.Versioned:
		return "null"
	}
	return r.Version
}

// PutCheck decides, atomically with a commit, whether the commit may
// proceed. cur is the key's current record, nil when the key is absent. A
// non-nil error aborts the commit and is returned by PutObject unchanged.
type PutCheck func(cur *ObjectRecord) error

// Namespace maps buckets and keys to object records. It is the part of a
// node that a replicated implementation (a Merkle-CRDT with a local ordered
// index) replaces; the gateway uses nothing else to find objects.
//
// Errors: methods return s3err codes, possibly wrapped, for the conditions
// listed on them; any other error is internal.
//
// Ordering: object keys are opaque byte strings, ordered by their bytes.
//
// Durability and consistency: a write that returned nil MUST survive a
// crash and MUST be visible to every later call on the same Namespace.
//
// Concurrency: every method MUST be safe for concurrent use.
type Namespace interface {
	// CreateBucket creates b. It returns s3err.ErrBucketAlreadyOwnedByYou
	// when a bucket of that name exists.
	CreateBucket(ctx context.Context, b BucketRecord) error
	// GetBucket returns the bucket or s3err.ErrNoSuchBucket.
	GetBucket(ctx context.Context, name string) (*BucketRecord, error)
	// DeleteBucket deletes a bucket holding no object. It returns
	// s3err.ErrNoSuchBucket or s3err.ErrBucketNotEmpty. It MUST NOT scan
	// the bucket: finding one object is enough.
	DeleteBucket(ctx context.Context, name string) error
	// ListBuckets returns every bucket ordered by name.
	ListBuckets(ctx context.Context) ([]BucketRecord, error)

	// GetObject returns the record of bucket/key, s3err.ErrNoSuchBucket or
	// s3err.ErrNoSuchKey.
	GetObject(ctx context.Context, bucket, key string) (*ObjectRecord, error)
	// PutObject makes rec the current record of rec.Bucket/rec.Key. When
	// check is not nil it is called with the current record and the commit
	// happens only if it returns nil; check and commit MUST be atomic with
	// respect to every other PutObject and DeleteObject of the same key.
	// It returns s3err.ErrNoSuchBucket, or check's error.
	PutObject(ctx context.Context, rec *ObjectRecord, check PutCheck) error
	// UpdateObject replaces the record of bucket/key with what fn returns
	// when given the current one (nil when the key is absent); fn and the
	// commit MUST be atomic with respect to every other write of the key.
	// An error from fn aborts the update and is returned unchanged. It
	// returns the record committed, or s3err.ErrNoSuchBucket.
	UpdateObject(ctx context.Context, bucket, key string, fn func(cur *ObjectRecord) (*ObjectRecord, error)) (*ObjectRecord, error)
	// DeleteObject removes bucket/key; removing a missing key succeeds. It
	// returns s3err.ErrNoSuchBucket.
	DeleteObject(ctx context.Context, bucket, key string) error
	// Objects returns an iterator over the bucket's records in key order,
	// starting at the first key >= start. It returns s3err.ErrNoSuchBucket.
	// The iterator MAY be a snapshot; it MUST seek rather than scan.
	Objects(ctx context.Context, bucket, start string) (ObjectIterator, error)
}

// ObjectIterator walks a bucket's records in key order. It is not safe for
// concurrent use. The caller MUST Close it.
type ObjectIterator interface {
	// Next advances to the next record. It returns false at the end or on
	// an error (see Err).
	Next() bool
	// Key returns the current record's key. Valid after Next returned true.
	Key() string
	// Record decodes the current record. Valid after Next returned true.
	Record() (*ObjectRecord, error)
	// Seek repositions the iterator: the next call to Next moves to the
	// first key >= key. Seeking backwards is allowed.
	Seek(key string)
	// Err returns the error that stopped iteration, if any.
	Err() error
	// Close releases the iterator.
	Close() error
}
