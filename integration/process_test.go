package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The real-process tier: build cmd/s3mesh once and run it as operators do.
// It runs in the integration suite (integration/run.sh sets
// S3MESH_INTEGRATION=1), not in a plain "go test ./...".

func needIntegration(t *testing.T) {
	t.Helper()
	if testing.Short() || os.Getenv("S3MESH_INTEGRATION") == "" {
		t.Skip("real-process test: run integration/run.sh, or set S3MESH_INTEGRATION=1")
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// s3meshBinary builds cmd/s3mesh once per test run and returns its path.
func s3meshBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "s3mesh-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "s3mesh")
		out, err := exec.Command("go", "build", "-o", binPath, "s3mesh/cmd/s3mesh").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running s3mesh serve process.
type proc struct {
	cmd      *exec.Cmd
	endpoint string // host:port
	stdout   *syncWriter
	stderr   *bytes.Buffer
	done     chan error
}

const (
	procAccessKey = "PROCTESTACCESSKEY001"
	procSecretKey = "proc-test-secret-key-0123456789abcdefghij"
)

var endpointRE = regexp.MustCompile(`S3 endpoint http://(\S+)`)

// launch starts cmd, an "s3mesh serve", collecting its output in a new
// proc; found receives the S3 endpoint the node prints, and p.done its
// exit.
func launch(t *testing.T, cmd *exec.Cmd) (p *proc, found <-chan string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p = &proc{cmd: cmd, stdout: &syncWriter{w: &bytes.Buffer{}}, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &syncWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	endpoint := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(p.stdout, sc.Text())
			if m := endpointRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case endpoint <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	return p, endpoint
}

// startNode runs "s3mesh serve" on a free loopback port over dataDir and
// waits until /health/ready answers 200.
func startNode(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
	cmd := exec.Command(s3meshBinary(t), args...)
	cmd.Env = append(os.Environ(), "S3MESH_ACCESS_KEY="+procAccessKey, "S3MESH_SECRET_KEY="+procSecretKey)
	p, found := launch(t, cmd)
	t.Cleanup(func() { p.kill() })
	select {
	case p.endpoint = <-found:
	case err := <-p.done:
		t.Fatalf("s3mesh exited before serving: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("s3mesh printed no endpoint in 60s\n%s", p.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.endpoint + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health/ready not 200 within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var peerRE = regexp.MustCompile(`--peer (/ip4/127\.0\.0\.1/tcp/\S+)`)

// peerAddr returns the node's loopback TCP multiaddr, as it printed it for
// other offices.
func (p *proc) peerAddr(t *testing.T) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		if m := peerRE.FindStringSubmatch(p.stdout.String()); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node printed no loopback --peer address:\n%s", p.stdout)
	return ""
}

// kill stops the process with SIGKILL if it still runs.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p.done <- nil
	}
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (p *proc) stop(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("s3mesh did not exit within 60s of SIGTERM\n%s", p.stderr)
		return nil
	}
}

func (p *proc) client(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(p.endpoint, &minio.Options{Creds: credentials.NewStaticV4(procAccessKey, procSecretKey, ""), Secure: false, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// patternReader yields n deterministic bytes derived from seed.
type patternReader struct {
	seed byte
	n, i int64
}

func (r *patternReader) Read(b []byte) (int, error) {
	if r.i >= r.n {
		return 0, io.EOF
	}
	if int64(len(b)) > r.n-r.i {
		b = b[:r.n-r.i]
	}
	for k := range b {
		x := uint64(r.i+int64(k)) * 0x9E3779B97F4A7C15
		b[k] = byte(x>>56) ^ r.seed
	}
	r.i += int64(len(b))
	return len(b), nil
}

func patternMD5(seed byte, n int64) string {
	h := md5.New()
	io.Copy(h, &patternReader{seed: seed, n: n})
	return hex.EncodeToString(h.Sum(nil))
}

func TestProcessServeRestartSIGTERM(t *testing.T) {
	needIntegration(t)
	ctx := context.Background()
	dir := t.TempDir()
	p := startNode(t, dir)
	c := p.client(t)
	if err := c.MakeBucket(ctx, "restart", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const size = 5<<20 + 123
	if _, err := c.PutObject(ctx, "restart", "dir/obj", &patternReader{seed: 7, n: size}, size, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + p.endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "s3mesh_s3_requests_total") || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("/metrics lacks s3mesh or Go runtime metrics:\n%.2000s", body)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v (want 0)\n%s", err, p.stderr)
	}

	p2 := startNode(t, dir)
	c2 := p2.client(t)
	obj, err := c2.GetObject(ctx, "restart", "dir/obj", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != patternMD5(7, size) {
		t.Fatalf("after restart got %d bytes md5 %x, want %d bytes md5 %s", n, h.Sum(nil), size, patternMD5(7, size))
	}
	if err := p2.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestProcessCrashDuringPut kills the node (SIGKILL) while PUTs of a new
// version stream in, restarts it, and checks every key holds either the
// acknowledged version or nothing: never a partial object.
func TestProcessCrashDuringPut(t *testing.T) {
	needIntegration(t)
	ctx := context.Background()
	dir := t.TempDir()
	p := startNode(t, dir)
	c := p.client(t)
	if err := c.MakeBucket(ctx, "crash", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	acked := map[string]byte{}
	for i := 0; i < 4; i++ {
		key := fmt.Sprintf("k%d", i)
		if _, err := c.PutObject(ctx, "crash", key, &patternReader{seed: 1, n: size}, size, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		acked[key] = 1
	}
	// Overwrite every key with a slow body; kill the process mid-stream.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(key string) {
			defer wg.Done()
			r := &slowReader{r: &patternReader{seed: 2, n: size}, after: int64(size / 2), pause: 10 * time.Second}
			c.PutObject(ctx, "crash", key, r, size, minio.PutObjectOptions{})
		}(fmt.Sprintf("k%d", i))
	}
	time.Sleep(1500 * time.Millisecond)
	p.kill()
	wg.Wait()

	p2 := startNode(t, dir)
	c2 := p2.client(t)
	for key, seed := range acked {
		obj, err := c2.GetObject(ctx, "crash", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := md5.New()
		n, err := io.Copy(h, obj)
		if err != nil {
			t.Fatalf("%s: read after crash: %v", key, err)
		}
		got := hex.EncodeToString(h.Sum(nil))
		if n != size || got != patternMD5(seed, size) {
			t.Errorf("%s after crash: %d bytes md5 %s; want the acknowledged version (%s)", key, n, got, patternMD5(seed, size))
		}
	}
	// The node still takes writes after the crash.
	if _, err := c2.PutObject(ctx, "crash", "after", bytes.NewReader([]byte("ok")), 2, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// slowReader passes bytes through and pauses once after a given offset.
type slowReader struct {
	r      io.Reader
	after  int64
	pause  time.Duration
	n      int64
	paused bool
}

func (s *slowReader) Read(b []byte) (int, error) {
	if !s.paused && s.n >= s.after {
		s.paused = true
		time.Sleep(s.pause)
		return 0, errors.New("client gave up")
	}
	if rem := s.after - s.n; !s.paused && int64(len(b)) > rem {
		b = b[:rem]
	}
	n, err := s.r.Read(b)
	s.n += int64(n)
	return n, err
}
