package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"s3mesh/gateway"
	"strings"
	"sync"
	"testing"

	"s3mesh/s3api"
)

func testBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// readStreamLine reads one NDJSON line of a maintenance answer and checks
// that exactly one of its fields is set.
// streamAnswer is a StreamLine as a client decodes it.
type streamAnswer struct {
	Progress json.RawMessage `json:"progress"`
	Result   json.RawMessage `json:"result"`
	Error    *ErrorResponse  `json:"error"`
}

func readStreamLine(t *testing.T, r *bufio.Reader) streamAnswer {
	t.Helper()
	b, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the stream: %v (got %q)", err, b)
	}
	var l streamAnswer
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("stream line %q: %v", b, err)
	}
	set := 0
	for _, ok := range []bool{l.Progress != nil, l.Result != nil, l.Error != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		t.Fatalf("stream line %q sets %d fields, want 1", b, set)
	}
	return l
}

// heldGC is a node whose GC, once it reports its mark, waits for release
// (or its context) before it goes on: a GC that is surely running.
type heldGC struct {
	*gateway.Node
	release chan struct{}
}

func (h *heldGC) GC(ctx context.Context, progress func(gateway.GCProgress)) (gateway.GCResult, error) {
	var once sync.Once
	return h.Node.GC(ctx, func(p gateway.GCProgress) {
		progress(p)
		if p.Phase == gateway.GCPhaseMark {
			once.Do(func() {
				select {
				case <-h.release:
				case <-ctx.Done():
				}
			})
		}
	})
}

// TestGCAndFsckEndpoints exercises POST /admin/v1/gc and /admin/v1/fsck
// on a node: NDJSON progress then result, one operation at a time (409
// while a GC runs), the methods and arguments.
func TestGCAndFsckEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node := newTestNode(t, 0)
	held := &heldGC{Node: node, release: make(chan struct{})}
	srv := bare(t, &api{maint: held})
	if err := node.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{testBytes(1, 1000), testBytes(2, 1000)} { // the second overwrites the first
		if _, err := node.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(body), Size: 1000}); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", GCPath, 405, "MethodNotAllowed"},
		{"GET", FsckPath, 405, "MethodNotAllowed"},
		{"POST", FsckPath + "?repair=maybe", 400, "InvalidArgument"},
	} {
		resp, body := call(t, tt.method, srv.url+tt.path)
		if resp.StatusCode != tt.status || adminErrorCode(t, resp, body) != tt.code {
			t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.code)
		}
	}

	// A PUT in flight: its body is being read; GC goes on beside it.
	pr, pw := io.Pipe()
	putDone := make(chan error, 1)
	go func() {
		_, err := node.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: "slow", Body: pr, Size: 3})
		putDone <- err
	}()
	if _, err := pw.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}

	resp, err := http.DefaultClient.Do(signedPost(t, srv.url+GCPath))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("POST gc: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewReader(resp.Body)
	var p GCProgress
	if l := readStreamLine(t, lines); l.Progress == nil || json.Unmarshal(l.Progress, &p) != nil || p.Phase != "mark" {
		t.Fatalf("first line of gc: %+v, want progress in phase mark", l)
	}

	// While it runs, another GC or an fsck is refused.
	for _, path := range []string{FsckPath, GCPath} {
		r2, body := call(t, "POST", srv.url+path)
		if r2.StatusCode != http.StatusConflict || adminErrorCode(t, r2, body) != "ConditionalRequestConflict" || !strings.Contains(string(body), "already running") {
			t.Errorf("POST %s during a GC = %d %s, want 409 ConditionalRequestConflict", path, r2.StatusCode, body)
		}
	}

	close(held.release)
	pw.Write([]byte("bc"))
	pw.Close()
	if err := <-putDone; err != nil {
		t.Fatal(err)
	}
	var res GCResult
	for range 10000 {
		l := readStreamLine(t, lines)
		if l.Error != nil {
			t.Fatalf("gc failed: %+v", l.Error)
		}
		if l.Result != nil {
			if err := json.Unmarshal(l.Result, &res); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if res.RemovedBlocks != 1 || res.FreedBytes != 1000 || res.LiveBlocks+res.RemovedBlocks != res.ScannedBlocks {
		t.Errorf("gc result %+v; want the overwritten version's block removed", res)
	}
	if _, err := lines.ReadByte(); err != io.EOF {
		t.Errorf("the gc answer goes on after its result: %v", err)
	}

	resp, err = http.DefaultClient.Do(signedPost(t, srv.url+FsckPath+"?repair=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines = bufio.NewReader(resp.Body)
	var rep FsckResult
	for range 10000 {
		l := readStreamLine(t, lines)
		if l.Error != nil {
			t.Fatalf("fsck failed: %+v", l.Error)
		}
		if l.Result != nil {
			if err := json.Unmarshal(l.Result, &rep); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if rep.Objects != 2 || rep.Unrepaired != 0 || len(rep.Problems) != 0 || rep.Blocks < 2 {
		t.Errorf("fsck result %+v; want 2 sound objects", rep)
	}

	// A node without maintenance answers NotImplemented.
	none := bare(t, &api{})
	r3, body := call(t, "POST", none.url+GCPath)
	if r3.StatusCode != 501 || adminErrorCode(t, r3, body) != "NotImplemented" {
		t.Errorf("gc without a node: %d %s", r3.StatusCode, body)
	}
}

// signedPost returns a POST of url without a body, signed with the test
// credentials.
func signedPost(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, req, testAccess, testSecret)
	return req
}
