package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"s3mesh/blockstore"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

const (
	crashDirEnv     = "S3MESH_GATEWAY_CRASH_DIR"
	crashBackendEnv = "S3MESH_GATEWAY_CRASH_BACKEND"
)

// crashObject is the content the crash child writes for put number i: a
// few chunks, different each time, to keys that repeat so overwrites are
// exercised.
func crashObject(i int) (key string, data []byte) {
	return fmt.Sprintf("k%02d", i%10), randBytes(uint64(i), 3000+i*97%20000)
}

// TestCrashChild is the child process of TestNodeCrash: it PUTs objects
// and reports each acknowledged one on stdout until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestNodeCrash")
	}
	n, err := New(Config{DataDir: dir, ChunkSize: 1024, BlockstoreBackend: os.Getenv(crashBackendEnv)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.CreateBucket(ctx, s3api.CreateBucketInput{Bucket: "b"}); err != nil && !errors.Is(err, s3err.ErrBucketAlreadyOwnedByYou) {
		t.Fatal(err)
	}
	for i := 0; i < 1000000; i++ {
		key, data := crashObject(i)
		if _, err := n.PutObject(ctx, &s3api.PutObjectInput{Bucket: "b", Key: key, Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("acked %d\n", i)
	}
}

// TestNodeCrash SIGKILLs a process in the middle of PUTs and reopens its
// data directory: every acknowledged PUT is readable (the last one of each
// key, or a later one that was in flight), and every visible object reads
// back whole with the ETag of its record: no half object is ever visible.
func TestNodeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a writer process")
	}
	for _, backend := range []string{blockstore.BackendPebble, blockstore.BackendFlatfs} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashBackendEnv+"="+backend)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			last := -1
			for sc.Scan() && last < 60 {
				fmt.Sscanf(sc.Text(), "acked %d", &last)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if last < 60 {
				t.Fatalf("child acknowledged only %d puts; stderr:\n%s", last+1, stderr.String())
			}
			n := newTestNode(t, Config{DataDir: dir, ChunkSize: 1024, BlockstoreBackend: backend})
			ctx := context.Background()
			for k := range 10 {
				// The newest acknowledged put of this key, or one after it
				// that completed before the kill.
				newest := last - (last-k)%10
				key, _ := crashObject(newest)
				info, c, err := n.GetObject(ctx, "b", key)
				if err != nil {
					t.Fatalf("acknowledged %s lost: %v", key, err)
				}
				r, err := c.Open(ctx, 0, info.Size)
				if err != nil {
					t.Fatal(err)
				}
				h := md5.New()
				_, err = io.Copy(h, r)
				r.Close()
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				if got := hex.EncodeToString(h.Sum(nil)); got != info.ETag {
					t.Fatalf("%s reads back with MD5 %s, record says %s", key, got, info.ETag)
				}
				ok := false
				for i := newest; i <= newest+10; i += 10 {
					if _, data := crashObject(i); int64(len(data)) == info.Size && hex.EncodeToString(md5sum(data)) == info.ETag {
						ok = true
					}
				}
				if !ok {
					t.Fatalf("%s holds neither put %d (the last acknowledged) nor the one in flight", key, newest)
				}
			}
			t.Logf("killed after %d acknowledged puts; all 10 keys intact", last+1)
		})
	}
}

func md5sum(b []byte) []byte { s := md5.Sum(b); return s[:] }
