package s3api_test

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

type copyResult struct {
	ETag          string `xml:"ETag"`
	LastModified  string `xml:"LastModified"`
	ChecksumCRC32 string `xml:"ChecksumCRC32"`
}

func TestCopyObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt2"}, 200)
	src := []byte("copy me")
	srcTag := e.mustDo(req{method: "PUT", target: "/bkt1/a%20b%2Bc", body: src, hdr: map[string]string{
		"Content-Type": "text/plain", "x-amz-meta-m": "1", "x-amz-tagging": "t=1",
		"x-amz-checksum-crc32": b64(crcSum(crc32IEEE, src)),
	}}, 200).Header().Get("ETag")

	tests := []struct {
		name   string
		dst    string
		hdr    map[string]string
		status int
		code   string
		// expectations on the copy
		contentType, meta, tagCount string
	}{
		{name: "across buckets, encoded source", dst: "/bkt2/copy", hdr: map[string]string{"x-amz-copy-source": "bkt1/a%20b%2Bc"},
			status: 200, contentType: "text/plain", meta: "1", tagCount: "1"},
		{name: "leading slash and null version", dst: "/bkt1/copy", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc?versionId=null"},
			status: 200, contentType: "text/plain", meta: "1", tagCount: "1"},
		{name: "replace metadata keeps tags", dst: "/bkt2/replaced", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-metadata-directive": "REPLACE", "Content-Type": "image/png", "x-amz-meta-n": "2"},
			status: 200, contentType: "image/png", tagCount: "1"},
		{name: "replace tags keeps metadata", dst: "/bkt2/retagged", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-tagging-directive": "REPLACE", "x-amz-tagging": "x=1&y=2"},
			status: 200, contentType: "text/plain", meta: "1", tagCount: "2"},
		{name: "replace both", dst: "/bkt2/both", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-tagging-directive": "REPLACE", "x-amz-metadata-directive": "REPLACE"},
			status: 200, contentType: "binary/octet-stream"},
		{name: "onto itself with REPLACE", dst: "/bkt1/a%20b%2Bc", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-metadata-directive": "REPLACE", "Content-Type": "text/plain", "x-amz-meta-m": "1"},
			status: 200, contentType: "text/plain", meta: "1", tagCount: "1"},
		{name: "if-match and if-unmodified-since", dst: "/bkt2/cond", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-copy-source-if-match": srcTag, "x-amz-copy-source-if-unmodified-since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)},
			status: 200, contentType: "text/plain", meta: "1", tagCount: "1"},
		{name: "private ACL", dst: "/bkt2/acl", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-acl": "bucket-owner-full-control"},
			status: 200, contentType: "text/plain", meta: "1", tagCount: "1"},
		{name: "onto itself", dst: "/bkt1/a%20b%2Bc", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc"}, status: 400, code: "InvalidRequest"},
		{name: "onto itself with COPY", dst: "/bkt1/a%20b%2Bc", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-metadata-directive": "COPY"}, status: 400, code: "InvalidRequest"},
		{name: "if-match fails", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-copy-source-if-match": `"0"`}, status: 412, code: "PreconditionFailed"},
		{name: "if-none-match fails with 412", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-copy-source-if-none-match": srcTag}, status: 412, code: "PreconditionFailed"},
		{name: "if-modified-since fails with 412", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-copy-source-if-modified-since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, status: 412, code: "PreconditionFailed"},
		{name: "if-unmodified-since fails", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc",
			"x-amz-copy-source-if-unmodified-since": "Mon, 02 Jan 2006 15:04:05 GMT"}, status: 412, code: "PreconditionFailed"},
		{name: "other version", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc?versionId=3HL4kqtJlcpXroDTDmJ"}, status: 404, code: "NoSuchVersion"},
		{name: "missing source", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/nope"}, status: 404, code: "NoSuchKey"},
		{name: "missing source bucket", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/nobucket/k"}, status: 404, code: "NoSuchBucket"},
		{name: "missing destination bucket", dst: "/nobucket/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc"}, status: 404, code: "NoSuchBucket"},
		{name: "no key", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1"}, status: 400, code: "InvalidArgument"},
		{name: "bad escape", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/%zz"}, status: 400, code: "InvalidArgument"},
		{name: "bad directive", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-metadata-directive": "MOVE"}, status: 400, code: "InvalidArgument"},
		{name: "bad tags", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-tagging-directive": "REPLACE", "x-amz-tagging": "aws:x=1"}, status: 400, code: "InvalidTag"},
		{name: "public ACL", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-acl": "public-read"}, status: 501, code: "NotImplemented"},
		{name: "destination If-None-Match", dst: "/bkt1/a%20b%2Bc", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-metadata-directive": "REPLACE", "If-None-Match": "*"}, status: 412, code: "PreconditionFailed"},
		{name: "new checksum algorithm", dst: "/bkt2/x", hdr: map[string]string{"x-amz-copy-source": "/bkt1/a%20b%2Bc", "x-amz-checksum-algorithm": "SHA256"}, status: 501, code: "NotImplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.mustDo(req{method: "PUT", target: tt.dst, hdr: tt.hdr}, tt.status)
			if tt.code != "" {
				if got := errorCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
				return
			}
			var res copyResult
			if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil || !strings.Contains(rec.Body.String(), "<CopyObjectResult") {
				t.Fatalf("CopyObjectResult: %v\n%s", err, rec.Body.String())
			}
			if res.ETag != srcTag || res.LastModified == "" || res.ChecksumCRC32 != b64(crcSum(crc32IEEE, src)) {
				t.Errorf("result %+v", res)
			}
			if rec.Header().Get("x-s3mesh-cid") == "" && e.mustDo(req{method: "HEAD", target: tt.dst}, 200).Header().Get("x-s3mesh-cid") != "" {
				t.Error("no x-s3mesh-cid on the copy response")
			}
			got := e.mustDo(req{method: "GET", target: tt.dst}, 200)
			h := got.Header()
			if got.Body.String() != string(src) || h.Get("Content-Type") != tt.contentType ||
				h.Get("x-amz-meta-m") != tt.meta || h.Get("x-amz-tagging-count") != tt.tagCount {
				t.Errorf("copy: body %q type %q meta %q tags %q", got.Body.String(), h.Get("Content-Type"), h.Get("x-amz-meta-m"), h.Get("x-amz-tagging-count"))
			}
		})
	}
}

func TestParseCopySource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		bucket, key string
		code        s3err.Code
	}{
		{in: "bkt1/key", bucket: "bkt1", key: "key"},
		{in: "/bkt1/dir/key", bucket: "bkt1", key: "dir/key"},
		{in: "/bkt1/a%20b%2Bc%3Fd", bucket: "bkt1", key: "a b+c?d"},
		{in: "/bkt1/a+b", bucket: "bkt1", key: "a+b"},
		{in: "/bkt1/%E6%97%A5//..", bucket: "bkt1", key: "日//.."},
		{in: "/bkt1/k?versionId=null", bucket: "bkt1", key: "k"},
		{in: "/bkt1/k?versionId=abc", bucket: "bkt1", key: "k"},
		{in: "/bkt1/k?versionId=", code: s3err.ErrInvalidArgument},
		{in: "", code: s3err.ErrInvalidArgument},
		{in: "/", code: s3err.ErrInvalidArgument},
		{in: "/bkt1", code: s3err.ErrInvalidArgument},
		{in: "/bkt1/", code: s3err.ErrInvalidArgument},
		{in: "//k", code: s3err.ErrInvalidArgument},
		{in: "/bkt1/%zz", code: s3err.ErrInvalidArgument},
		{in: "/BKT/k", code: s3err.ErrInvalidBucketName},
		{in: "/bkt1/%FF", code: s3err.ErrInvalidArgument},
		{in: "/bkt1/" + strings.Repeat("k", 1025), code: s3err.ErrKeyTooLong},
	}
	for _, tt := range tests {
		bucket, key, err := s3api.ParseCopySource(tt.in)
		if tt.code != "" {
			if !errors.Is(err, tt.code) {
				t.Errorf("%q: err %v, want %s", tt.in, err, tt.code)
			}
			continue
		}
		if err != nil || bucket != tt.bucket || key != tt.key {
			t.Errorf("%q = (%q, %q, %v), want (%q, %q)", tt.in, bucket, key, err, tt.bucket, tt.key)
		}
	}
}

// FuzzParseCopySource checks that the x-amz-copy-source parser is total
// and that what it accepts survives re-encoding: a valid bucket and key
// that, escaped as a client escapes them, parse to themselves.
func FuzzParseCopySource(f *testing.F) {
	for _, s := range []string{"bkt1/key", "/bkt1/a%20b%2Bc", "/bkt1/k?versionId=null", "/bkt1/k?versionId=x", "/b/%zz", "//", "/bkt1/%E6%97%A5//.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		bucket, key, err := s3api.ParseCopySource(v)
		if err != nil {
			if _, ok := s3err.As(err); !ok {
				t.Fatalf("error %v carries no S3 code", err)
			}
			return
		}
		if s3api.ValidBucketName(bucket) != nil || key == "" || s3api.ValidKey(key) != nil {
			t.Fatalf("accepted bucket %q key %q", bucket, key)
		}
		b2, k2, err := s3api.ParseCopySource("/" + bucket + "/" + escapeKey(key))
		if err != nil || b2 != bucket || k2 != key {
			t.Fatalf("re-encoded (%q, %q) parses to (%q, %q, %v)", bucket, key, b2, k2, err)
		}
	})
}
