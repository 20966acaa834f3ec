package blockstore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	blocks "github.com/ipfs/go-block-format"
)

const (
	crashDirEnv     = "S3MESH_BLOCKSTORE_CRASH_DIR"
	crashBackendEnv = "S3MESH_BLOCKSTORE_CRASH_BACKEND"
	crashBatch      = 4
)

// crashBlock is the i-th block the crash child writes: sizes vary up to
// 256 KiB so writes straddle buffer and file boundaries.
func crashBlock(i int) blocks.Block {
	r := rand.New(rand.NewPCG(uint64(i), 99))
	return randBlock(r, 1+r.IntN(256<<10))
}

// TestCrashChild is the child process of TestCrash: it writes batches of
// blocks, syncs after each, and reports on stdout how many are durable,
// until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	s, err := Open(Config{Path: dir, Backend: os.Getenv(crashBackendEnv)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 100000; i += crashBatch {
		var bs []blocks.Block
		for j := range crashBatch {
			bs = append(bs, crashBlock(i+j))
		}
		if i%(2*crashBatch) == 0 {
			err = s.Blockstore().PutMany(ctx, bs)
		} else {
			for _, b := range bs {
				if err = s.Blockstore().Put(ctx, b); err != nil {
					break
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("durable %d\n", i+crashBatch)
	}
}

// TestCrash kills a writing process with SIGKILL at an arbitrary point and
// checks, after reopening, that every block reported durable is present
// and intact and that no stored block is partial. (A process kill keeps
// the page cache; fsync's protection against power loss is not exercised.)
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a writer process")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			for round := range 3 {
				killAfter := 5 + round*7 // durable reports before the kill
				durable := runAndKill(t, dir, backend, killAfter)
				s, err := Open(Config{Path: dir, Backend: backend, HashOnRead: true})
				if err != nil {
					t.Fatalf("round %d: reopen after kill: %v", round, err)
				}
				ctx := context.Background()
				for i := range durable {
					want := crashBlock(i)
					got, err := s.Blockstore().Get(ctx, want.Cid())
					if err != nil {
						t.Fatalf("round %d: block %d of %d durable: %v", round, i, durable, err)
					}
					if len(got.RawData()) != len(want.RawData()) {
						t.Fatalf("round %d: block %d has %d bytes, want %d", round, i, len(got.RawData()), len(want.RawData()))
					}
				}
				// Whatever else is stored is whole: HashOnRead verifies it.
				ch, err := s.Blockstore().AllKeysChan(ctx)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for c := range ch {
					if _, err := s.Blockstore().Get(ctx, c); err != nil {
						t.Fatalf("round %d: stored block %s: %v", round, c, err)
					}
					n++
				}
				if st := s.Stats(); st.Blocks != int64(n) || n < durable {
					t.Fatalf("round %d: %d blocks listed, stats %+v, %d durable", round, n, st, durable)
				}
				t.Logf("round %d: killed after %d durable blocks; %d blocks on reopen", round, durable, n)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// runAndKill starts the crash child on dir, kills it once it has reported
// at least reports durable batches, and returns the last durable count it
// reported.
func runAndKill(t *testing.T, dir, backend string, reports int) int {
	t.Helper()
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
	durable, seen := 0, 0
	for sc.Scan() && seen < reports {
		if v, ok := strings.CutPrefix(sc.Text(), "durable "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			durable = n
			seen++
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if seen < reports {
		t.Fatalf("child stopped after %d reports; stderr:\n%s", seen, stderr.String())
	}
	return durable
}
