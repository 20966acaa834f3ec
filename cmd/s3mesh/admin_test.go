package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/multiformats/go-multiaddr"

	"s3mesh/admin"
	"s3mesh/blockstore"
	"s3mesh/exchange"
	"s3mesh/gateway"
	"s3mesh/s3api"
)

const (
	adminTestAccess = "AKADMINTESTEXAMPLE01"
	adminTestSecret = "adminTestSecretKeyExample0123456789abcdef"
)

// nodeEnv returns a getenv with the test root credentials and extra.
func nodeEnv(extra map[string]string) func(string) string {
	m := map[string]string{"S3MESH_ACCESS_KEY": adminTestAccess, "S3MESH_SECRET_KEY": adminTestSecret}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

var (
	peerIDRE   = regexp.MustCompile(`Peer ID (\S+);`)
	peerAddrRE = regexp.MustCompile(`--peer (\S+)`)
)

// testNode is one "serve" started by startNode.
type testNode struct {
	endpoint string // http://host:port
	id       string // peer ID
	addr     string // a full p2p multiaddr
	dir      string
}

func startNode(t *testing.T, extra map[string]string) testNode {
	t.Helper()
	dir := t.TempDir()
	ep, stdout, _ := startServe(t, dir, nodeEnv(extra))
	id, addr := peerIDRE.FindStringSubmatch(stdout.String()), peerAddrRE.FindStringSubmatch(stdout.String())
	if id == nil || addr == nil {
		t.Fatalf("serve printed no peer ID or address:\n%s", stdout)
	}
	return testNode{endpoint: "http://" + ep, id: id[1], addr: addr[1], dir: dir}
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
		if err := signRequest(context.Background(), req, access, secret, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
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

// runCLI runs an s3mesh command with getenv and returns its stdout.
func runCLI(getenv func(string) string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, getenv, &out, &errOut)
	return out.String(), err
}

// waitConnected polls "s3mesh peers --json" on n until peer is connected,
// and returns that answer.
func waitConnected(t *testing.T, n testNode, peer string) admin.PeersResponse {
	t.Helper()
	return waitPeer(t, n, peer, "connected", func(ps admin.PeerStatus) bool { return ps.Connected })
}

// waitPeer polls "s3mesh peers --json" on n until it lists peer in the
// state ok checks (named by what), and returns that answer.
func waitPeer(t *testing.T, n testNode, peer, what string, ok func(admin.PeerStatus) bool) admin.PeersResponse {
	t.Helper()
	var p admin.PeersResponse
	waitFor(t, fmt.Sprintf("%s lists %s %s", n.id, peer, what), func() error {
		out, err := runCLI(nodeEnv(nil), "peers", "--json", "--endpoint", n.endpoint)
		if err != nil {
			return fmt.Errorf("peers --json: %w", err)
		}
		p = admin.PeersResponse{}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return fmt.Errorf("peers --json printed no JSON: %w\n%s", err, out)
		}
		for _, ps := range p.Peers {
			if ps.ID == peer && ok(ps) {
				return nil
			}
		}
		return fmt.Errorf("last answer:\n%s", out)
	})
	return p
}

func adminErrorCode(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json; body %s", ct, body)
	}
	var e admin.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body: %v\n%s", err, body)
	}
	return e.Code
}

func TestAdminAPI(t *testing.T) {
	a := startNode(t, map[string]string{"S3MESH_DOMAINS": "s3.test"})
	b := startNode(t, map[string]string{"S3MESH_PEERS": a.addr})

	// Authentication: unsigned, wrong secret, then the API's own errors.
	for _, tt := range []struct {
		name, method, path, secret string
		anonymous                  bool
		status                     int
		code                       string
	}{
		{"unsigned", "GET", admin.PeersPath, "", true, 403, "AccessDenied"},
		{"unsigned status", "GET", admin.StatusPath, "", true, 403, "AccessDenied"},
		{"wrong secret", "GET", admin.PeersPath, "wrong-secret", false, 403, "SignatureDoesNotMatch"},
		{"unsigned unknown path", "GET", admin.PathPrefix + "nope", "", true, 403, "AccessDenied"},
		{"unknown path", "GET", admin.PathPrefix + "nope", adminTestSecret, false, 404, "NoSuchKey"},
		{"POST", "POST", admin.PeersPath, adminTestSecret, false, 405, "MethodNotAllowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			access := adminTestAccess
			if tt.anonymous {
				access = ""
			}
			resp, body := do(t, tt.method, a.endpoint+tt.path, access, tt.secret, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.status)
			}
			if got := adminErrorCode(t, resp, body); got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
		})
	}

	// B dials A (a static peer); both then list each other. A ping of the
	// peers call may time out on a loaded machine: wait for one that
	// measured A's round trip.
	pb := waitPeer(t, b, a.id, "connected with a measured RTT", func(ps admin.PeerStatus) bool {
		return ps.Connected && ps.RTTMillis != nil
	})
	if pb.ID != b.id || len(pb.Addrs) == 0 {
		t.Errorf("B's peers answer names %q with %v, want %s and its addresses", pb.ID, pb.Addrs, b.id)
	}
	for _, ps := range pb.Peers {
		if ps.ID == a.id {
			if !ps.Static || len(ps.Addrs) == 0 || ps.RTTMillis == nil || *ps.RTTMillis <= 0 {
				t.Errorf("B sees A as %+v, want static with addresses and a measured RTT", ps)
			}
		}
	}
	pa := waitConnected(t, a, b.id)
	for _, ps := range pa.Peers {
		if ps.ID == b.id && ps.Static {
			t.Errorf("A lists B as static; only B was given --peer")
		}
	}
	table, err := runCLI(nodeEnv(nil), "peers", "--endpoint", a.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(b.id)+`\s+yes\s+no\s+\S+\s+/ip4/127\.0\.0\.1/tcp/`).MatchString(table) ||
		!strings.Contains(table, "This node: "+a.id) || !strings.Contains(table, "CONNECTED") {
		t.Errorf("peers table of A lacks B's row (ID, connected, not static, RTT, address):\n%s", table)
	}

	// Status, after storing an object; the AWS_* variables are the fallback.
	ctx := context.Background()
	c, err := minio.New(strings.TrimPrefix(a.endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(adminTestAccess, adminTestSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, "photos", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, "photos", "admin/v1/peers", strings.NewReader("not the admin API"), 17, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	awsEnv := func(k string) string {
		return map[string]string{"AWS_ACCESS_KEY_ID": adminTestAccess, "AWS_SECRET_ACCESS_KEY": adminTestSecret}[k]
	}
	out, err := runCLI(awsEnv, "status", "--json", "--endpoint", a.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var st admin.StatusResponse
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.ID != a.id || st.DataDir != a.dir || st.Endpoint != a.endpoint || st.Version == "" || st.IPFSGateway != "off" ||
		st.PeersConnected < 1 || st.Blocks.Count < 1 || st.Blocks.Bytes < 17 || len(st.Addrs) == 0 || st.UptimeSeconds < 0 {
		t.Errorf("status of A = %+v; want its ID, data dir, endpoint, a connected peer and the stored block", st)
	}
	if c := st.Cache; c == nil || c.BudgetBytes != 0 || c.MinFreeBytes != 1<<30 || c.DiskFreeBytes == 0 || c.WritesRefused {
		t.Errorf("status of A's cache = %+v; want no budget, 1 GiB kept free of a disk with room", c)
	}
	human, err := runCLI(nodeEnv(nil), "status", "--endpoint", a.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Peer ID\s+` + a.id, `Peers\s+1 connected, 0 static`, `IPFS gateway\s+off`, `Data\s+` + regexp.QuoteMeta(a.dir), `Blocks\s+[1-9]\d* \(`, `Cache\s+.* used, no budget; \d+ hits, \d+ misses`} {
		if !regexp.MustCompile(want).MatchString(human) {
			t.Errorf("status output lacks %q:\n%s", want, human)
		}
	}

	// B applied A's bucket and object: its status shows their replication
	// lag, and A on the namespace topic. The namespace records an update's
	// lag as it merges the delta, before it makes the delta a head (the
	// CRDT's put hook runs first), so a status may show both lag samples
	// and a head still at height 1, or none: wait for the whole state
	// checked, not for the lag samples alone.
	var ns admin.NamespaceStatus
	waitFor(t, "B's namespace status with A's two writes", func() error {
		out, err := runCLI(nodeEnv(nil), "status", "--json", "--endpoint", b.endpoint)
		if err != nil {
			return err
		}
		var stB admin.StatusResponse
		if err := json.Unmarshal([]byte(out), &stB); err != nil {
			return fmt.Errorf("status --json of B: %w\n%s", err, out)
		}
		ns = stB.Namespace
		if ns.LagSamples < 2 || ns.LagP50Ms == nil || ns.LagP99Ms == nil || ns.LagMaxMs == nil || *ns.LagP50Ms > *ns.LagP99Ms ||
			ns.LastApplied == nil || ns.Network != gateway.DefaultNetwork || ns.TopicPeers != 1 || ns.Heads < 1 || ns.MaxHeight < 2 {
			return fmt.Errorf("namespace status of B = %+v; want the lag of A's two writes, A on the topic, a head at height 2 or more", ns)
		}
		return nil
	})
	human, err = runCLI(nodeEnv(nil), "status", "--endpoint", b.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Namespace\s+` + gateway.DefaultNetwork + `: 1 topic peers, \d+ heads, height \d+`, `Replication lag\s+p50 [\d.]+ms, p99 [\d.]+ms over the last \d+ updates`} {
		if !regexp.MustCompile(want).MatchString(human) {
			t.Errorf("status output of B lacks %q:\n%s", want, human)
		}
	}

	// A virtual-hosted request is always S3, even for a key admin/v1/….
	resp, body := do(t, "GET", a.endpoint+admin.PeersPath, adminTestAccess, adminTestSecret, func(r *http.Request) {
		r.Host = "photos.s3.test:" + strings.Split(a.endpoint, ":")[2]
	})
	if resp.StatusCode != 200 || string(body) != "not the admin API" {
		t.Errorf("virtual-hosted GET photos/admin/v1/peers = %d %q, want the object", resp.StatusCode, body)
	}

	// The reserved bucket names cannot be created.
	for _, name := range []string{"admin", "ipfs"} {
		err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{})
		if minio.ToErrorResponse(err).Code != "InvalidBucketName" {
			t.Errorf("MakeBucket %s = %v, want InvalidBucketName", name, err)
		}
	}
	resp, body = do(t, "PUT", a.endpoint+"/admin", "", "", nil)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("unsigned PUT /admin = %d %s, want 403 AccessDenied", resp.StatusCode, body)
	}
	// A signed listing of bucket "admin" is still S3 (the bucket does not exist).
	resp, body = do(t, "GET", a.endpoint+"/admin?list-type=2", adminTestAccess, adminTestSecret, nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "<Code>NoSuchBucket</Code>") {
		t.Errorf("ListObjectsV2 admin = %d %s, want 404 NoSuchBucket", resp.StatusCode, body)
	}
}

func TestAdminCLIErrors(t *testing.T) {
	n := startNode(t, nil)

	_, err := runCLI(nodeEnv(map[string]string{"S3MESH_SECRET_KEY": "wrong"}), "peers", "--endpoint", n.endpoint)
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = runCLI(func(string) string { return "" }, "status", "--endpoint", n.endpoint)
	if !errors.Is(err, errNoCredentials) {
		t.Errorf("no credentials: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, err = runCLI(nodeEnv(nil), "status", "--endpoint", closed)
	if err == nil || !strings.Contains(err.Error(), "no s3mesh node answers at "+closed) {
		t.Errorf("no node: %v", err)
	}

	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	_, err = runCLI(nodeEnv(nil), "peers", "--endpoint", other.URL)
	if err == nil || !strings.Contains(err.Error(), "does not serve the s3mesh admin API") {
		t.Errorf("another server: %v", err)
	}

	for _, args := range [][]string{{"peers", "extra"}, {"status", "--nope"}, {"peers", "--endpoint", "localhost:9000"}} {
		_, err := runCLI(nodeEnv(nil), args...)
		if err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestPrintPeersAndStatus(t *testing.T) {
	rtt := 12.34
	var b bytes.Buffer
	if err := printPeers(&b, admin.PeersResponse{ID: "self", Peers: []admin.PeerStatus{
		{ID: "p1", Addrs: []string{"/ip4/10.0.0.1/tcp/4001", "/ip4/10.0.0.2/tcp/4001"}, Connected: true, Static: true, RTTMillis: &rtt},
		{ID: "p2", Addrs: []string{}},
	}}); err != nil {
		t.Fatal(err)
	}
	want := "This node: self\n" +
		"PEER  CONNECTED  STATIC  RTT     ADDRESS\n" +
		"p1    yes        yes     12.3ms  /ip4/10.0.0.1/tcp/4001\n" +
		"p2    no         no      -       -\n"
	if b.String() != want {
		t.Errorf("peers table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printPeers(&b, admin.PeersResponse{ID: "self"})
	if !strings.Contains(b.String(), "No peers") {
		t.Errorf("empty peers table: %q", b.String())
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeP2P is an admin.P2P without peers.
type fakeP2P struct{}

func (fakeP2P) ID() peer.ID                  { return "self" }
func (fakeP2P) Addrs() []multiaddr.Multiaddr { return nil }
func (fakeP2P) Peers() []exchange.PeerInfo   { return nil }
func (fakeP2P) Ping(context.Context, peer.ID) (time.Duration, error) {
	return 0, errors.New("no peers")
}
func (fakeP2P) PeerTraffic() map[peer.ID]exchange.Traffic { return nil }

// fakeBlocks is an empty block store's statistics.
type fakeBlocks struct{}

func (fakeBlocks) Stats() blockstore.Stats { return blockstore.Stats{} }

// newAdminServer serves node's admin API (and an S3 API over node) with
// the test root credentials, as serve does, on an httptest server closed
// when t ends.
func newAdminServer(t *testing.T, node *gateway.Node) *httptest.Server {
	t.Helper()
	creds := s3api.Credentials{AccessKey: adminTestAccess, SecretKey: adminTestSecret}
	adm, err := admin.New(admin.Config{Credentials: creds}, node, fakeP2P{}, fakeBlocks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.Close() })
	h, err := s3api.New(s3api.Config{Credentials: creds, Mounts: []s3api.Mount{adm.Mount()}}, node)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
