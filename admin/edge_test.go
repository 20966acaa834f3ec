package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"s3mesh/internal/poll"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api"
	"s3mesh/s3api/s3mem"
)

const (
	testAccess = "AKADMINTESTEXAMPLE01"
	testSecret = "adminTestSecretKeyExample0123456789abcdef"
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

// edge is a Server mounted on an s3api.Handler (over an in-memory store,
// or over store when set), served by an httptest server, with a fresh
// metrics registry and a captured log.
type edge struct {
	srv  *httptest.Server
	url  string
	reg  *prometheus.Registry
	logs *syncBuffer
}

func newEdge(t *testing.T, s *Server, store s3api.ObjectStore) *edge {
	t.Helper()
	return newEdgeReg(t, s, store, prometheus.NewRegistry())
}

// newEdgeReg is newEdge with the request metrics on reg.
func newEdgeReg(t *testing.T, s *Server, store s3api.ObjectStore, reg *prometheus.Registry) *edge {
	t.Helper()
	if store == nil {
		store = s3mem.New()
	}
	logs := &syncBuffer{}
	h, err := s3api.New(s3api.Config{
		Credentials: s3api.Credentials{AccessKey: testAccess, SecretKey: testSecret},
		Domains:     []string{"s3.test"},
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
		Registerer:  reg,
		Mounts:      []s3api.Mount{s.Mount()},
	}, store)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &edge{srv: srv, url: srv.URL, reg: reg, logs: logs}
}

// bare returns an edge around a Server of only the admin API a, without
// status page or IPFS gateway.
func bare(t *testing.T, a *api) *edge {
	t.Helper()
	return newEdge(t, &Server{cfg: Config{}.withDefaults(), api: a}, nil)
}

// do sends a request, signed with access/secret unless access is "";
// mod changes the request before signing.
func do(t *testing.T, method, url, access, secret string, mod func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(req)
	}
	if access != "" {
		sign(t, req, access, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// sign signs req, which has no body, with SigV4 for service s3.
func sign(t *testing.T, req *http.Request, access, secret string) {
	t.Helper()
	sum := sha256.Sum256(nil)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: access, SecretAccessKey: secret}, req, payload, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// presign returns a presigned GET URL of target, valid for an hour.
func presign(t *testing.T, target, access, secret string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target+"?X-Amz-Expires=3600", nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: access, SecretAccessKey: secret}, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// call sends a request signed with the test credentials.
func call(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	return do(t, method, url, testAccess, testSecret, nil)
}

func adminErrorCode(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json; body %s", ct, body)
	}
	var e ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body: %v\n%s", err, body)
	}
	return e.Code
}

// newTestNode opens a node in a fresh directory of t's (no sync, no
// multipart janitor; chunkSize 0 is the default), closed when t ends.
func newTestNode(t *testing.T, chunkSize int) *gateway.Node {
	t.Helper()
	node, err := gateway.New(gateway.Config{DataDir: t.TempDir(), NoSync: true, MultipartMaxAge: -1, ChunkSize: chunkSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	return node
}

// waitFor waits until cond returns nil (see poll.Until).
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	poll.Until(t, what, 30*time.Second, cond)
}

// fakeP2P is a P2P of one identity over a fakeSource.
type fakeP2P struct {
	*fakeSource
	id peer.ID
}

func (f fakeP2P) ID() peer.ID { return f.id }
func (f fakeP2P) Addrs() []multiaddr.Multiaddr {
	return []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/4001")}
}

// TestEveryRequestIsWrapped: the admin API, the status page, the IPFS
// gateway and the probes, mounted on s3api's Handler, each get a request
// ID, one access-log line and a request-metric sample under their fixed
// operation name, and authentication where the route table asks.
func TestEveryRequestIsWrapped(t *testing.T) {
	ctx := context.Background()
	node := newTestNode(t, 1024)
	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "builds"}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdefghij"), 250) // 5 leaves under a root
	obj, err := node.PutObject(ctx, &s3api.PutObjectInput{Bucket: "builds", Key: "app.bin", Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	root, err := cid.Decode(obj.CID)
	if err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	var ready atomic.Bool
	ready.Store(true)
	s, err := New(Config{
		Credentials: s3api.Credentials{AccessKey: testAccess, SecretKey: testSecret},
		IPFSGateway: IPFSGatewayAuth,
		DataDir:     t.TempDir(),
		Metrics:     promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Ready:       ready.Load,
	}, node, fakeP2P{&fakeSource{traffic: map[peer.ID]exchange.Traffic{}}, "self"}, blocksFunc(func() blockstore.Stats { return blockstore.Stats{} }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := newEdgeReg(t, s, node, reg)
	session := withCookie(s.ui.newSession(time.Now().Add(time.Hour)))
	signed := signedWith(t, testSecret)

	for _, tt := range []struct {
		name, method, target string
		mod                  func(*http.Request)
		op                   s3api.Op
		status               int
		code                 string
	}{
		{"admin", "GET", StatusPath, signed, OpAdminStatus, 200, "OK"},
		{"admin, session", "GET", BucketsPath, session, OpAdminBuckets, 200, "OK"},
		{"admin, unsigned", "GET", PeersPath, nil, OpAdminPeers, 403, "AccessDenied"},
		{"admin, unknown path", "GET", PathPrefix + "nope", signed, OpAdminUnknown, 404, "NoSuchKey"},
		{"admin, method", "DELETE", StatusPath, signed, OpAdminStatus, 405, "MethodNotAllowed"},
		{"status page", "GET", UIPrefix, session, OpStatusPage, 200, "OK"},
		{"status page, unsigned", "GET", "/ui/app.js", nil, OpStatusPage, 403, "AccessDenied"},
		{"status page login", "GET", presign(t, e.url+UILoginPath, testAccess, testSecret), nil, OpStatusPageLogin, 303, "OK"},
		{"ipfs", "GET", IPFSPrefix + root.String() + "?format=raw", signed, OpIPFSGateway, 200, "OK"},
		{"ipfs car", "GET", IPFSPrefix + root.String() + "?format=car", signed, OpIPFSGateway, 200, "OK"},
		{"ipfs, unsigned", "GET", IPFSPrefix + root.String() + "?format=raw", nil, OpIPFSGateway, 403, "AccessDenied"},
		{"ipfs, not verifiable", "GET", IPFSPrefix + root.String(), signed, OpIPFSGateway, 406, "HTTP406"},
		{"metrics", "GET", MetricsPath, nil, OpMetrics, 200, "OK"},
		{"ready", "GET", ReadyPath, nil, OpHealthReady, 200, "OK"},
		{"live", "HEAD", LivePath, nil, OpHealthLive, 200, "OK"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := requests(t, reg, tt.op, tt.code)
			resp, body := uiGet(t, e, tt.method, tt.target, tt.mod)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s = %d, want %d\n%.300s", tt.method, tt.target, resp.StatusCode, tt.status, body)
			}
			id := resp.Header.Get("x-amz-request-id")
			if id == "" {
				t.Fatal("no x-amz-request-id")
			}
			if got := requests(t, reg, tt.op, tt.code); got != before+1 {
				t.Errorf("s3mesh_s3_requests_total{op=%q,code=%q} went from %v to %v, want one more", tt.op, tt.code, before, got)
			}
			if n := strings.Count(e.logs.String(), "req_id="+id); n != 1 {
				t.Errorf("%d log lines name request %s, want one access line:\n%s", n, id, e.logs)
			}
			if !strings.Contains(e.logs.String(), "msg=request op="+string(tt.op)+" req_id="+id) {
				t.Errorf("no access line with op=%s for request %s:\n%s", tt.op, id, e.logs)
			}
			if tt.name == "ipfs" {
				if got, _ := root.Prefix().Sum([]byte(body)); !got.Equals(root) {
					t.Errorf("raw block of %s hashes to %s", root, got)
				}
			}
		})
	}
	// The operations name the routes, never the URL: no series has a
	// CID, a path or an S3 name for these requests.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && (strings.Contains(l.GetValue(), "/") || strings.Contains(l.GetValue(), root.String())) {
					t.Errorf("%s has op %q", mf.GetName(), l.GetValue())
				}
			}
		}
	}

	// Not ready: 503, still wrapped.
	ready.Store(false)
	resp, _ := uiGet(t, e, "GET", ReadyPath, nil)
	if resp.StatusCode != 503 || requests(t, reg, OpHealthReady, "ServiceUnavailable") != 1 {
		t.Errorf("not ready: %d", resp.StatusCode)
	}
}

// requests returns the value of s3mesh_s3_requests_total{op,code}.
func requests(t *testing.T, reg *prometheus.Registry, op s3api.Op, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "s3mesh_s3_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var gotOp, gotCode string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "op":
					gotOp = l.GetValue()
				case "code":
					gotCode = l.GetValue()
				}
			}
			if gotOp == string(op) && gotCode == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
