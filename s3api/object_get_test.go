package s3api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/internal/checksum"
	"s3mesh/s3api/s3mem"
)

func TestGetObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	body := []byte("0123456789")
	sum := md5.Sum(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	e.mustDo(req{method: "PUT", target: "/bkt1/obj", body: body, hdr: map[string]string{
		"Content-Type": "text/plain", "Cache-Control": "no-cache", "x-amz-meta-color": "blue",
		"x-amz-checksum-crc32": checksum.Sum(checksum.CRC32, body),
	}}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/empty"}, 200)
	info, err := e.store.HeadObject(context.Background(), "bkt1", "obj")
	if err != nil {
		t.Fatal(err)
	}
	lm := info.LastModified
	past, future := lm.Add(-time.Hour).Format(http.TimeFormat), lm.Add(time.Hour).Format(http.TimeFormat)

	tests := []struct {
		name   string
		method string
		target string
		hdr    map[string]string
		status int
		body   string
		code   string
		want   map[string]string // response headers
	}{
		{name: "whole", target: "/bkt1/obj", status: 200, body: "0123456789", want: map[string]string{
			"Content-Length": "10", "ETag": etag, "Content-Type": "text/plain", "Cache-Control": "no-cache",
			"X-Amz-Meta-Color": "blue", "Accept-Ranges": "bytes", "Last-Modified": lm.UTC().Format(http.TimeFormat),
			"x-amz-checksum-crc32": "",
		}},
		{name: "head", method: "HEAD", target: "/bkt1/obj", status: 200, want: map[string]string{"Content-Length": "10", "ETag": etag}},
		{name: "range", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=2-4"}, status: 206, body: "234",
			want: map[string]string{"Content-Range": "bytes 2-4/10", "Content-Length": "3"}},
		{name: "open range", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=7-"}, status: 206, body: "789"},
		{name: "suffix range", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=-2"}, status: 206, body: "89"},
		{name: "head range", method: "HEAD", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=0-0"}, status: 206,
			want: map[string]string{"Content-Range": "bytes 0-0/10", "Content-Length": "1"}},
		{name: "multiple ranges ignored", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=0-1,4-5"}, status: 200, body: "0123456789"},
		{name: "invalid range ignored", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=x-y"}, status: 200, body: "0123456789"},
		{name: "unsatisfiable", target: "/bkt1/obj", hdr: map[string]string{"Range": "bytes=10-"}, status: 416, code: "InvalidRange",
			want: map[string]string{"Content-Range": "bytes */10"}},
		{name: "empty object range", target: "/bkt1/empty", hdr: map[string]string{"Range": "bytes=0-"}, status: 416, code: "InvalidRange",
			want: map[string]string{"Content-Range": "bytes */0"}},
		{name: "empty object", target: "/bkt1/empty", status: 200, body: "", want: map[string]string{"Content-Length": "0", "Content-Type": "binary/octet-stream"}},
		{name: "checksum mode", target: "/bkt1/obj", hdr: map[string]string{"x-amz-checksum-mode": "ENABLED"}, status: 200, body: "0123456789",
			want: map[string]string{"x-amz-checksum-crc32": checksum.Sum(checksum.CRC32, body)}},
		{name: "if-match", target: "/bkt1/obj", hdr: map[string]string{"If-Match": etag}, status: 200, body: "0123456789"},
		{name: "if-match fails", target: "/bkt1/obj", hdr: map[string]string{"If-Match": `"nope"`}, status: 412, code: "PreconditionFailed"},
		{name: "if-match fails head", method: "HEAD", target: "/bkt1/obj", hdr: map[string]string{"If-Match": `"nope"`}, status: 412},
		{name: "if-unmodified-since fails", target: "/bkt1/obj", hdr: map[string]string{"If-Unmodified-Since": past}, status: 412, code: "PreconditionFailed"},
		{name: "if-none-match", target: "/bkt1/obj", hdr: map[string]string{"If-None-Match": etag}, status: 304,
			want: map[string]string{"ETag": etag, "Last-Modified": lm.UTC().Format(http.TimeFormat)}},
		{name: "if-modified-since", target: "/bkt1/obj", hdr: map[string]string{"If-Modified-Since": future}, status: 304},
		{name: "if-modified-since modified", target: "/bkt1/obj", hdr: map[string]string{"If-Modified-Since": past}, status: 200, body: "0123456789"},
		{name: "conditions before range", target: "/bkt1/obj", hdr: map[string]string{"If-Match": `"nope"`, "Range": "bytes=50-"}, status: 412, code: "PreconditionFailed"},
		{name: "overrides", target: "/bkt1/obj?response-content-type=application/json&response-content-language=fr&response-expires=never&response-cache-control=private&response-content-disposition=inline&response-content-encoding=identity",
			status: 200, body: "0123456789", want: map[string]string{
				"Content-Type": "application/json", "Content-Language": "fr", "Expires": "never",
				"Cache-Control": "private", "Content-Disposition": "inline", "Content-Encoding": "identity",
			}},
		{name: "version null", target: "/bkt1/obj?versionId=null", status: 200, body: "0123456789"},
		{name: "version other", target: "/bkt1/obj?versionId=3", status: 404, code: "NoSuchVersion"},
		{name: "version empty", target: "/bkt1/obj?versionId=", status: 400, code: "InvalidArgument"},
		{name: "no key", target: "/bkt1/missing", status: 404, code: "NoSuchKey"},
		{name: "no key head", method: "HEAD", target: "/bkt1/missing", status: 404},
		{name: "no bucket", target: "/nosuchbucket/obj", status: 404, code: "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = "GET"
			}
			rec := e.do(req{method: method, target: tt.target, hdr: tt.hdr})
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			if tt.code != "" {
				if got := errorCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
			} else if rec.Body.String() != tt.body {
				t.Fatalf("body %q, want %q", rec.Body.String(), tt.body)
			}
			for k, v := range tt.want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestGetObjectLarge streams an object larger than the copy buffer, whole
// and by range.
func TestGetObjectLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	data := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), 30000) // > 1 MiB
	e.mustDo(req{method: "PUT", target: "/bkt1/large", body: data}, 200)
	rec := e.mustDo(req{method: "GET", target: "/bkt1/large"}, 200)
	if !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("whole body differs: %d bytes, want %d", rec.Body.Len(), len(data))
	}
	rec = e.mustDo(req{method: "GET", target: "/bkt1/large", hdr: map[string]string{"Range": "bytes=100000-700000"}}, 206)
	if !bytes.Equal(rec.Body.Bytes(), data[100000:700001]) {
		t.Fatal("ranged body differs")
	}
}

// unavailableStore returns content whose reads time out, as a store does
// when no reachable node holds a block.
type unavailableStore struct{ *s3mem.Store }

type missingBlockError struct{}

func (missingBlockError) Error() string {
	return "block bafkreimissing: " + context.DeadlineExceeded.Error()
}
func (missingBlockError) MissingContent() string { return "bafkreimissing" }
func (missingBlockError) Unwrap() error          { return context.DeadlineExceeded }

type unavailableContent struct{}

func (unavailableContent) Open(context.Context, int64, int64) (io.ReadCloser, error) {
	return io.NopCloser(iotestErrReader{fmt.Errorf("read: %w", missingBlockError{})}), nil
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func (s unavailableStore) GetObject(ctx context.Context, b, k string) (*s3api.ObjectInfo, s3api.Content, error) {
	info, _, err := s.Store.GetObject(ctx, b, k)
	return info, unavailableContent{}, err
}

func TestGetObjectUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, unavailableStore{s3mem.New()})
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: []byte("abc")}, 200)
	rec := e.mustDo(req{method: "GET", target: "/bkt1/k"}, 503)
	if errorCode(t, rec) != "ServiceUnavailable" || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "bafkreimissing") {
		t.Fatalf("headers %v body %s", rec.Header(), rec.Body.String())
	}
	if rec.Header().Get("ETag") != "" || rec.Header().Get("Content-Length") != fmt.Sprint(rec.Body.Len()) {
		t.Errorf("object headers leaked into the error: %v", rec.Header())
	}
}

// TestUserMetadataNamesLowerCase checks x-amz-meta-* names go out as
// stored, in lower case, as S3 sends them: boto3 and others hand the names
// to users exactly as they arrive.
func TestUserMetadataNamesLowerCase(t *testing.T) {
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt/k", body: []byte("x"), hdr: map[string]string{"X-Amz-Meta-Mixed-Case": "v", "x-amz-meta-mtime": "17"}}, 200)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, e.newRequest(req{method: "HEAD", target: "/bkt/k"}))
	for _, name := range []string{"x-amz-meta-mixed-case", "x-amz-meta-mtime"} {
		if _, ok := rec.Header()[name]; !ok {
			t.Errorf("response lacks the lower-case header name %q: %v", name, rec.Header())
		}
	}
}

// failingStore returns content whose reader fails after good bytes: more
// than streamContent reads before it sends the status.
type failingStore struct{ *s3mem.Store }

type failingContent struct{ good int }

func (c failingContent) Open(context.Context, int64, int64) (io.ReadCloser, error) {
	return io.NopCloser(io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), c.good)),
		iotestErrReader{fmt.Errorf("read: %w", missingBlockError{})})), nil
}

func (s failingStore) GetObject(ctx context.Context, b, k string) (*s3api.ObjectInfo, s3api.Content, error) {
	info, _, err := s.Store.GetObject(ctx, b, k)
	return info, failingContent{good: 600 << 10}, err
}

// TestGetObjectFailsMidStream: content that fails after the status is sent
// aborts the connection; the client sees a truncated body, not a short one
// that looks whole. A failure before the first byte is still a 503.
func TestGetObjectFailsMidStream(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, failingStore{s3mem.New()})
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: bytes.Repeat([]byte("y"), 1<<20)}, 200)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	for _, rg := range []string{"", "bytes=0-900000"} {
		hr := e.newRequest(req{method: "GET", target: srv.URL + "/bkt1/k", hdr: map[string]string{"Range": rg}})
		hr.RequestURI = ""
		if rg == "" {
			hr.Header.Del("Range")
		}
		resp, err := srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("range %q: status %d", rg, resp.StatusCode)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("range %q: read %d of %d bytes, error %v; want io.ErrUnexpectedEOF", rg, len(body), resp.ContentLength, err)
		}
		if int64(len(body)) >= resp.ContentLength || len(body) > 600<<10 {
			t.Fatalf("range %q: got %d bytes of %d", rg, len(body), resp.ContentLength)
		}
	}
	// The server stays up and answers the next request on a new connection.
	hr := e.newRequest(req{method: "HEAD", target: srv.URL + "/bkt1/k"})
	hr.RequestURI = ""
	resp, err := srv.Client().Do(hr)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD after abort: %v %v", resp, err)
	}
	resp.Body.Close()
}

// hijackRecorder is a ResponseRecorder whose connection can be hijacked; it
// records that the handler closed it.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	closed bool
}

type recordedConn struct {
	net.Conn
	rec *hijackRecorder
}

func (c recordedConn) Close() error { c.rec.closed = true; return c.Conn.Close() }

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	a, b := net.Pipe()
	b.Close()
	return recordedConn{a, h}, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

// TestGetObjectAbortsMidStream: once the status is sent, a content failure
// closes the hijacked connection, or, where there is none to hijack,
// panics with http.ErrAbortHandler so that net/http resets the stream.
func TestGetObjectAbortsMidStream(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, failingStore{s3mem.New()})
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/k", body: bytes.Repeat([]byte("y"), 1<<20)}, 200)

	rec := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	e.h.ServeHTTP(rec, e.newRequest(req{method: "GET", target: "/bkt1/k"}))
	if !rec.closed || rec.Code != 200 {
		t.Fatalf("status %d, connection closed %v; want 200 and closed", rec.Code, rec.closed)
	}

	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		e.h.ServeHTTP(httptest.NewRecorder(), e.newRequest(req{method: "GET", target: "/bkt1/k"}))
	}()
	if !strings.Contains(e.logs.String(), "response aborted") {
		t.Fatalf("abort not logged: %s", e.logs.String())
	}
}
