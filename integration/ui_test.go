package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The status page in a real browser: headless Chromium (Debian's
// "chromium" package; integration/install.sh installs it) against two
// nodes run as processes. The DOM and a screenshot are kept in the
// artifact directory: $S3MESH_ARTIFACTS, else integration/artifacts/.

// chromiumTimeout bounds one Chromium run.
const chromiumTimeout = 2 * time.Minute

// chromium returns the path of the browser, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("S3MESH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium, or bash integration/install.sh)")
	return ""
}

// artifactDir returns the directory test artifacts are kept in.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("S3MESH_ARTIFACTS")
	if dir == "" {
		dir = "artifacts" // the test runs in integration/
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runChromium runs headless Chromium on url with a fresh profile, giving
// the page's scripts 8 s of virtual time, and returns its stdout.
func runChromium(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=8000",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

var procPeerIDRE = regexp.MustCompile(`Peer ID (\S+);`)

// peerID returns the peer ID a node printed.
func (p *proc) peerID(t *testing.T) string {
	t.Helper()
	m := procPeerIDRE.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("node printed no peer ID:\n%s", p.stdout)
	}
	return m[1]
}

// cli runs an s3mesh admin verb with the nodes' root credentials.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(s3meshBinary(t), args...)
	cmd.Env = append(os.Environ(), "S3MESH_ACCESS_KEY="+procAccessKey, "S3MESH_SECRET_KEY="+procSecretKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("s3mesh %v: %v\n%s", args, err, stderr.Bytes())
	}
	return string(out)
}

// TestProcessUIInChromium opens a node's status page in headless Chromium
// through the link "s3mesh ui" prints, and checks the page shows the other
// office and a bucket; the screenshot is kept as an artifact.
func TestProcessUIInChromium(t *testing.T) {
	needIntegration(t)
	browser := chromium(t)
	ctx := context.Background()

	a := startNode(t, t.TempDir())
	b := startNode(t, t.TempDir(), "--peer", a.peerAddr(t))
	aID, bID := a.peerID(t), b.peerID(t)

	const bucket = "status-page-photos"
	ca := a.client(t)
	if err := ca.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const big = 3 << 20
	if _, err := ca.PutObject(ctx, bucket, "site/plan.bin", &patternReader{seed: 3, n: big}, big, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.PutObject(ctx, bucket, "notes.txt", strings.NewReader("status page"), 11, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// B reads the large object, its blocks fetched from A: traffic to graph.
	eventually(t, "B reads A's object", func() error {
		obj, err := b.client(t).GetObject(ctx, bucket, "site/plan.bin", minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		n, err := io.Copy(io.Discard, obj)
		if err == nil && n != big {
			err = fmt.Errorf("read %d bytes, want %d", n, big)
		}
		return err
	})
	eventually(t, "A lists B as connected", func() error {
		var pr struct {
			Peers []struct {
				ID        string `json:"id"`
				Connected bool   `json:"connected"`
			} `json:"peers"`
		}
		if err := json.Unmarshal([]byte(cli(t, "peers", "--json", "--endpoint", "http://"+a.endpoint)), &pr); err != nil {
			return err
		}
		for _, p := range pr.Peers {
			if p.ID == bID && p.Connected {
				return nil
			}
		}
		return fmt.Errorf("peers of A: %+v", pr.Peers)
	})

	link := strings.TrimSpace(cli(t, "ui", "--endpoint", "http://"+a.endpoint))
	if !strings.HasPrefix(link, "http://"+a.endpoint+"/ui/login?") {
		t.Fatalf("s3mesh ui printed %q, want a link to the node's /ui/login", link)
	}

	// Give the graphs a few points (one every 10 s) so the screenshot
	// shows lines; the assertions below do not depend on it.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/ui/" {
		t.Fatalf("the link ended at %s with %s", resp.Request.URL, resp.Status)
	}
	for range 40 {
		var h struct {
			Times []int64 `json:"times"`
		}
		resp, err := hc.Get("http://" + a.endpoint + "/admin/v1/history")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("history with the session cookie: %s, %v", resp.Status, err)
		}
		if len(h.Times) >= 3 {
			break
		}
		time.Sleep(time.Second)
	}

	dir := artifactDir(t)
	dom := runChromium(t, browser, link, "--dump-dom")
	if err := os.WriteFile(filepath.Join(dir, "ui-status-page.html"), dom, 0o644); err != nil {
		t.Fatal(err)
	}
	for what, want := range map[string]string{
		"B in the peers table":   `data-peer="` + bID + `"`,
		"the bucket":             `data-bucket="` + bucket + `"`,
		"A's own ID":             `<dd class="mono" id="node-id">` + aID + `</dd>`,
		"B's RTT graph":          "Round-trip time",
		"the bucket's 2 objects": `<td class="num">2</td>`,
	} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("the page lacks %s (%q); DOM kept in %s", what, want, filepath.Join(dir, "ui-status-page.html"))
		}
	}
	if strings.Contains(string(dom), `id="banner">`) && !strings.Contains(string(dom), `id="banner" hidden`) {
		t.Errorf("the page shows an error banner; DOM kept in %s", filepath.Join(dir, "ui-status-page.html"))
	}

	shot := filepath.Join(dir, "ui-status-page.png")
	os.Remove(shot)
	runChromium(t, browser, link, "--screenshot="+shot, "--window-size=1280,1600")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	bounds := img.Bounds()
	colours := map[uint32]bool{}
	for y := bounds.Min.Y; y < bounds.Max.Y && len(colours) < 64; y += 7 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if bounds.Dx() < 1000 || bounds.Dy() < 1000 || len(colours) < 16 {
		t.Errorf("screenshot %s is %v with %d colours: not the page", shot, bounds, len(colours))
	}
	t.Logf("status page screenshot: %s", shot)
}
