package s3api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"s3mesh/s3api"
	"s3mesh/s3api/s3mem"
)

// serveEdge serves e's handler with s3api.Server on a loopback listener
// until the test ends, and returns its address.
func serveEdge(t *testing.T, e *env, cfg s3api.ServerConfig, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	srv, err := s3api.NewServer(cfg, e.h)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr
}

// rawRequest returns the bytes of r, signed for addr, as sent on the wire.
func rawRequest(t *testing.T, e *env, addr string, r req) []byte {
	t.Helper()
	r.target = "http://" + addr + r.target
	hr := e.newRequest(r)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", hr.Method, hr.URL.RequestURI(), addr)
	if err := hr.Header.Write(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\r\n")
	b.Write(r.body)
	return b.Bytes()
}

// exchangeRaw sends the first n bytes of raw (all when n is 0), then
// half-closes when fin, and reads one response. The connection's deadline
// bounds the wait; it is not a timed assertion.
func exchangeRaw(t *testing.T, addr string, raw []byte, n int, fin bool) (*http.Response, []byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if n > 0 {
		raw = raw[:n]
	}
	go func() {
		_, _ = c.Write(raw)
		if fin {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// TestServerEdge drives the edge through real connections: every answer
// is an S3 XML error or a success that was carried out.
func TestServerEdge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *s3api.Config) { c.BodyIdleTimeout = 200 * time.Millisecond })
	addr := serveEdge(t, e, s3api.ServerConfig{ReadHeaderTimeout: 200 * time.Millisecond}, nil)
	e.mustDo(req{method: "PUT", target: "/edge"}, 200)
	data := bytes.Repeat([]byte("d"), 16384)
	put := func(key string) []byte {
		return rawRequest(t, e, addr, req{method: "PUT", target: "/edge/" + key, body: data})
	}
	head := func(raw []byte) int { return bytes.Index(raw, []byte("\r\n\r\n")) + 4 }
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("X-H%d: v\r\n", i)
	}
	tests := []struct {
		name   string
		raw    []byte
		n      int
		fin    bool
		status int
		code   string
		stored string // key that must hold data afterwards, "" none
		absent string // key that must not exist afterwards
	}{
		{"half-close after the whole body", put("hc"), 0, true, 200, "", "hc", ""},
		{"half-close mid-body", put("cut"), head(put("cut")) + 8192, true, 400, "IncompleteBody", "", "cut"},
		{"stall mid-body", put("stall"), head(put("stall")) + 1000, false, 400, "RequestTimeout", "", "stall"},
		{"stall in the headers", put("hstall"), 20, false, 400, "RequestTimeout", "", "hstall"},
		{"70 KiB of headers", []byte("GET /edge/x HTTP/1.1\r\nHost: " + addr + "\r\nX-Pad: " + strings.Repeat("p", 70<<10) + "\r\n\r\n"), 0, false, 400, "RequestHeaderSectionTooLarge", "", ""},
		{"5000 header fields", []byte("GET /edge/x HTTP/1.1\r\nHost: " + addr + "\r\n" + strings.Join(many, "") + "\r\n"), 0, false, 400, "RequestHeaderSectionTooLarge", "", ""},
		{"600 header fields", []byte("GET /edge/x HTTP/1.1\r\nHost: " + addr + "\r\n" + strings.Join(many[:600], "") + "\r\n"), 0, false, 400, "RequestHeaderSectionTooLarge", "", ""},
		{"unknown transfer coding", []byte("PUT /edge/x HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: gzip\r\n\r\n"), 0, false, 501, "NotImplemented", "", "x"},
		{"malformed header", []byte("GET /edge/x HTTP/1.1\r\nHost: " + addr + "\r\nNo colon\r\n\r\n"), 0, false, 400, "InvalidRequest", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := exchangeRaw(t, addr, tt.raw, tt.n, tt.fin)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != tt.status || errorCodeOf(body) != tt.code {
				t.Fatalf("status %d code %q, want %d %q: %s", resp.StatusCode, errorCodeOf(body), tt.status, tt.code, body)
			}
			if tt.code != "" && resp.Header.Get("Content-Type") != "application/xml" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if tt.stored != "" {
				rec := e.mustDo(req{method: "GET", target: "/edge/" + tt.stored}, 200)
				if !bytes.Equal(rec.Body.Bytes(), data) {
					t.Errorf("acknowledged %s holds %d bytes", tt.stored, rec.Body.Len())
				}
			}
			if tt.absent != "" {
				e.mustDo(req{method: "HEAD", target: "/edge/" + tt.absent}, 404)
			}
		})
	}
}

func errorCodeOf(body []byte) string {
	_, rest, ok := bytes.Cut(body, []byte("<Code>"))
	if !ok {
		return ""
	}
	code, _, _ := bytes.Cut(rest, []byte("</Code>"))
	return string(code)
}

// cancelStore fails PutObject as a handler failed before the fix: its
// context "cancelled".
type cancelStore struct{ s3api.ObjectStore }

func (cancelStore) PutObject(ctx context.Context, in *s3api.PutObjectInput) (*s3api.ObjectInfo, error) {
	_, _ = io.Copy(io.Discard, in.Body)
	return nil, fmt.Errorf("import dag: %w", context.Canceled)
}

// TestNoImplicitSuccess: a handler that fails is never answered 200 (the
// reported bug: a cancelled import answered 200 with no ETag).
func TestNoImplicitSuccess(t *testing.T) {
	t.Parallel()
	store := cancelStore{s3mem.New()}
	e := newEnvStore(t, store)
	addr := serveEdge(t, e, s3api.ServerConfig{}, nil)
	e.mustDo(req{method: "PUT", target: "/edge"}, 200)
	resp, body, err := exchangeRaw(t, addr, rawRequest(t, e, addr, req{method: "PUT", target: "/edge/k", body: []byte("x")}), 0, true)
	if err == nil && resp.StatusCode/100 == 2 {
		t.Fatalf("failed PutObject answered %d: %s", resp.StatusCode, body)
	}
}

// countingListener records the most connections open at once.
type countingListener struct {
	net.Listener
	mu        sync.Mutex
	open, max int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.max = max(l.max, l.open)
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// TestMaxConns: at the limit, further clients wait (in the backlog) and are
// served once a connection closes; never more are open.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var cl *countingListener
	addr := serveEdge(t, e, s3api.ServerConfig{MaxConns: 2}, func(ln net.Listener) net.Listener {
		cl = &countingListener{Listener: ln}
		return cl
	})
	e.mustDo(req{method: "PUT", target: "/edge"}, 200)
	var holders []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		holders = append(holders, c)
		// A whole request, answered: the connection is then held idle.
		raw := rawRequest(t, e, addr, req{method: "HEAD", target: "/edge"})
		if _, err := c.Write(raw); err != nil {
			t.Fatal(err)
		}
		if _, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "HEAD"}); err != nil {
			t.Fatal(err)
		}
	}
	answered := make(chan error, 1)
	third := rawRequest(t, e, addr, req{method: "GET", target: "/edge"})
	go func() {
		resp, _, err := exchangeRaw(t, addr, third, 0, false)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		answered <- err
	}()
	holders[0].Close()
	if err := <-answered; err != nil {
		t.Fatalf("third client: %v", err)
	}
	holders[1].Close()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.max > 2 {
		t.Fatalf("%d connections open at once, limit 2", cl.max)
	}
}

// blockStore blocks HeadBucket until release is closed.
type blockStore struct {
	s3api.ObjectStore
	started chan struct{}
	release chan struct{}
}

func (s blockStore) HeadBucket(ctx context.Context, b string) (*s3api.BucketInfo, error) {
	close(s.started)
	<-s.release
	return s.ObjectStore.HeadBucket(ctx, b)
}

// TestMaxRequests: one request more than MaxRequests is answered 503
// SlowDown at once.
func TestMaxRequests(t *testing.T) {
	t.Parallel()
	store := blockStore{ObjectStore: s3mem.New(), started: make(chan struct{}), release: make(chan struct{})}
	e := newEnvStore(t, store, func(c *s3api.Config) { c.MaxRequests = 1 })
	e.mustDo(req{method: "PUT", target: "/edge"}, 200)
	done := make(chan int, 1)
	go func() { done <- e.do(req{method: "HEAD", target: "/edge"}).Code }()
	<-store.started
	rec := e.mustDo(req{method: "GET", target: "/edge/k"}, 503)
	if got := errorCode(t, rec); got != "SlowDown" {
		t.Errorf("code %s, want SlowDown", got)
	}
	close(store.release)
	if code := <-done; code != 200 {
		t.Errorf("first request: %d", code)
	}
}

// FuzzEdgeConnRewrite feeds the edge connection what net/http might write
// itself: it never panics, and what reaches the client is either the bytes
// as written or one complete S3 XML error response.
func FuzzEdgeConnRewrite(f *testing.F) {
	f.Add([]byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"))
	f.Add([]byte("HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nDate: x\r\n\r\nbody"))
	f.Add([]byte("HTTP/1.1 "))
	f.Fuzz(func(t *testing.T, p []byte) {
		a, b := net.Pipe()
		defer a.Close()
		got := make(chan []byte, 1)
		go func() {
			all, _ := io.ReadAll(b)
			got <- all
		}()
		n, err := s3api.EdgeConnWrite(a, p)
		if err != nil || n != len(p) {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(p))
		}
		a.Close()
		out := <-got
		if bytes.Equal(out, p) {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("rewritten answer does not parse: %v\n%q", err, out)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || errorCodeOf(body) == "" || resp.Header.Get("Content-Type") != "application/xml" {
			t.Fatalf("rewritten answer is not an S3 error: %v %q", err, out)
		}
		if resp.StatusCode/100 != 4 && resp.StatusCode != http.StatusNotImplemented {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal("truncated")
		}
	})
}

// TestServerKeepsBodiesLikeNetHTTPErrors: an object whose content looks
// like one of net/http's own error answers reaches the client intact, on a
// kept-alive connection too.
func TestServerKeepsBodiesLikeNetHTTPErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr := serveEdge(t, e, s3api.ServerConfig{}, nil)
	e.mustDo(req{method: "PUT", target: "/edge"}, 200)
	data := []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
	e.mustDo(req{method: "PUT", target: "/edge/k", body: data}, 200)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i := range 3 {
		if _, err := c.Write(rawRequest(t, e, addr, req{method: "GET", target: "/edge/k"})); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("request %d: %d %v %q", i, resp.StatusCode, err, body)
		}
	}
}

// TestRequestTimeout: past Config.RequestTimeout, a request not yet
// answered is 400 RequestTimeout (not the 503 of an operation's own bound).
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, slowStore{s3mem.New()}, func(c *s3api.Config) { c.RequestTimeout = 10 * time.Millisecond })
	rec := e.mustDo(req{method: "HEAD", target: "/slowbucket"}, 400)
	if rec.Header().Get("Connection") != "close" {
		t.Errorf("Connection %q, want close", rec.Header().Get("Connection"))
	}
}
