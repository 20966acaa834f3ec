package s3api

import (
	"context"
	"io"
	"time"
)

// ObjectStore is the storage the S3 handlers need. The gateway's Node
// implements it over a content-addressed block store; s3api/s3mem is an
// in-memory reference implementation. s3api/s3apitest.TestObjectStore is the
// conformance battery every implementation MUST pass.
//
// Errors: methods return s3err codes (possibly wrapped) for conditions a
// client caused or can act on; the codes each method may return are listed
// on it. Any other error is an internal failure and is answered
// InternalError, except context.Canceled and context.DeadlineExceeded, which
// the handler classifies itself.
//
// Names: bucket names and keys reach the store already validated (bucket
// names follow AWS's rules, keys are valid UTF-8 of 1..1024 bytes); a store
// MUST treat keys as opaque byte strings ("a//b", "../x", "x/" are distinct
// keys) and order them by their bytes.
//
// Concurrency: every method MUST be safe for concurrent use. On one store,
// a completed PutObject or DeleteObject MUST be visible to every later call
// (read-after-write, list-after-write, delete).
type ObjectStore interface {
	// ListBuckets returns every bucket, ordered by name.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)

	// CreateBucket creates an empty bucket. It returns
	// s3err.ErrBucketAlreadyOwnedByYou when the bucket exists.
	CreateBucket(ctx context.Context, in CreateBucketInput) error

	// HeadBucket returns the bucket, or s3err.ErrNoSuchBucket.
	HeadBucket(ctx context.Context, bucket string) (*BucketInfo, error)

	// DeleteBucket deletes an empty bucket. It returns s3err.ErrNoSuchBucket,
	// or s3err.ErrBucketNotEmpty when the bucket holds an object.
	DeleteBucket(ctx context.Context, bucket string) error

	// PutObject reads in.Body to its end and stores it as the current
	// version of in.Key, replacing any previous one atomically: readers see
	// either the old or the new object, never a part. If reading in.Body
	// fails (including a verification error from a wrapping reader), nothing
	// is committed and that read error is returned wrapped, so its s3err code
	// survives. It returns s3err.ErrNoSuchBucket, s3err.ErrBadDigest (when
	// in.ContentMD5 is set and does not match), s3err.ErrIncompleteBody (when
	// in.Size >= 0 and the body is shorter or longer), s3err.ErrPreconditionFailed
	// (a condition in in.Conditions fails). The caller closes in.Body.
	PutObject(ctx context.Context, in *PutObjectInput) (*ObjectInfo, error)

	// HeadObject returns the current version's record, or
	// s3err.ErrNoSuchBucket or s3err.ErrNoSuchKey.
	HeadObject(ctx context.Context, bucket, key string) (*ObjectInfo, error)

	// GetObject returns the current version's record and a handle on its
	// content. The content handle reads exactly the version described by the
	// returned record, even if the key is overwritten or deleted afterwards,
	// for as long as the caller reads within a reasonable time. It returns
	// the same errors as HeadObject.
	GetObject(ctx context.Context, bucket, key string) (*ObjectInfo, Content, error)

	// DeleteObject removes key. Deleting a missing key succeeds. It returns
	// s3err.ErrNoSuchBucket.
	DeleteObject(ctx context.Context, bucket, key string) error

	// ListObjects lists the bucket's keys in byte order, strictly after
	// in.After, that start with in.Prefix. With a Delimiter, keys that
	// contain the delimiter after the prefix are rolled up into one
	// CommonPrefix each (prefix up to and including the first delimiter
	// after Prefix); a common prefix counts as one entry towards MaxKeys and
	// is reported once, at the position of its first key. A store MUST seek
	// (range scan from After, skip past a rolled-up prefix), not scan the
	// whole bucket. It returns s3err.ErrNoSuchBucket.
	ListObjects(ctx context.Context, in ListObjectsInput) (*ListObjectsResult, error)
}

// Content is the content of one object version.
type Content interface {
	// Open returns a reader of length bytes starting at offset; 0 <= offset
	// and offset+length <= the object's size, checked by the caller. The
	// caller MUST close the reader. Reads honour ctx; when content cannot be
	// retrieved in bounded time, the reader returns an error wrapping
	// context.DeadlineExceeded.
	Open(ctx context.Context, offset, length int64) (io.ReadCloser, error)
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name         string
	CreationDate time.Time
	// Location is the LocationConstraint the bucket was created with, ""
	// for the default region.
	Location string
}

// CreateBucketInput is the argument of CreateBucket.
type CreateBucketInput struct {
	Bucket   string
	Location string // LocationConstraint from the request body, or ""
}

// ObjectMetadata is what a client may set on an object and read back.
type ObjectMetadata struct {
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string // kept as sent
	// User holds x-amz-meta-* headers, names lower-cased without the
	// prefix. Empty values are kept.
	User map[string]string
}

// PutConditions are the conditional-write headers of a PutObject.
type PutConditions struct {
	// IfNoneMatch is "*" when the key must not exist (If-None-Match: *),
	// or an ETag (unquoted) the current version must not have; a store
	// answers s3err.ErrPreconditionFailed when it does.
	IfNoneMatch string
	// IfMatch, when set, is the ETag (unquoted) the current version must have.
	IfMatch string
}

// PutObjectInput is the argument of PutObject.
type PutObjectInput struct {
	Bucket string
	Key    string
	// Body is the object's content; the store reads it to EOF.
	Body io.Reader
	// Size is the content length, or -1 when unknown.
	Size int64
	// ContentMD5, when not nil, is the MD5 the content must have.
	ContentMD5 []byte
	// Checksums maps an algorithm name (CRC32, CRC32C, CRC64NVME, SHA1,
	// SHA256) to the base64 value the caller verified; stored and returned.
	// A checksum sent in an aws-chunked trailer is known only at the end of
	// the body: the caller adds it to the map when Body returns io.EOF. A
	// store MUST therefore read Checksums only after Body has returned
	// io.EOF, and MUST NOT touch the map concurrently with reading Body.
	Checksums map[string]string
	Metadata  ObjectMetadata
	// CID, when not empty, names existing content-addressed data (the
	// x-s3mesh-cid request header) that becomes the object's content
	// instead of Body, which is then empty: the store retrieves it wherever
	// it lives, keeps it, and computes Size and ETag from it. A malformed
	// CID is s3err.ErrInvalidArgument; content that cannot be retrieved in
	// bounded time is s3err.ErrServiceUnavailable, and nothing is committed.
	// A store that has no content addressing returns s3err.ErrNotImplemented.
	CID string
	// Tags are the object's tags, from x-amz-tagging; nil for none.
	Tags       map[string]string
	Conditions PutConditions
}

// ObjectInfo is an object's record.
type ObjectInfo struct {
	Bucket       string
	Key          string
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	// CID is the content identifier of the object's root, returned to
	// clients in the x-s3mesh-cid header. Opaque to s3api; may be empty.
	CID       string
	Metadata  ObjectMetadata
	Checksums map[string]string
	// Tags are the object's tags (x-amz-tagging); nil or empty for none.
	Tags map[string]string
	// PartSizes holds the size of each part, in order, for an object made
	// by CompleteMultipartUpload; nil for an object written in one PUT.
	PartSizes []int64
	// VersionID is the version's ID (x-amz-version-id) in a bucket whose
	// versioning has been set, "null" for its null version; "" in a
	// bucket that was never versioned and from a store without the
	// VersioningStore role.
	VersionID string
	// DeleteMarker is true for a delete marker (a VersioningStore's
	// versions only): Key, LastModified and VersionID are then the only
	// meaningful fields.
	DeleteMarker bool
}

// ListObjectsInput is the argument of ListObjects.
type ListObjectsInput struct {
	Bucket    string
	Prefix    string
	Delimiter string
	// After lists keys strictly greater than this key (a V1 marker, a V2
	// start-after or decoded continuation token). With a Delimiter, when
	// After is itself a common prefix (or lies inside one, that is, After
	// starts with a rolled-up prefix P), P and every key under it are
	// skipped: a common prefix is never reported twice across pages.
	After string
	// MaxKeys is the most keys plus common prefixes returned, 1..1000; the
	// caller handles max-keys=0.
	MaxKeys int
}

// ListObjectsResult is the result of ListObjects.
type ListObjectsResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	// IsTruncated is true when more entries follow.
	IsTruncated bool
	// NextAfter is the last key or common prefix returned, to pass as After
	// for the next page; set when IsTruncated.
	NextAfter string
}
