package integration

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"s3mesh/gateway"
	"s3mesh/s3api"
	"s3mesh/s3api/s3mem"
)

// The root credentials and region every test server is configured with.
const (
	testAccessKey = "S3MESHTESTACCESSKEY1"
	testSecretKey = "s3mesh+test/secret-KEY-0123456789abcdefgh"
	testRegion    = "us-east-1"
)

// storeKind names the store behind the test servers: the gateway by
// default, the in-memory reference store with S3MESH_TEST_STORE=mem.
func storeKind() string {
	if os.Getenv("S3MESH_TEST_STORE") == "mem" {
		return "mem"
	}
	return "gateway"
}

// s3Server is the full S3 handler over a fresh store, served both over
// plain HTTP and over TLS.
type s3Server struct {
	URL    string // http://127.0.0.1:port
	TLS    *httptest.Server
	Region string
	store  s3api.ObjectStore
}

// newTestStore returns an empty store of kind storeKind().
func newTestStore(t testing.TB) s3api.ObjectStore {
	t.Helper()
	if storeKind() == "mem" {
		return s3mem.New()
	}
	n, err := gateway.New(gateway.Config{DataDir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("gateway close: %v", err)
		}
	})
	return n
}

// startS3 serves a handler for region (testRegion when empty) over a fresh
// store until the test ends.
func startS3(t testing.TB, region string) *s3Server {
	t.Helper()
	if region == "" {
		region = testRegion
	}
	store := newTestStore(t)
	h, err := s3api.New(s3api.Config{
		Credentials: s3api.Credentials{AccessKey: testAccessKey, SecretKey: testSecretKey},
		Region:      region,
	}, store)
	if err != nil {
		t.Fatalf("s3api.New: %v", err)
	}
	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	tls := httptest.NewTLSServer(h)
	t.Cleanup(tls.Close)
	return &s3Server{URL: plain.URL, TLS: tls, Region: region, store: store}
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(seedOf(seed)).Read(b)
	return b
}

func seedOf(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

// randomReader returns a reader of n deterministic pseudo-random bytes that
// never holds more than one read's worth in memory.
func randomReader(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(seedOf(seed)), n)
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// errorBody is an S3 error response body.
type errorBody struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// rawDo sends req with the default client and returns the status, headers
// and body.
func rawDo(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, body
}

// errorCode returns the Code of an S3 error body, or "" when body is not
// one.
func errorCode(body []byte) string {
	var e errorBody
	if xml.Unmarshal(bytes.TrimSpace(body), &e) != nil {
		return ""
	}
	return e.Code
}
