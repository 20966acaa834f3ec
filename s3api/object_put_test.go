package s3api_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3mem"
)

func md5b64(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }

func TestPutObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	body := []byte("hello, world")
	sum := md5.Sum(body)
	tests := []struct {
		name string
		r    req
		code string // "" for success
	}{
		{"plain", req{target: "/bkt1/plain", body: body}, ""},
		{"empty", req{target: "/bkt1/empty"}, ""},
		{"content-md5", req{target: "/bkt1/md5", body: body, hdr: map[string]string{"Content-MD5": md5b64(body)}}, ""},
		{"content-md5 mismatch", req{target: "/bkt1/md5bad", body: body, hdr: map[string]string{"Content-MD5": md5b64([]byte("other"))}}, "BadDigest"},
		{"content-md5 not base64", req{target: "/bkt1/md5inv", body: body, hdr: map[string]string{"Content-MD5": "!!!"}}, "InvalidDigest"},
		{"content-md5 wrong length", req{target: "/bkt1/md5len", body: body, hdr: map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:8])}}, "InvalidDigest"},
		{"checksum", req{target: "/bkt1/crc", body: body, hdr: map[string]string{"x-amz-checksum-crc32": checksum.Sum(checksum.CRC32, body)}}, ""},
		{"checksum mismatch", req{target: "/bkt1/crcbad", body: body, hdr: map[string]string{"x-amz-checksum-sha256": checksum.Sum(checksum.SHA256, []byte("x"))}}, "BadDigest"},
		{"checksum invalid", req{target: "/bkt1/crcinv", body: body, hdr: map[string]string{"x-amz-checksum-crc32c": "bm9wZXM="}}, "InvalidDigest"},
		{"two checksums", req{target: "/bkt1/crc2", body: body, hdr: map[string]string{
			"x-amz-checksum-crc32": checksum.Sum(checksum.CRC32, body), "x-amz-checksum-sha1": checksum.Sum(checksum.SHA1, body)}}, "InvalidRequest"},
		{"key too long", req{target: "/bkt1/" + strings.Repeat("k", 1025), body: body}, "KeyTooLongError"},
		{"key of 1024 bytes", req{target: "/bkt1/" + strings.Repeat("k", 1024), body: body}, ""},
		{"no bucket", req{target: "/nosuchbucket/k", body: body}, "NoSuchBucket"},
		{"metadata too large", req{target: "/bkt1/meta", body: body, hdr: map[string]string{"x-amz-meta-big": strings.Repeat("v", 2048)}}, "MetadataTooLarge"},
		{"metadata at the limit", req{target: "/bkt1/meta2", body: body, hdr: map[string]string{"x-amz-meta-big": strings.Repeat("v", 2045)}}, ""},
		{"if-none-match star on new key", req{target: "/bkt1/cond", body: body, hdr: map[string]string{"If-None-Match": "*"}}, ""},
		{"if-none-match star on existing key", req{target: "/bkt1/plain", body: body, hdr: map[string]string{"If-None-Match": "*"}}, "PreconditionFailed"},
		{"if-match other etag", req{target: "/bkt1/plain", body: body, hdr: map[string]string{"If-Match": `"0123"`}}, "PreconditionFailed"},
		{"if-match etag", req{target: "/bkt1/plain", body: body, hdr: map[string]string{"If-Match": `"` + hex.EncodeToString(sum[:]) + `"`}}, ""},
		{"if-none-match other etag", req{target: "/bkt1/plain", body: body, hdr: map[string]string{"If-None-Match": `"abc"`}}, ""},
		{"if-none-match current etag", req{target: "/bkt1/plain", body: body, hdr: map[string]string{"If-None-Match": `"` + hex.EncodeToString(sum[:]) + `"`}}, "PreconditionFailed"},
		{"if-none-match two etags", req{target: "/bkt1/plain", body: body, hdr: map[string]string{"If-None-Match": `"a", "b"`}}, "NotImplemented"},
	}
	for _, tt := range tests {
		tt.r.method = "PUT"
		rec := e.do(tt.r)
		if tt.code == "" {
			if rec.Code != 200 {
				t.Errorf("%s: status %d %s", tt.name, rec.Code, rec.Body.String())
				continue
			}
			want := md5.Sum(tt.r.body)
			if rec.Header().Get("ETag") != `"`+hex.EncodeToString(want[:])+`"` {
				t.Errorf("%s: ETag %q", tt.name, rec.Header().Get("ETag"))
			}
			continue
		}
		if got := errorCode(t, rec); got != tt.code {
			t.Errorf("%s: code %q (status %d), want %q", tt.name, got, rec.Code, tt.code)
		}
	}
	// Nothing was stored by a failed write.
	for _, k := range []string{"md5bad", "crcbad", "crc2", "meta"} {
		if _, err := e.store.HeadObject(context.Background(), "bkt1", k); err == nil {
			t.Errorf("failed PutObject stored %s", k)
		}
	}
	// The checksum was recorded.
	obj, err := e.store.HeadObject(context.Background(), "bkt1", "crc")
	if err != nil || obj.Checksums["CRC32"] != checksum.Sum(checksum.CRC32, body) {
		t.Errorf("checksum not recorded: %+v %v", obj, err)
	}
}

func TestPutObjectMissingContentLength(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	n := int64(-1)
	hr := e.newRequest(req{method: "PUT", target: "/bkt1/k", body: []byte("abc"), payload: "UNSIGNED-PAYLOAD", length: &n})
	rec := serve(e, hr)
	if rec.Code != 411 || errorCode(t, rec) != "MissingContentLength" {
		t.Fatalf("status %d %s", rec.Code, rec.Body.String())
	}
}

func TestPutObjectTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	n := int64(5<<30 + 1)
	hr := e.newRequest(req{method: "PUT", target: "/bkt1/k", body: []byte("abc"), payload: "UNSIGNED-PAYLOAD", length: &n})
	rec := serve(e, hr)
	if errorCode(t, rec) != "EntityTooLarge" {
		t.Fatalf("status %d %s", rec.Code, rec.Body.String())
	}
}

func TestPutObjectMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/typed", body: []byte("x"), hdr: map[string]string{
		"Content-Type":        "text/plain",
		"Content-Encoding":    "aws-chunked,gzip",
		"Content-Disposition": `attachment; filename="x.txt"`,
		"Content-Language":    "en",
		"Cache-Control":       "max-age=60",
		"Expires":             "Thu, 01 Dec 2094 16:00:00 GMT",
		"X-Amz-Meta-Color":    "blue",
		"x-amz-meta-empty":    "",
	}}, 200)
	obj, err := e.store.HeadObject(context.Background(), "bkt1", "typed")
	if err != nil {
		t.Fatal(err)
	}
	want := s3api.ObjectMetadata{
		ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: `attachment; filename="x.txt"`,
		ContentLanguage: "en", CacheControl: "max-age=60", Expires: "Thu, 01 Dec 2094 16:00:00 GMT",
		User: map[string]string{"color": "blue", "empty": ""},
	}
	got := obj.Metadata
	if got.ContentType != want.ContentType || got.ContentEncoding != want.ContentEncoding ||
		got.ContentDisposition != want.ContentDisposition || got.ContentLanguage != want.ContentLanguage ||
		got.CacheControl != want.CacheControl || got.Expires != want.Expires ||
		len(got.User) != 2 || got.User["color"] != "blue" || got.User["empty"] != "" {
		t.Errorf("metadata %+v, want %+v", got, want)
	}
	e.mustDo(req{method: "PUT", target: "/bkt1/untyped", body: []byte("x")}, 200)
	obj, _ = e.store.HeadObject(context.Background(), "bkt1", "untyped")
	if obj.Metadata.ContentType != "binary/octet-stream" {
		t.Errorf("default Content-Type %q", obj.Metadata.ContentType)
	}
}

// TestEmptyBodyExpectContinue checks an empty PUT announced with
// "Expect: 100-continue" gets the interim 100 before its final answer:
// botocore misreads the next response on the connection otherwise.
func TestEmptyBodyExpectContinue(t *testing.T) {
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt"}, 200)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	r := e.newRequest(req{method: "PUT", target: srv.URL + "/bkt/empty", hdr: map[string]string{"Expect": "100-continue"}})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := r.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, r)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("first response: %v %v, want 100 Continue", resp, err)
	}
	resp, err = http.ReadResponse(br, r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("final response: %v %v", resp, err)
	}
}

// cidStore records the PutObjectInput.CID a PutObject receives and answers
// a CID of its own.
type cidStore struct {
	*s3mem.Store
	mu   sync.Mutex
	cids []string
	body []byte
}

func (s *cidStore) PutObject(ctx context.Context, in *s3api.PutObjectInput) (*s3api.ObjectInfo, error) {
	if in.CID == "" {
		return s.Store.PutObject(ctx, in)
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cids = append(s.cids, in.CID)
	s.body = body
	s.mu.Unlock()
	return &s3api.ObjectInfo{Bucket: in.Bucket, Key: in.Key, ETag: "0123", CID: in.CID}, nil
}

func TestPutObjectByCID(t *testing.T) {
	t.Parallel()
	store := &cidStore{Store: s3mem.New()}
	e := newEnvStore(t, store)
	e.mustDo(req{method: "PUT", target: "/bkt"}, 200)
	const c = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
	rec := e.mustDo(req{method: "PUT", target: "/bkt/k", hdr: map[string]string{"x-s3mesh-cid": c}}, 200)
	if rec.Header().Get("X-S3mesh-Cid") != c || rec.Header().Get("ETag") != `"0123"` {
		t.Fatalf("headers %v", rec.Header())
	}
	if len(store.cids) != 1 || store.cids[0] != c || len(store.body) != 0 {
		t.Fatalf("store got cids %q body %q", store.cids, store.body)
	}
	for _, tc := range []struct {
		name string
		r    req
		code string
	}{
		{"body and cid", req{method: "PUT", target: "/bkt/k", body: []byte("data"), hdr: map[string]string{"x-s3mesh-cid": c}}, "InvalidRequest"},
		{"empty cid", req{method: "PUT", target: "/bkt/k", hdr: map[string]string{"x-s3mesh-cid": " "}}, "InvalidArgument"},
	} {
		rec := e.do(tc.r)
		if got := errorCode(t, rec); got != tc.code {
			t.Errorf("%s: status %d code %q, want %s", tc.name, rec.Code, got, tc.code)
		}
	}
	if len(store.cids) != 1 {
		t.Fatalf("rejected requests reached the store: %q", store.cids)
	}
}
