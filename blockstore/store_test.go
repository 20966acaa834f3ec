package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bstore "github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var backends = []string{BackendPebble, BackendFlatfs}

func randBlock(r *rand.Rand, size int) blocks.Block {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(b)
	if err != nil {
		panic(err)
	}
	blk, err := blocks.NewBlockWithCid(b, c)
	if err != nil {
		panic(err)
	}
	return blk
}

func openT(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"no path", Config{}, false},
		{"default backend", Config{Path: "x"}, true},
		{"pebble", Config{Path: "x", Backend: BackendPebble}, true},
		{"flatfs", Config{Path: "x", Backend: BackendFlatfs}, true},
		{"unknown", Config{Path: "x", Backend: "leveldb"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestStore(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			reg := prometheus.NewRegistry()
			s := openT(t, Config{Path: dir, Backend: backend, Registerer: reg})
			bs := s.Blockstore()
			r := rand.New(rand.NewPCG(1, 2))
			var want []blocks.Block
			var total int64
			for i := range 20 {
				b := randBlock(r, 1+i*1000)
				want = append(want, b)
				total += int64(len(b.RawData()))
			}
			if err := bs.Put(ctx, want[0]); err != nil {
				t.Fatal(err)
			}
			// PutMany with a duplicate inside and one already stored.
			if err := bs.PutMany(ctx, append(cloneBlocks(want[:10]), want[3])); err != nil {
				t.Fatal(err)
			}
			if err := bs.PutMany(ctx, want[10:]); err != nil {
				t.Fatal(err)
			}
			if err := bs.Put(ctx, want[5]); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if got := s.Stats(); got != (Stats{Blocks: 20, Bytes: total}) {
				t.Fatalf("stats %+v, want 20 blocks, %d bytes", got, total)
			}
			for _, b := range want {
				got, err := bs.Get(ctx, b.Cid())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.RawData(), b.RawData()) {
					t.Fatalf("block %s differs", b.Cid())
				}
				if n, err := bs.GetSize(ctx, b.Cid()); err != nil || n != len(b.RawData()) {
					t.Fatalf("GetSize = %d, %v", n, err)
				}
			}
			missing := randBlock(r, 10)
			if _, err := bs.Get(ctx, missing.Cid()); !ipld.IsNotFound(err) {
				t.Fatalf("get missing: %v", err)
			}
			if has, err := bs.Has(ctx, missing.Cid()); has || err != nil {
				t.Fatalf("has missing: %v %v", has, err)
			}
			if err := bs.DeleteBlock(ctx, want[0].Cid()); err != nil {
				t.Fatal(err)
			}
			if err := bs.DeleteBlock(ctx, want[0].Cid()); err != nil {
				t.Fatalf("delete twice: %v", err)
			}
			total -= int64(len(want[0].RawData()))
			ch, err := bs.AllKeysChan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for range ch {
				n++
			}
			if n != 19 {
				t.Fatalf("AllKeysChan: %d keys, want 19", n)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP s3mesh_blockstore_blocks Number of blocks in the local block store.
# TYPE s3mesh_blockstore_blocks gauge
s3mesh_blockstore_blocks 19
# HELP s3mesh_blockstore_bytes Total size in bytes of the blocks in the local block store (block data, not disk usage).
# TYPE s3mesh_blockstore_bytes gauge
s3mesh_blockstore_bytes %d
`, total)), "s3mesh_blockstore_blocks", "s3mesh_blockstore_bytes"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(ctx); !errors.Is(err, ErrClosed) {
				t.Fatalf("sync after close: %v", err)
			}
			// Reopen: the accounting is rebuilt from what is stored.
			s2 := openT(t, Config{Path: dir, Backend: backend, Registerer: reg})
			if got := s2.Stats(); got != (Stats{Blocks: 19, Bytes: total}) {
				t.Fatalf("stats after reopen %+v, want 19 blocks, %d bytes", got, total)
			}
			for _, b := range want[1:] {
				if has, err := s2.Blockstore().Has(ctx, b.Cid()); !has || err != nil {
					t.Fatalf("block %s lost on reopen: %v", b.Cid(), err)
				}
			}
		})
	}
}

func cloneBlocks(b []blocks.Block) []blocks.Block { return append([]blocks.Block(nil), b...) }

func TestConcurrentPutsCountOnce(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := openT(t, Config{Path: t.TempDir(), Backend: backend, NoSync: true})
			r := rand.New(rand.NewPCG(3, 4))
			var bs []blocks.Block
			for range 32 {
				bs = append(bs, randBlock(r, 100))
			}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					if i%2 == 0 {
						if err := s.Blockstore().PutMany(context.Background(), bs); err != nil {
							t.Error(err)
						}
						return
					}
					for _, b := range bs {
						if err := s.Blockstore().Put(context.Background(), b); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			if got := s.Stats(); got != (Stats{Blocks: 32, Bytes: 3200}) {
				t.Fatalf("stats %+v, want 32 blocks of 100 bytes", got)
			}
		})
	}
}

func TestHashOnRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, Config{Path: dir, Backend: BackendFlatfs, HashOnRead: true})
	b := randBlock(rand.New(rand.NewPCG(5, 6)), 1000)
	if err := s.Blockstore().Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Corrupt the file behind the store's back.
	var path string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.HasSuffix(p, flatDataSuffix) {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Fatal("block file not found")
	}
	if err := os.WriteFile(path, []byte("corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blockstore().Get(ctx, b.Cid()); !errors.Is(err, bstore.ErrHashMismatch) {
		t.Fatalf("get corrupt block: %v, want ErrHashMismatch", err)
	}
}

func TestBackendMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openT(t, Config{Path: dir, Backend: BackendPebble})
	s.Close()
	if _, err := Open(Config{Path: dir, Backend: BackendFlatfs}); err == nil {
		t.Fatal("opened a pebble directory as flatfs")
	}
	dir2 := t.TempDir()
	s2 := openT(t, Config{Path: dir2, Backend: BackendFlatfs})
	s2.Close()
	if _, err := Open(Config{Path: dir2, Backend: BackendPebble}); err == nil {
		t.Fatal("opened a flatfs directory as pebble")
	}
}

func TestFlatfsRemovesTempFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openT(t, Config{Path: dir, Backend: BackendFlatfs})
	s.Close()
	// What a crash during a write leaves: a partial temporary file.
	if err := os.WriteFile(filepath.Join(dir, flatTempDir, "put-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openT(t, Config{Path: dir, Backend: BackendFlatfs})
	ents, err := os.ReadDir(filepath.Join(dir, flatTempDir))
	if err != nil || len(ents) != 0 {
		t.Fatalf("temp dir after open: %v, %v", ents, err)
	}
	if st := s.Stats(); st.Blocks != 0 {
		t.Fatalf("temp file counted as a block: %+v", st)
	}
}

func TestDisk(t *testing.T) {
	free, total, err := Disk(t.TempDir())
	if err != nil || total == 0 || free > total {
		t.Fatalf("Disk = %d free of %d, %v", free, total, err)
	}
	if _, _, err := Disk("/nonexistent/s3mesh"); err == nil {
		t.Fatal("Disk of a missing directory: no error")
	}
}
