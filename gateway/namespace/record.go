package namespace

import (
	"encoding/json"
	"errors"
	"fmt"
	"s3mesh/s3api"
	"time"
)

// Records are stored as a version byte followed by JSON with short field
// names. Decoders reject unknown versions, so a future encoding can be
// introduced beside this one.
const recordV1 = 1

var errRecordVersion = errors.New("unknown record version")

// encodeV1 frames v as a version-1 record: the version byte, then JSON.
func encodeV1(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{recordV1}, b...), nil
}

// decodeV1 reads a version-1 record into v.
func decodeV1(b []byte, v any) error {
	if len(b) == 0 || b[0] != recordV1 {
		return errRecordVersion
	}
	return json.Unmarshal(b[1:], v)
}

type objectRecordV1 struct {
	Root      string            `json:"r"`
	Size      int64             `json:"s"`
	ETag      string            `json:"e"`
	Modified  int64             `json:"m"` // Unix nanoseconds
	Type      string            `json:"ct,omitempty"`
	Encoding  string            `json:"ce,omitempty"`
	Disp      string            `json:"cd,omitempty"`
	Lang      string            `json:"cl,omitempty"`
	Cache     string            `json:"cc,omitempty"`
	Expires   string            `json:"ex,omitempty"`
	User      map[string]string `json:"u,omitempty"`
	Checksums map[string]string `json:"ck,omitempty"`
	Tags      map[string]string `json:"t,omitempty"`
	PartSizes []int64           `json:"ps,omitempty"`
	Versioned bool              `json:"vv,omitempty"`
}

// encodeObject encodes rec without its bucket and key, which the storage
// key carries.
func encodeObject(rec *ObjectRecord) ([]byte, error) {
	b, err := encodeV1(objectRecordV1{
		Root: rec.Root, Size: rec.Size, ETag: rec.ETag, Modified: rec.LastModified.UnixNano(),
		Type: rec.ContentType, Encoding: rec.ContentEncoding, Disp: rec.ContentDisposition,
		Lang: rec.ContentLanguage, Cache: rec.CacheControl, Expires: rec.Expires,
		User: rec.User, Checksums: rec.Checksums, Tags: rec.Tags, PartSizes: rec.PartSizes, Versioned: rec.Versioned,
	})
	if err != nil {
		return nil, fmt.Errorf("encode object record: %w", err)
	}
	return b, nil
}

func decodeObject(bucket, key string, b []byte) (*ObjectRecord, error) {
	var r objectRecordV1
	if err := decodeV1(b, &r); err != nil {
		return nil, fmt.Errorf("decode object record %s/%s: %w", bucket, key, err)
	}
	if len(r.User) == 0 {
		r.User = nil
	}
	if len(r.Checksums) == 0 {
		r.Checksums = nil
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	if len(r.PartSizes) == 0 {
		r.PartSizes = nil
	}
	return &ObjectRecord{
		Bucket: bucket, Key: key, Root: r.Root, Size: r.Size, ETag: r.ETag,
		LastModified: time.Unix(0, r.Modified).UTC(),
		ContentType:  r.Type, ContentEncoding: r.Encoding, ContentDisposition: r.Disp,
		ContentLanguage: r.Lang, CacheControl: r.Cache, Expires: r.Expires,
		User: r.User, Checksums: r.Checksums, Tags: r.Tags, PartSizes: r.PartSizes,
		Versioned: r.Versioned,
	}, nil
}

type bucketRecordV1 struct {
	Created    int64  `json:"c"`
	Location   string `json:"l,omitempty"`
	Replicated bool   `json:"rp,omitempty"`
	Chunker    string `json:"ck,omitempty"`
	Versioning string `json:"vs,omitempty"`
	CORS       string `json:"cors,omitempty"`
}

func encodeBucket(b BucketRecord) ([]byte, error) {
	out, err := encodeV1(bucketRecordV1{Created: b.Created.UnixNano(), Location: b.Location, Replicated: b.Replicated, Chunker: b.Chunker, Versioning: b.Versioning, CORS: b.CORS})
	if err != nil {
		return nil, fmt.Errorf("encode bucket record: %w", err)
	}
	return out, nil
}

func decodeBucket(name string, b []byte) (*BucketRecord, error) {
	var r bucketRecordV1
	if err := decodeV1(b, &r); err != nil {
		return nil, fmt.Errorf("decode bucket record %s: %w", name, err)
	}
	return &BucketRecord{Name: name, Created: time.Unix(0, r.Created).UTC(), Location: r.Location, Replicated: r.Replicated, Chunker: r.Chunker, Versioning: r.Versioning, CORS: r.CORS}, nil
}

// Info returns the record as the S3 API describes an object.
func (r *ObjectRecord) Info() *s3api.ObjectInfo {
	return &s3api.ObjectInfo{
		Bucket:       r.Bucket,
		Key:          r.Key,
		Size:         r.Size,
		ETag:         r.ETag,
		LastModified: r.LastModified,
		CID:          r.Root,
		Metadata: s3api.ObjectMetadata{
			ContentType:        r.ContentType,
			ContentEncoding:    r.ContentEncoding,
			ContentDisposition: r.ContentDisposition,
			ContentLanguage:    r.ContentLanguage,
			CacheControl:       r.CacheControl,
			Expires:            r.Expires,
			User:               r.User,
		},
		Checksums:    r.Checksums,
		Tags:         r.Tags,
		PartSizes:    r.PartSizes,
		VersionID:    r.VersionID(),
		DeleteMarker: r.DeleteMarker,
	}
}
