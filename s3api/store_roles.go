package s3api

import (
	"context"
	"io"
	"time"
)

// The optional roles of an ObjectStore. A handler discovers them by type
// assertion and answers NotImplemented when the store lacks one, so a store
// grows capabilities without changing ObjectStore. Each role has the same
// error, naming and concurrency rules as ObjectStore.

// MultipartStore is a store that supports multipart uploads. Upload state is
// private to the store until completion publishes the object; parts of one
// upload MAY arrive concurrently and MAY be re-sent (the last one of a part
// number wins).
type MultipartStore interface {
	// CreateMultipartUpload starts an upload of in.Key and returns its ID,
	// an opaque string of URL-safe characters. It returns
	// s3err.ErrNoSuchBucket.
	CreateMultipartUpload(ctx context.Context, in *CreateMultipartUploadInput) (uploadID string, err error)

	// UploadPart reads in.Body to EOF and stores it as part in.PartNumber,
	// with the same body rules as PutObject (read errors commit nothing and
	// are returned wrapped; ContentMD5 → s3err.ErrBadDigest; Size mismatch
	// → s3err.ErrIncompleteBody; Checksums are read after EOF). It returns
	// s3err.ErrNoSuchBucket or s3err.ErrNoSuchUpload.
	UploadPart(ctx context.Context, in *UploadPartInput) (*PartInfo, error)

	// UploadPartCopy stores bytes [in.Offset, in.Offset+in.Length) of the
	// current version of the source object as a part (Length -1: the whole
	// object). It returns s3err.ErrNoSuchBucket, s3err.ErrNoSuchKey (source),
	// s3err.ErrNoSuchUpload, s3err.ErrPreconditionFailed (in.SourceETag set
	// and not the source's), s3err.ErrInvalidRange (range outside source).
	UploadPartCopy(ctx context.Context, in *UploadPartCopyInput) (*PartInfo, error)

	// CompleteMultipartUpload assembles the listed parts, in order, into the
	// object and publishes it atomically, ending the upload. It validates the
	// list against the uploaded parts: a missing part or an ETag that differs
	// → s3err.ErrInvalidPart; part numbers not strictly ascending →
	// s3err.ErrInvalidPartOrder; any listed part but the last smaller than
	// MinPartSize → s3err.ErrEntityTooSmall. It then calls in.Finalize, if
	// set, with the parts it assembles and commits the checksums Finalize
	// returns (an error from Finalize aborts the completion and is returned).
	// Completion MUST NOT copy part content: the object references the parts'
	// data. The ETag is the hex MD5 of the concatenated binary part MD5s,
	// then "-" and the part count. It returns s3err.ErrNoSuchBucket,
	// s3err.ErrNoSuchUpload, s3err.ErrPreconditionFailed (in.Conditions).
	CompleteMultipartUpload(ctx context.Context, in *CompleteMultipartUploadInput) (*ObjectInfo, error)

	// AbortMultipartUpload ends an upload and discards its parts. It returns
	// s3err.ErrNoSuchBucket or s3err.ErrNoSuchUpload.
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error

	// ListParts lists an upload's parts in part-number order after
	// in.PartNumberMarker. It returns s3err.ErrNoSuchBucket or
	// s3err.ErrNoSuchUpload.
	ListParts(ctx context.Context, in ListPartsInput) (*ListPartsResult, error)

	// ListMultipartUploads lists the bucket's uploads in progress, ordered by
	// key and then by initiation time, with the prefix, delimiter and marker
	// semantics of the S3 API. It returns s3err.ErrNoSuchBucket.
	ListMultipartUploads(ctx context.Context, in ListMultipartUploadsInput) (*ListMultipartUploadsResult, error)
}

// MinPartSize is the smallest size of any part but the last, in bytes.
const MinPartSize = 5 << 20

// MaxParts is the largest part number and the most parts an upload has.
const MaxParts = 10000

// CopyStore is a store that copies objects without copying their content.
type CopyStore interface {
	// CopyObject makes in.Key of in.Bucket an object with the content of the
	// current version of the source, atomically, sharing its data (no content
	// bytes are copied). With ReplaceMetadata, the new object takes
	// in.Metadata and in.Tags; otherwise it keeps the source's metadata,
	// checksums and tags. Source and destination MAY be the same key. It
	// returns s3err.ErrNoSuchBucket (either bucket), s3err.ErrNoSuchKey
	// (source), s3err.ErrPreconditionFailed (in.SourceETag set and not the
	// source's, or in.Conditions on the destination fail).
	CopyObject(ctx context.Context, in *CopyObjectInput) (*ObjectInfo, error)
}

// TaggingStore is a store that keeps object tags.
type TaggingStore interface {
	// PutObjectTagging replaces the tags of the current version of key (an
	// empty map removes them) without changing anything else, and returns
	// the updated record. It returns s3err.ErrNoSuchBucket or
	// s3err.ErrNoSuchKey.
	PutObjectTagging(ctx context.Context, bucket, key string, tags map[string]string) (*ObjectInfo, error)
}

// CreateMultipartUploadInput is the argument of CreateMultipartUpload.
type CreateMultipartUploadInput struct {
	Bucket   string
	Key      string
	Metadata ObjectMetadata
	Tags     map[string]string
	// ChecksumAlgorithm is the algorithm parts are checksummed with (from
	// x-amz-checksum-algorithm), "" for none; ChecksumType is COMPOSITE or
	// FULL_OBJECT. Both are kept and returned by ListParts.
	ChecksumAlgorithm string
	ChecksumType      string
}

// UploadPartInput is the argument of UploadPart.
type UploadPartInput struct {
	Bucket     string
	Key        string
	UploadID   string
	PartNumber int // 1..MaxParts, checked by the caller
	Body       io.Reader
	Size       int64 // -1 when unknown
	ContentMD5 []byte
	Checksums  map[string]string // read after Body returned io.EOF
}

// UploadPartCopyInput is the argument of UploadPartCopy.
type UploadPartCopyInput struct {
	Bucket       string
	Key          string
	UploadID     string
	PartNumber   int
	SourceBucket string
	SourceKey    string
	// SourceVersionID, when set, names the source's version (a
	// VersioningStore's; "" is the current version).
	SourceVersionID string
	// SourceETag, when set, is the ETag the source must have.
	SourceETag string
	Offset     int64
	Length     int64 // -1: to the end of the source
}

// PartInfo describes one uploaded part.
type PartInfo struct {
	PartNumber   int
	ETag         string // hex MD5 of the part, unquoted
	Size         int64
	LastModified time.Time
	Checksums    map[string]string
}

// CompletedPart is one entry of a CompleteMultipartUpload request.
type CompletedPart struct {
	PartNumber int
	ETag       string // unquoted
	Checksums  map[string]string
}

// CompleteMultipartUploadInput is the argument of CompleteMultipartUpload.
type CompleteMultipartUploadInput struct {
	Bucket     string
	Key        string
	UploadID   string
	Parts      []CompletedPart
	Conditions PutConditions
	// Finalize, when not nil, is called once the parts are validated, with
	// the stored parts in the order they form the object and the upload's
	// checksum algorithm and type; it returns the object's checksums.
	Finalize func(parts []PartInfo, algorithm, checksumType string) (map[string]string, error)
}

// ListPartsInput is the argument of ListParts.
type ListPartsInput struct {
	Bucket           string
	Key              string
	UploadID         string
	PartNumberMarker int
	MaxParts         int // 1..1000
}

// ListPartsResult is the result of ListParts.
type ListPartsResult struct {
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
	Initiated            time.Time
	ChecksumAlgorithm    string
	ChecksumType         string
}

// ListMultipartUploadsInput is the argument of ListMultipartUploads.
type ListMultipartUploadsInput struct {
	Bucket         string
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int // 1..1000
}

// UploadInfo describes an upload in progress.
type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// ListMultipartUploadsResult is the result of ListMultipartUploads.
type ListMultipartUploadsResult struct {
	Uploads            []UploadInfo
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// CopyObjectInput is the argument of CopyObject.
type CopyObjectInput struct {
	Bucket       string
	Key          string
	SourceBucket string
	SourceKey    string
	// SourceVersionID, when set, names the source's version (a
	// VersioningStore's; "" is the current version). A delete marker is
	// s3err.ErrInvalidRequest; a missing version s3err.ErrNoSuchVersion.
	SourceVersionID string
	// SourceETag, when set, is the ETag the source must have: the caller
	// evaluated x-amz-copy-source-if-* against that version.
	SourceETag      string
	ReplaceMetadata bool
	Metadata        ObjectMetadata
	Tags            map[string]string
	Conditions      PutConditions
}

// The versioning states of a bucket, as GetBucketVersioning reports them;
// "" is a bucket whose versioning was never set.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// VersioningStore is a store that keeps object versions (S3 bucket
// versioning). In a bucket whose versioning is Enabled every PutObject,
// CopyObject and CompleteMultipartUpload adds a version with a new
// VersionID and a DeleteObject without version adds a delete marker; in an
// unversioned or Suspended bucket they write the key's "null" version,
// replacing the previous null version only. Version IDs are opaque
// URL-safe strings, ordered newest first within a key by the store. A store
// with this role MUST set ObjectInfo.VersionID on what PutObject,
// CopyObject and CompleteMultipartUpload return once the bucket's
// versioning has been set.
type VersioningStore interface {
	// PutBucketVersioning sets the bucket's versioning to
	// VersioningEnabled or VersioningSuspended (the caller checks the
	// value). It returns s3err.ErrNoSuchBucket.
	PutBucketVersioning(ctx context.Context, bucket, status string) error
	// GetBucketVersioning returns the bucket's versioning state, "" when
	// never set. It returns s3err.ErrNoSuchBucket.
	GetBucketVersioning(ctx context.Context, bucket string) (string, error)
	// HeadObjectVersion returns the version of key named versionID ("" for
	// the current version). When the version named is a delete marker it
	// returns its record (DeleteMarker set) and no error; when the current
	// version is a delete marker it returns the marker's record and
	// s3err.ErrNoSuchKey. It returns s3err.ErrNoSuchBucket,
	// s3err.ErrNoSuchKey or s3err.ErrNoSuchVersion.
	HeadObjectVersion(ctx context.Context, bucket, key, versionID string) (*ObjectInfo, error)
	// GetObjectVersion is HeadObjectVersion and a handle on the version's
	// content (nil for a delete marker), with GetObject's content rules.
	GetObjectVersion(ctx context.Context, bucket, key, versionID string) (*ObjectInfo, Content, error)
	// DeleteObjectVersion deletes as S3 does: with versionID "" it is
	// DeleteObject in an unversioned bucket and otherwise writes a delete
	// marker, which it returns; with a versionID it removes that version
	// for good and returns it (the previous version, if any, becomes
	// current), or nil when there is no such version. It returns
	// s3err.ErrNoSuchBucket.
	DeleteObjectVersion(ctx context.Context, bucket, key, versionID string) (*ObjectInfo, error)
	// ListObjectVersions lists the bucket's versions and delete markers by
	// key, then newest first, with ListObjects' prefix and delimiter rules;
	// it returns s3err.ErrNoSuchBucket.
	ListObjectVersions(ctx context.Context, in ListObjectVersionsInput) (*ListObjectVersionsResult, error)
}

// ListObjectVersionsInput is the argument of ListObjectVersions.
type ListObjectVersionsInput struct {
	Bucket    string
	Prefix    string
	Delimiter string
	// KeyMarker and VersionIDMarker: the listing starts after the version
	// VersionIDMarker of KeyMarker, or with VersionIDMarker empty after
	// every version of KeyMarker (and, with a Delimiter, after the common
	// prefix KeyMarker lies in).
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int // 1..1000
}

// ObjectVersion is one entry of a ListObjectVersions result.
type ObjectVersion struct {
	ObjectInfo
	// IsLatest is true for the key's current version.
	IsLatest bool
}

// ListObjectVersionsResult is the result of ListObjectVersions.
type ListObjectVersionsResult struct {
	Versions       []ObjectVersion
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextVersionIDMarker continue a truncated listing:
	// the last version returned (or the last common prefix, with no
	// version).
	NextKeyMarker       string
	NextVersionIDMarker string
}

// CORSStore is a store that keeps a bucket's CORS configuration (a bucket
// setting; the handler answers preflight requests and sets the CORS
// response headers from it).
type CORSStore interface {
	// PutBucketCors replaces the bucket's CORS rules (the caller checks
	// them: 1 to 100 rules, each with an origin and a method). It returns
	// s3err.ErrNoSuchBucket.
	PutBucketCors(ctx context.Context, bucket string, rules []CORSRule) error
	// GetBucketCors returns the bucket's CORS rules, in order. It returns
	// s3err.ErrNoSuchBucket, or s3err.ErrNoSuchCORSConfiguration when the
	// bucket has none.
	GetBucketCors(ctx context.Context, bucket string) ([]CORSRule, error)
	// DeleteBucketCors removes the bucket's CORS rules; removing none
	// succeeds. It returns s3err.ErrNoSuchBucket.
	DeleteBucketCors(ctx context.Context, bucket string) error
}

// CORSRule is one rule of a bucket's CORS configuration. Origins and
// headers may hold one "*" wildcard each; methods are GET, PUT, HEAD,
// POST or DELETE.
type CORSRule struct {
	ID             string   `json:"id,omitempty"`
	AllowedOrigins []string `json:"o"`
	AllowedMethods []string `json:"m"`
	AllowedHeaders []string `json:"h,omitempty"`
	ExposeHeaders  []string `json:"e,omitempty"`
	// MaxAgeSeconds is how long a browser may cache a preflight answer;
	// 0: not said.
	MaxAgeSeconds int `json:"a,omitempty"`
}
