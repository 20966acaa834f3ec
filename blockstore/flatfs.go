package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// flatDS is a datastore with one file per key, laid out as go-ds-flatfs
// does with the next-to-last/2 shard function ("<root>/<shard>/<KEY>.data"),
// so a directory it writes can be read by flatfs tools.
//
// Durability: a value is written to a temporary file under <root>/.temp,
// fsynced, and renamed into place, so a file under its final name is always
// complete. The directories that gained or lost entries are fsynced by Sync,
// which is what makes a rename itself durable. After a crash only temporary
// files can be partial; open removes them.
//
// Keys MUST be a single component of [A-Z0-9_-] (boxo's base32 multihash
// keys with the NoPrefix option).
type flatDS struct {
	root   string
	tmp    string
	fsync  bool
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	dirty map[string]struct{} // directories to fsync on Sync
}

const (
	flatShardFile  = "SHARDING"
	flatShardSpec  = "/repo/flatfs/shard/v1/next-to-last/2\n"
	flatDataSuffix = ".data"
	flatTempDir    = ".temp"
)

var errFlatInvalidKey = errors.New("flatfs: invalid key")

var _ ds.Batching = (*flatDS)(nil)

// openFlat opens or creates a flat directory at root. It removes temporary
// files a crash may have left.
func openFlat(root string, fsync bool) (*flatDS, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("flatfs open: %w", err)
	}
	spec, err := os.ReadFile(filepath.Join(root, flatShardFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ents, err := os.ReadDir(root)
		if err != nil {
			return nil, fmt.Errorf("flatfs open: %w", err)
		}
		if len(ents) > 0 {
			return nil, fmt.Errorf("flatfs open: %s is not empty and has no %s file (another backend?)", root, flatShardFile)
		}
		if err := writeFileSync(filepath.Join(root, flatShardFile), []byte(flatShardSpec)); err != nil {
			return nil, fmt.Errorf("flatfs open: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("flatfs open: %w", err)
	case string(spec) != flatShardSpec:
		return nil, fmt.Errorf("flatfs open: unsupported shard function %q", strings.TrimSpace(string(spec)))
	}
	tmp := filepath.Join(root, flatTempDir)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("flatfs open: remove temporary files: %w", err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("flatfs open: %w", err)
	}
	f := &flatDS{root: root, tmp: tmp, fsync: fsync, closed: make(chan struct{}), dirty: map[string]struct{}{}}
	if fsync {
		if err := syncDir(root); err != nil {
			return nil, fmt.Errorf("flatfs open: %w", err)
		}
	}
	return f, nil
}

func writeFileSync(name string, data []byte) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func flatKeyValid(k string) bool {
	if len(k) < 4 || k[0] != '/' {
		return false
	}
	for _, c := range k[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// encode returns the shard directory and file path of key.
func (f *flatDS) encode(key ds.Key) (dir, path string, err error) {
	k := key.String()
	if !flatKeyValid(k) {
		return "", "", fmt.Errorf("%w %q", errFlatInvalidKey, k)
	}
	name := k[1:]
	dir = filepath.Join(f.root, name[len(name)-3:len(name)-1])
	return dir, filepath.Join(dir, name+flatDataSuffix), nil
}

func (f *flatDS) isClosed() bool {
	select {
	case <-f.closed:
		return true
	default:
		return false
	}
}

func (f *flatDS) markDirty(dirs ...string) {
	f.mu.Lock()
	for _, d := range dirs {
		f.dirty[d] = struct{}{}
	}
	f.mu.Unlock()
}

// mkShard creates a shard directory, marking the root dirty when it did.
func (f *flatDS) mkShard(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		f.markDirty(f.root)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// writeTemp writes value to a new temporary file, fsynced when configured.
func (f *flatDS) writeTemp(value []byte) (string, error) {
	t, err := os.CreateTemp(f.tmp, "put-")
	if err != nil {
		return "", err
	}
	name := t.Name()
	_, err = t.Write(value)
	if err == nil && f.fsync {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// Put stores value under key; the file is complete once visible. The new
// directory entry is durable after the next Sync.
func (f *flatDS) Put(ctx context.Context, key ds.Key, value []byte) error {
	if f.isClosed() {
		return errors.New("flatfs put: closed")
	}
	dir, path, err := f.encode(key)
	if err != nil {
		return fmt.Errorf("flatfs put: %w", err)
	}
	if err := f.mkShard(dir); err != nil {
		return fmt.Errorf("flatfs put: %w", err)
	}
	tmp, err := f.writeTemp(value)
	if err != nil {
		return fmt.Errorf("flatfs put: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("flatfs put: %w", err)
	}
	f.markDirty(dir)
	return nil
}

// Get returns the value of key or ds.ErrNotFound.
func (f *flatDS) Get(ctx context.Context, key ds.Key) ([]byte, error) {
	_, path, err := f.encode(key)
	if err != nil {
		return nil, ds.ErrNotFound
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ds.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("flatfs get: %w", err)
	}
	return b, nil
}

// Has reports whether key is stored.
func (f *flatDS) Has(ctx context.Context, key ds.Key) (bool, error) {
	_, err := f.GetSize(ctx, key)
	if errors.Is(err, ds.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetSize returns the size of key's value or ds.ErrNotFound.
func (f *flatDS) GetSize(ctx context.Context, key ds.Key) (int, error) {
	_, path, err := f.encode(key)
	if err != nil {
		return -1, ds.ErrNotFound
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, ds.ErrNotFound
	}
	if err != nil {
		return -1, fmt.Errorf("flatfs stat: %w", err)
	}
	return int(fi.Size()), nil
}

// Delete removes key; deleting a missing key succeeds.
func (f *flatDS) Delete(ctx context.Context, key ds.Key) error {
	dir, path, err := f.encode(key)
	if err != nil {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("flatfs delete: %w", err)
	}
	f.markDirty(dir)
	return nil
}

// Sync fsyncs every directory changed since the last Sync, making earlier
// Puts and Deletes durable. The prefix is ignored: everything is synced.
func (f *flatDS) Sync(ctx context.Context, _ ds.Key) error {
	if !f.fsync {
		return nil
	}
	f.mu.Lock()
	dirs := f.dirty
	f.dirty = map[string]struct{}{}
	f.mu.Unlock()
	for d := range dirs {
		if err := ctx.Err(); err != nil {
			f.markDirty(d)
			return fmt.Errorf("flatfs sync: %w", err)
		}
		if err := syncDir(d); err != nil {
			f.markDirty(d)
			return fmt.Errorf("flatfs sync: %w", err)
		}
	}
	return nil
}

// Query walks the shard directories. Filters, orders, offset and limit are
// applied naively.
func (f *flatDS) Query(ctx context.Context, q query.Query) (query.Results, error) {
	qNoApply := q
	res := query.ResultsWithContext(qNoApply, func(qctx context.Context, out chan<- query.Result) {
		send := func(r query.Result) bool {
			select {
			case out <- r:
				return true
			case <-qctx.Done():
				return false
			case <-ctx.Done():
				return false
			}
		}
		shards, err := os.ReadDir(f.root)
		if err != nil {
			send(query.Result{Error: fmt.Errorf("flatfs query: %w", err)})
			return
		}
		for _, sh := range shards {
			if !sh.IsDir() || sh.Name() == flatTempDir {
				continue
			}
			files, err := os.ReadDir(filepath.Join(f.root, sh.Name()))
			if err != nil {
				send(query.Result{Error: fmt.Errorf("flatfs query: %w", err)})
				return
			}
			for _, fi := range files {
				name, ok := strings.CutSuffix(fi.Name(), flatDataSuffix)
				if !ok || !flatKeyValid("/"+name) {
					continue
				}
				e := query.Entry{Key: "/" + name, Size: -1}
				if !q.KeysOnly {
					v, err := f.Get(ctx, ds.RawKey(e.Key))
					if errors.Is(err, ds.ErrNotFound) {
						continue // deleted meanwhile
					}
					if err != nil {
						send(query.Result{Error: err})
						return
					}
					e.Value, e.Size = v, len(v)
				} else if q.ReturnsSizes {
					info, err := fi.Info()
					if err != nil {
						continue // deleted meanwhile
					}
					e.Size = int(info.Size())
				}
				if !send(query.Result{Entry: e}) {
					return
				}
			}
		}
	})
	return query.NaiveQueryApply(q, res), nil
}

// Batch returns a batch whose Commit writes and fsyncs every file before
// renaming any into place.
func (f *flatDS) Batch(ctx context.Context) (ds.Batch, error) {
	return &flatBatch{f: f, puts: map[ds.Key][]byte{}, dels: map[ds.Key]struct{}{}}, nil
}

// Close marks the store closed. Idempotent.
func (f *flatDS) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

type flatBatch struct {
	f    *flatDS
	puts map[ds.Key][]byte
	dels map[ds.Key]struct{}
}

func (b *flatBatch) Put(ctx context.Context, key ds.Key, value []byte) error {
	if !flatKeyValid(key.String()) {
		return fmt.Errorf("flatfs batch put: %w %q", errFlatInvalidKey, key)
	}
	delete(b.dels, key)
	b.puts[key] = value
	return nil
}

func (b *flatBatch) Delete(ctx context.Context, key ds.Key) error {
	delete(b.puts, key)
	b.dels[key] = struct{}{}
	return nil
}

func (b *flatBatch) Commit(ctx context.Context) error {
	f := b.f
	if f.isClosed() {
		return errors.New("flatfs batch commit: closed")
	}
	type pending struct{ tmp, dir, path string }
	ps := make([]pending, 0, len(b.puts))
	defer func() {
		for _, p := range ps {
			if p.tmp != "" {
				os.Remove(p.tmp)
			}
		}
	}()
	for k, v := range b.puts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flatfs batch commit: %w", err)
		}
		dir, path, err := f.encode(k)
		if err != nil {
			return fmt.Errorf("flatfs batch commit: %w", err)
		}
		if err := f.mkShard(dir); err != nil {
			return fmt.Errorf("flatfs batch commit: %w", err)
		}
		tmp, err := f.writeTemp(v)
		if err != nil {
			return fmt.Errorf("flatfs batch commit: %w", err)
		}
		ps = append(ps, pending{tmp: tmp, dir: dir, path: path})
	}
	for i := range ps {
		if err := os.Rename(ps[i].tmp, ps[i].path); err != nil {
			return fmt.Errorf("flatfs batch commit: %w", err)
		}
		ps[i].tmp = ""
		f.markDirty(ps[i].dir)
	}
	for k := range b.dels {
		if err := f.Delete(ctx, k); err != nil {
			return fmt.Errorf("flatfs batch commit: %w", err)
		}
	}
	return nil
}
