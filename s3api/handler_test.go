package s3api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/s3api"
	"s3mesh/s3api/s3mem"
)

const (
	testAccessKey = "AKIAIOSFODNN7EXAMPLE"
	testSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion    = "us-east-1"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a Handler over an in-memory store, with a fresh metrics registry
// and a captured log.
type env struct {
	t     *testing.T
	h     *s3api.Handler
	store s3api.ObjectStore
	reg   *prometheus.Registry
	logs  *syncBuffer
}

func newEnv(t *testing.T, mods ...func(*s3api.Config)) *env {
	t.Helper()
	return newEnvStore(t, s3mem.New(), mods...)
}

func newEnvStore(t *testing.T, store s3api.ObjectStore, mods ...func(*s3api.Config)) *env {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	cfg := s3api.Config{
		Credentials: s3api.Credentials{AccessKey: testAccessKey, SecretKey: testSecretKey},
		Region:      testRegion,
		Domains:     []string{"s3.example.com"},
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registerer:  reg,
	}
	for _, m := range mods {
		m(&cfg)
	}
	h, err := s3api.New(cfg, store)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, h: h, store: store, reg: reg, logs: logs}
}

// req describes a request to send.
type req struct {
	method string
	target string // path and query, or a full URL for another host
	body   []byte
	hdr    map[string]string
	// payload is the x-amz-content-sha256 value; "" means the body's hash.
	payload string
	// anonymous sends the request unsigned.
	anonymous bool
	// signer secret override, for a bad signature.
	secret string
	// signTime overrides the signing time.
	signTime time.Time
	// length, when set, overrides the Content-Length (-1: none).
	length *int64
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, e.newRequest(r))
	// Read header names as a client does: net/http canonicalises them when
	// it parses a response, whatever case the server wrote.
	h := rec.Header()
	for k, v := range h {
		if c := http.CanonicalHeaderKey(k); c != k {
			delete(h, k)
			h[c] = append(h[c], v...)
		}
	}
	return rec
}

func (e *env) newRequest(r req) *http.Request {
	e.t.Helper()
	target := r.target
	if !strings.HasPrefix(target, "http") {
		target = "http://localhost:9000" + target
	}
	hr := httptest.NewRequest(r.method, target, bytes.NewReader(r.body))
	if r.body == nil {
		hr.Body = http.NoBody
		hr.ContentLength = 0
	}
	if r.method == http.MethodPut || r.method == http.MethodPost {
		// As clients send it, and as net/http keeps it in the header.
		hr.Header.Set("Content-Length", strconv.Itoa(len(r.body)))
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	if r.length != nil {
		hr.ContentLength = *r.length
		hr.Header.Del("Content-Length")
		if *r.length >= 0 {
			hr.Header.Set("Content-Length", strconv.FormatInt(*r.length, 10))
		}
	}
	if r.anonymous {
		return hr
	}
	payload := r.payload
	if payload == "" {
		sum := sha256.Sum256(r.body)
		payload = hex.EncodeToString(sum[:])
	}
	hr.Header.Set("X-Amz-Content-Sha256", payload)
	secret := testSecretKey
	if r.secret != "" {
		secret = r.secret
	}
	when := r.signTime
	if when.IsZero() {
		when = time.Now()
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: secret},
		hr, payload, "s3", testRegion, when)
	if err != nil {
		e.t.Fatalf("sign: %v", err)
	}
	return hr
}

// mustDo sends r and fails unless the status is want.
func (e *env) mustDo(r req, want int) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := e.do(r)
	if rec.Code != want {
		e.t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.method, r.target, rec.Code, want, rec.Body.String())
	}
	return rec
}

// errorCode returns the Code of an S3 error body, "" if there is none.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if rec.Body.Len() == 0 {
		return ""
	}
	var e struct {
		Code      string `xml:"Code"`
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body does not parse: %v\n%s", err, rec.Body.String())
	}
	if e.RequestID != rec.Header().Get("x-amz-request-id") {
		t.Errorf("RequestId %q, header %q", e.RequestID, rec.Header().Get("x-amz-request-id"))
	}
	return e.Code
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	creds := s3api.Credentials{AccessKey: "ak", SecretKey: "sk"}
	tests := []struct {
		name string
		cfg  s3api.Config
		ok   bool
	}{
		{"minimal", s3api.Config{Credentials: creds}, true},
		{"no credentials", s3api.Config{}, false},
		{"no secret", s3api.Config{Credentials: s3api.Credentials{AccessKey: "ak"}}, false},
		{"slash in access key", s3api.Config{Credentials: s3api.Credentials{AccessKey: "a/k", SecretKey: "sk"}}, false},
		{"negative skew", s3api.Config{Credentials: creds, MaxSkew: -time.Second}, false},
		{"domain with port", s3api.Config{Credentials: creds, Domains: []string{"s3.example.com:9000"}}, false},
		{"upper-case domain", s3api.Config{Credentials: creds, Domains: []string{"S3.example.com"}}, false},
		{"domains", s3api.Config{Credentials: creds, Domains: []string{"s3.example.com", "localhost"}}, true},
		{"timeout of unknown op", s3api.Config{Credentials: creds, Timeouts: map[s3api.Op]time.Duration{"Nope": time.Second}}, false},
		{"timeout", s3api.Config{Credentials: creds, Timeouts: map[s3api.Op]time.Duration{s3api.OpGetObject: time.Second}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s3api.New(tt.cfg, s3mem.New())
			if (err == nil) != tt.ok {
				t.Fatalf("New: err %v, want ok %v", err, tt.ok)
			}
		})
	}
	if _, err := s3api.New(s3api.Config{Credentials: creds}, nil); err == nil {
		t.Error("New with a nil store succeeded")
	}
}

func TestSecretRedacted(t *testing.T) {
	t.Parallel()
	creds := s3api.Credentials{AccessKey: "ak", SecretKey: "hunter2hunter2"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "creds", creds, "secret", creds.SecretKey)
	for _, s := range []string{buf.String(), strings.Join([]string{
		creds.SecretKey.String(), creds.SecretKey.GoString(),
	}, " ")} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret leaked: %s", s)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustDo(req{method: "GET", target: "/"}, 200)
	b := e.mustDo(req{method: "GET", target: "/nosuchbucket"}, 404)
	for _, rec := range []*httptest.ResponseRecorder{a, b} {
		if len(rec.Header().Get("x-amz-request-id")) != 16 || rec.Header().Get("x-amz-id-2") == "" {
			t.Errorf("request id headers: %v", rec.Header())
		}
	}
	if a.Header().Get("x-amz-request-id") == b.Header().Get("x-amz-request-id") {
		t.Error("two requests share a request ID")
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		r    req
		code string
	}{
		{"anonymous", req{method: "GET", target: "/", anonymous: true}, "AccessDenied"},
		{"wrong secret", req{method: "GET", target: "/", secret: "not-the-secret"}, "SignatureDoesNotMatch"},
		{"skewed", req{method: "GET", target: "/", signTime: time.Now().Add(-time.Hour)}, "RequestTimeTooSkewed"},
		{"payload hash mismatch", req{method: "PUT", target: "/bkt1/k", body: []byte("abc"),
			payload: strings.Repeat("0", 64)}, "XAmzContentSHA256Mismatch"},
		{"signature v2 expired", req{method: "GET", target: "/?AWSAccessKeyId=x&Signature=y&Expires=1", anonymous: true}, "AccessDenied"},
		{"signature v4a", req{method: "GET", target: "/", anonymous: true, hdr: map[string]string{"Authorization": "AWS4-ECDSA-P256-SHA256 Credential=x/20260101/s3/aws4_request, SignedHeaders=host, Signature=00"}}, "UnsupportedSignature"},
	}
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.r)
			if got := errorCode(t, rec); got != tt.code {
				t.Fatalf("code %q (status %d), want %q", got, rec.Code, tt.code)
			}
		})
	}
}

func TestNotImplemented(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	tests := []req{
		{method: "GET", target: "/bkt1?policy"},
		{method: "GET", target: "/bkt1?lifecycle"},
		{method: "PUT", target: "/bkt1/k?retention"},
		{method: "POST", target: "/bkt1"},
		{method: "PATCH", target: "/bkt1/k"},
		{method: "POST", target: "/?Action=AssumeRole&Version=2011-06-15", anonymous: true},
		{method: "POST", target: "/", anonymous: true, body: []byte("Action=GetCallerIdentity&Version=2011-06-15"),
			hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
	}
	for _, r := range tests {
		t.Run(r.method+" "+r.target, func(t *testing.T) {
			rec := e.do(r)
			if rec.Code != http.StatusNotImplemented || errorCode(t, rec) != "NotImplemented" {
				t.Fatalf("status %d body %s, want 501 NotImplemented", rec.Code, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// panicStore panics in every ListBuckets.
type panicStore struct{ s3api.ObjectStore }

func (panicStore) ListBuckets(context.Context) ([]s3api.BucketInfo, error) { panic("boom") }

func TestRecoverAndInternalError(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, panicStore{s3mem.New()})
	rec := e.mustDo(req{method: "GET", target: "/"}, 500)
	if errorCode(t, rec) != "InternalError" {
		t.Fatalf("body %s", rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "boom") {
		t.Error("panic detail sent to the client")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "boom") || !strings.Contains(logs, rec.Header().Get("x-amz-request-id")) {
		t.Errorf("panic not logged with the request ID:\n%s", logs)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustDo(req{method: "PUT", target: "/logbucket"}, 200)
	e.mustDo(req{method: "PUT", target: "/logbucket/secret-key-name", body: []byte("x")}, 200)
	e.mustDo(req{method: "GET", target: "/logbucket/missing"}, 404)
	logs := e.logs.String()
	for _, want := range []string{"op=CreateBucket", "op=PutObject", "op=GetObject", "code=NoSuchKey", "status=404", "bucket=logbucket", "req_id=", "dur="} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret-key-name") {
		t.Errorf("object key logged at info level:\n%s", logs)
	}
	if n := strings.Count(logs, "msg=\"s3 request\""); n != 3 {
		t.Errorf("%d access lines, want 3", n)
	}
}

// slowStore blocks HeadBucket until its context ends.
type slowStore struct{ s3api.ObjectStore }

func (slowStore) HeadBucket(ctx context.Context, _ string) (*s3api.BucketInfo, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestOpTimeout(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, slowStore{s3mem.New()}, func(c *s3api.Config) {
		c.Timeouts = map[s3api.Op]time.Duration{s3api.OpHeadBucket: time.Millisecond}
	})
	rec := e.mustDo(req{method: "HEAD", target: "/slowbucket"}, 503)
	if rec.Header().Get("Retry-After") == "" || rec.Body.Len() != 0 {
		t.Errorf("HEAD 503: headers %v body %q", rec.Header(), rec.Body.String())
	}
}

// waitStore blocks HeadBucket until its context ends, and reports the
// cause on ended.
type waitStore struct {
	s3api.ObjectStore
	started chan struct{}
	ended   chan error
}

func (s waitStore) HeadBucket(ctx context.Context, _ string) (*s3api.BucketInfo, error) {
	close(s.started)
	<-ctx.Done()
	s.ended <- context.Cause(ctx)
	return nil, ctx.Err()
}

// TestClientClosed: a client whose connection breaks (reset) ends the work
// of its request, and nothing is answered; a client that only half-closes
// (TestHalfClose) does not.
func TestClientClosed(t *testing.T) {
	t.Parallel()
	store := waitStore{ObjectStore: s3mem.New(), started: make(chan struct{}), ended: make(chan error, 1)}
	e := newEnvStore(t, store)
	served := make(chan struct{})
	srv, err := s3api.NewServer(s3api.ServerConfig{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		e.h.ServeHTTP(w, r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	hr := e.newRequest(req{method: "HEAD", target: "http://" + ln.Addr().String() + "/slowbucket"})
	if err := hr.Write(c); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		answered <- string(b)
	}()
	select {
	case <-store.started:
	case a := <-answered:
		t.Fatalf("answered before the store was called: %q", a)
	}
	c.(*net.TCPConn).SetLinger(0) // close with a reset
	c.Close()
	if cause := <-store.ended; !strings.Contains(fmt.Sprint(cause), "client gone") {
		t.Errorf("work ended by %v, want the client gone", cause)
	}
	<-served
	if !strings.Contains(e.logs.String(), "code=ClientClosed") || !strings.Contains(e.logs.String(), "status=499") {
		t.Errorf("ClientClosed not logged:\n%s", e.logs.String())
	}
}

func TestWithPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.h.WithPaths(map[string]http.Handler{
		"/health/ready": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health/ready", nil))
	if rec.Body.String() != "ok" {
		t.Fatalf("health: %q", rec.Body.String())
	}
	e.mustDo(req{method: "PUT", target: "/bkt1"}, 200)
	e.mustDo(req{method: "PUT", target: "/bkt1/a//b", body: []byte("x")}, 200)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, e.newRequest(req{method: "GET", target: "/bkt1/a//b"}))
	if rec.Code != 200 || rec.Body.String() != "x" {
		t.Fatalf("key with // through WithPaths: %d %s", rec.Code, rec.Body.String())
	}
}

// serve sends a prepared request.
func serve(e *env, hr *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	return rec
}

// escapeKey escapes a key for a request path as the AWS SDKs do: every
// byte but the unreserved ones and '/'.
func escapeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
