package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The Kubo interop tests run against the reference IPFS implementation,
// Kubo v0.43.1, built by integration/kubo/build.sh; integration/run.sh
// passes its path in S3MESH_KUBO.

// kuboNode is a Kubo daemon configured for a closed LAN: no bootstrap, no
// routing, loopback only.
type kuboNode struct {
	bin, repo string
	cmd       *exec.Cmd
	done      chan error
}

func (k *kuboNode) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repo, "IPFS_TELEMETRY=off", "DO_NOT_TRACK=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func startKubo(t *testing.T) *kuboNode {
	t.Helper()
	bin := os.Getenv("S3MESH_KUBO")
	if bin == "" {
		t.Skip("Kubo interop: set S3MESH_KUBO to a Kubo v0.43.1 binary (integration/kubo/build.sh prints one)")
	}
	k := &kuboNode{bin: bin, repo: filepath.Join(t.TempDir(), "kubo"), done: make(chan error, 1)}
	k.run(t, "init", "--profile=test")
	for _, kv := range [][2]string{
		{"Bootstrap", `[]`},
		{"Routing.Type", `"none"`},
		{"Addresses.Swarm", `["/ip4/127.0.0.1/tcp/0"]`},
		{"Addresses.API", `["/ip4/127.0.0.1/tcp/0"]`},
		{"Addresses.Gateway", `["/ip4/127.0.0.1/tcp/0"]`},
		{"Discovery.MDNS.Enabled", `false`},
		{"AutoConf.Enabled", `false`},
		{"AutoTLS.Enabled", `false`},
		{"Swarm.DisableNatPortMap", `true`},
		{"Swarm.RelayClient.Enabled", `false`},
		{"Swarm.RelayService.Enabled", `false`},
		{"HTTPRetrieval.Enabled", `false`},
		{"Provide.Enabled", `false`},
	} {
		k.run(t, "config", "--json", kv[0], kv[1])
	}
	k.cmd = exec.Command(bin, "daemon", "--offline=false")
	k.cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repo, "IPFS_TELEMETRY=off", "DO_NOT_TRACK=1")
	var log bytes.Buffer
	k.cmd.Stdout, k.cmd.Stderr = &syncWriter{w: &log}, &syncWriter{w: &log}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.done <- k.cmd.Wait() }()
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(30 * time.Second):
			k.cmd.Process.Kill()
			<-k.done
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(k.repo, "api")); err == nil {
			cmd := exec.Command(bin, "id")
			cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repo)
			if cmd.Run() == nil {
				return k
			}
		}
		select {
		case err := <-k.done:
			t.Fatalf("kubo daemon exited: %v", err)
		default:
		}
		if i > 1200 {
			t.Fatal("kubo daemon not ready within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKuboInterop: an object PUT to s3mesh is read byte-for-byte with
// "ipfs cat" on Kubo, and files added to Kubo (CIDv1 raw leaves, and the
// default CIDv0 with dag-pb leaves) become s3mesh objects by CID and read
// back identical.
func TestKuboInterop(t *testing.T) {
	needIntegration(t)
	k := startKubo(t)
	ctx := context.Background()
	s := startNode(t, t.TempDir(), "--fetch-timeout", "20s")
	c := s.client(t)
	if err := c.MakeBucket(ctx, "interop", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	k.run(t, "swarm", "connect", s.peerAddr(t))

	data := make([]byte, 5<<20+321)
	rand.Read(data)
	if _, err := c.PutObject(ctx, "interop", "from-s3mesh.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	cid := headCID(t, s, "interop", "from-s3mesh.bin")
	if got := k.run(t, "cat", "--timeout", "60s", cid); got != string(data) {
		t.Fatalf("ipfs cat %s: %d bytes, differ from the %d PUT to s3mesh", cid, len(got), len(data))
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"cidv1-raw-leaves", []string{"--cid-version=1", "--raw-leaves"}},
		{"kubo-defaults", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "f")
			content := make([]byte, 3<<20+77)
			rand.Read(content)
			if err := os.WriteFile(file, content, 0o600); err != nil {
				t.Fatal(err)
			}
			kcid := strings.TrimSpace(k.run(t, append(append([]string{"add", "-Q"}, tc.args...), file)...))
			if status, body := putByCID(t, s, "interop", tc.name, kcid); status != 200 {
				t.Fatalf("PUT by Kubo's CID %s: %d %s", kcid, status, body)
			}
			obj, err := c.GetObject(ctx, "interop", tc.name, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := got.ReadFrom(obj); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), content) {
				t.Fatalf("s3mesh object from Kubo CID %s: %d bytes, differ from the %d added", kcid, got.Len(), len(content))
			}
		})
	}
}
