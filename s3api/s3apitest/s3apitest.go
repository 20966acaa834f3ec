package s3apitest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// MiB is one mebibyte.
const MiB = 1 << 20

// TestObjectStore runs the conformance battery against the stores newStore
// returns. Each subtest calls newStore once and expects an empty store; it
// may register cleanups on the *testing.T it is given.
func TestObjectStore(t *testing.T, newStore func(t *testing.T) s3api.ObjectStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s s3api.ObjectStore)
	}{
		{"Buckets", testBuckets},
		{"NoSuchBucket", testNoSuchBucket},
		{"RoundTrip", testRoundTrip},
		{"UnknownSize", testUnknownSize},
		{"ContentOpen", testContentOpen},
		{"Metadata", testMetadata},
		{"TrailerChecksum", testTrailerChecksum},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"ReadError", testReadError},
		{"ContentMD5", testContentMD5},
		{"IncompleteBody", testIncompleteBody},
		{"PutConditions", testPutConditions},
		{"Keys", testKeys},
		{"ListObjects", testListObjects},
		{"ListObjectsProperty", testListObjectsProperty},
		{"Concurrency", testConcurrency},
		{"Tags", testTags},
		// The optional roles; each skips when the store lacks it.
		{"Multipart", testMultipart},
		{"UploadPartCopy", testUploadPartCopy},
		{"CopyObject", testCopyObject},
		{"PutObjectTagging", testPutObjectTagging},
		{"Versioning", testVersioning},
		{"BucketCors", testBucketCors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// randomBytes returns n deterministic pseudo-random bytes derived from seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func createBucket(t *testing.T, s s3api.ObjectStore, name string) {
	t.Helper()
	if err := s.CreateBucket(t.Context(), s3api.CreateBucketInput{Bucket: name}); err != nil {
		t.Fatalf("CreateBucket(%q): %v", name, err)
	}
}

func put(t *testing.T, s s3api.ObjectStore, bucket, key string, data []byte) *s3api.ObjectInfo {
	t.Helper()
	info, err := s.PutObject(t.Context(), &s3api.PutObjectInput{
		Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
	})
	if err != nil {
		t.Fatalf("PutObject(%q, %q, %d bytes): %v", bucket, key, len(data), err)
	}
	return info
}

// readContent reads length bytes at offset from c.
func readContent(ctx context.Context, c s3api.Content, offset, length int64) ([]byte, error) {
	r, err := c.Open(ctx, offset, length)
	if err != nil {
		return nil, fmt.Errorf("open %d+%d: %w", offset, length, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %d+%d: %w", offset, length, err)
	}
	return b, nil
}

// get returns the current version of key and its whole content.
func get(t *testing.T, s s3api.ObjectStore, bucket, key string) (*s3api.ObjectInfo, []byte) {
	t.Helper()
	info, c, err := s.GetObject(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("GetObject(%q, %q): %v", bucket, key, err)
	}
	b, err := readContent(t.Context(), c, 0, info.Size)
	if err != nil {
		t.Fatalf("GetObject(%q, %q): %v", bucket, key, err)
	}
	return info, b
}

// wantCode fails t unless err carries code, both for errors.Is and for
// s3err.As.
func wantCode(t *testing.T, what string, err error, code s3err.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %s", what, code)
		return
	}
	if !errors.Is(err, code) {
		t.Errorf("%s: got %v, want errors.Is(err, %s)", what, err, code)
		return
	}
	if e, ok := s3err.As(err); !ok || e.Code != code {
		t.Errorf("%s: s3err.As(%v) = %v, %v; want code %s", what, err, e, ok, code)
	}
}

// wantAbsent fails t unless key is absent from bucket: HeadObject and
// GetObject answer NoSuchKey and no listing shows it.
func wantAbsent(t *testing.T, s s3api.ObjectStore, bucket, key string) {
	t.Helper()
	_, err := s.HeadObject(t.Context(), bucket, key)
	wantCode(t, fmt.Sprintf("HeadObject(%q)", key), err, s3err.ErrNoSuchKey)
	_, _, err = s.GetObject(t.Context(), bucket, key)
	wantCode(t, fmt.Sprintf("GetObject(%q)", key), err, s3err.ErrNoSuchKey)
	res, err := s.ListObjects(t.Context(), s3api.ListObjectsInput{Bucket: bucket, Prefix: key, MaxKeys: 1000})
	if err != nil {
		t.Fatalf("ListObjects(prefix %q): %v", key, err)
	}
	for _, o := range res.Objects {
		if o.Key == key {
			t.Errorf("ListObjects(prefix %q) lists the absent key", key)
		}
	}
}

// wantObject fails t unless key's current version holds data.
func wantObject(t *testing.T, s s3api.ObjectStore, bucket, key string, data []byte) {
	t.Helper()
	info, got := get(t, s, bucket, key)
	if !bytes.Equal(got, data) {
		t.Errorf("GetObject(%q): content of %d bytes (md5 %s), want %d bytes (md5 %s)",
			key, len(got), md5hex(got), len(data), md5hex(data))
	}
	if info.ETag != md5hex(data) {
		t.Errorf("GetObject(%q): ETag %q, want %q", key, info.ETag, md5hex(data))
	}
	if info.Size != int64(len(data)) {
		t.Errorf("GetObject(%q): Size %d, want %d", key, info.Size, len(data))
	}
}
