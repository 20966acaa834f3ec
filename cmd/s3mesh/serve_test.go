package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// lockedBuffer is a bytes.Buffer safe for one writer and polling readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var endpointRE = regexp.MustCompile(`S3 endpoint http://(\S+)`)

// startServe runs "serve" in the test process and returns its endpoint,
// its stdout, and a function that stops it and returns run's error.
func startServe(t *testing.T, dir string, getenv func(string) string) (string, *lockedBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "warn"}, getenv, stdout, stderr)
	}()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			done <- err
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not return within 60s of cancellation")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	for i := 0; i < 600; i++ {
		if m := endpointRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout, stop
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\n%s", err, stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no endpoint; stderr:\n%s", stderr)
	return "", nil, nil
}

func TestServeGeneratesCredentialsAndServes(t *testing.T) {
	dir := t.TempDir()
	ep, stdout, stop := startServe(t, dir, func(string) string { return "" })
	m := regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+)\s+export AWS_SECRET_ACCESS_KEY=(\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("generated credentials not printed:\n%s", stdout)
	}
	resp, err := http.Get("http://" + ep + "/health/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health/ready: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + ep + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("anonymous GET / = %d %s, want 403 AccessDenied", resp.StatusCode, body)
	}

	c, err := minio.New(ep, &minio.Options{Creds: credentials.NewStaticV4(m[1], m[2], "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A bucket named "metrics" stays reachable to signed requests.
	if err := c.MakeBucket(ctx, "metrics", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, "metrics", "k", strings.NewReader("hello"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// The optional store roles survive the wiring (metrics decorator
	// included): a server-side copy works.
	if _, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: "metrics", Object: "k2"}, minio.CopySrcOptions{Bucket: "metrics", Object: "k"}); err != nil {
		t.Fatalf("CopyObject through serve: %v", err)
	}
	if err := c.RemoveObject(ctx, "metrics", "k2", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for obj := range c.ListObjects(ctx, "metrics", minio.ListObjectsOptions{}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("signed list of bucket metrics returned %d objects, want 1", n)
	}
	resp, err = http.Get("http://" + ep + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `s3mesh_s3_requests_total{code="OK",op="PutObject"} 1`) {
		t.Errorf("/metrics lacks the PutObject count:\n%.3000s", body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after cancellation, want nil", err)
	}

	// The second start reuses the saved pair and the data.
	ep2, stdout2, _ := startServe(t, dir, func(string) string { return "" })
	if strings.Contains(stdout2.String(), "SECRET") {
		t.Errorf("second start printed the secret again:\n%s", stdout2)
	}
	c2, _ := minio.New(ep2, &minio.Options{Creds: credentials.NewStaticV4(m[1], m[2], "")})
	obj, err := c2.GetObject(ctx, "metrics", "k", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || string(got) != "hello" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
}

func TestServePortInUse(t *testing.T) {
	dir := t.TempDir()
	ep, _, _ := startServe(t, dir, func(string) string { return "" })
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", ep, "--p2p-listen", "/ip4/127.0.0.1/tcp/0"}, func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("second node on %s: %v; want an error that says the port is in use and names --listen", ep, err)
	}
}

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), nil, nil, &out, &out); err != errUsage {
		t.Errorf("no command: %v", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, nil, &out, &out); err != errUsage {
		t.Errorf("unknown command: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, nil, &out, &out); err != nil || !strings.HasPrefix(out.String(), "s3mesh ") {
		t.Errorf("version: %v %q", err, out.String())
	}
}
