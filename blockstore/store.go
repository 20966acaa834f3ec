package blockstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	bstore "github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is returned by Sync after Close.
var ErrClosed = errors.New("blockstore: closed")

// Store is an open block store. Its methods are safe for concurrent use.
type Store struct {
	cfg   Config
	ds    ds.Batching
	inner bstore.Blockstore // boxo's blockstore over ds, write-through
	acct  *accounting
	outer bstore.Blockstore // what Blockstore returns
	sync  func(ctx context.Context) error
	colls []prometheus.Collector

	closeMu sync.RWMutex
	closed  bool
}

// Open opens (creating if needed) the block store in cfg.Path. On open it
// counts the stored blocks to initialise the size gauges, a scan of the
// keys proportional to the number of blocks.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{cfg: cfg}
	switch cfg.Backend {
	case BackendPebble:
		if _, err := os.Stat(filepath.Join(cfg.Path, flatShardFile)); err == nil {
			return nil, fmt.Errorf("open blockstore %s: directory holds a flatfs store, not %s", cfg.Path, cfg.Backend)
		}
		db, err := pebble.Open(cfg.Path, &pebble.Options{
			MemTableSize: DefaultPebbleMemTableSize,
			Logger:       pebbleLogger{cfg.Logger},
		})
		if err != nil {
			return nil, fmt.Errorf("open blockstore %s: %w", cfg.Path, err)
		}
		pds, err := pebbleds.NewDatastore(cfg.Path, pebbleds.WithPebbleDB(db), pebbleds.WithPebbleWriteOptions(pebble.NoSync))
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open blockstore %s: %w", cfg.Path, err)
		}
		s.ds = pds
		s.sync = func(ctx context.Context) error {
			if cfg.NoSync {
				return nil
			}
			// A synced empty log record fsyncs the WAL, and with it every
			// write that precedes it.
			return db.LogData(nil, pebble.Sync)
		}
	case BackendFlatfs:
		fds, err := openFlat(cfg.Path, !cfg.NoSync)
		if err != nil {
			return nil, fmt.Errorf("open blockstore %s: %w", cfg.Path, err)
		}
		s.ds = fds
		s.sync = func(ctx context.Context) error { return fds.Sync(ctx, ds.NewKey("/")) }
	}
	// The accounting layer checks for existing blocks itself, so boxo's
	// blockstore writes through.
	opts := []bstore.Option{bstore.WriteThrough(true)}
	if cfg.Backend == BackendFlatfs {
		opts = append(opts, bstore.NoPrefix())
	}
	s.inner = bstore.NewBlockstore(s.ds, opts...)
	s.acct = &accounting{Blockstore: s.inner}
	if err := s.countExisting(context.Background()); err != nil {
		s.ds.Close()
		return nil, fmt.Errorf("open blockstore %s: %w", cfg.Path, err)
	}
	s.outer = s.acct
	if cfg.HashOnRead {
		s.outer = &bstore.ValidatingBlockstore{Blockstore: s.acct}
	}
	colls, err := s.acct.usage.register(cfg.Registerer, cfg.Path)
	if err != nil {
		s.ds.Close()
		return nil, fmt.Errorf("open blockstore %s: %w", cfg.Path, err)
	}
	s.colls = colls
	cfg.Logger.Info("blockstore opened", "path", cfg.Path, "backend", cfg.Backend,
		"blocks", s.acct.usage.blocks.Load(), "bytes", s.acct.usage.bytes.Load())
	return s, nil
}

func (s *Store) countExisting(ctx context.Context) error {
	prefix := ""
	if s.cfg.Backend == BackendPebble {
		prefix = bstore.BlockPrefix.String()
	}
	res, err := s.ds.Query(ctx, query.Query{Prefix: prefix, KeysOnly: true, ReturnsSizes: true})
	if err != nil {
		return fmt.Errorf("count blocks: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("count blocks: %w", r.Error)
		}
		size := r.Size
		if size < 0 {
			if size, err = s.ds.GetSize(ctx, ds.RawKey(r.Key)); err != nil {
				return fmt.Errorf("count blocks: %w", err)
			}
		}
		s.acct.usage.add(1, int64(size))
	}
	return nil
}

// Path returns the directory the store keeps its blocks in.
func (s *Store) Path() string { return s.cfg.Path }

// Blockstore returns the block store. Blocks it has accepted are durable
// once a later Sync returns nil.
func (s *Store) Blockstore() bstore.Blockstore { return s.outer }

// Sync makes every block whose Put or PutMany returned before Sync was
// called durable: it survives a process or machine crash. With
// Config.NoSync it does nothing.
func (s *Store) Sync(ctx context.Context) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return fmt.Errorf("blockstore sync: %w", ErrClosed)
	}
	if err := s.sync(ctx); err != nil {
		return fmt.Errorf("blockstore sync: %w", err)
	}
	return nil
}

// Stats is a snapshot of the store's size accounting.
type Stats struct {
	// Blocks is the number of stored blocks.
	Blocks int64
	// Bytes is the total size of their data.
	Bytes int64
}

// Stats returns the current size accounting.
func (s *Store) Stats() Stats {
	return Stats{Blocks: s.acct.usage.blocks.Load(), Bytes: s.acct.usage.bytes.Load()}
}

// Close syncs and closes the store and unregisters its metrics. It is
// idempotent; calls on the Blockstore after Close fail.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, c := range s.colls {
		s.cfg.Registerer.Unregister(c)
	}
	err := s.sync(context.Background())
	if cerr := s.ds.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close blockstore: %w", err)
	}
	return nil
}

// accounting wraps boxo's blockstore, skipping blocks already present and
// counting blocks and bytes. Puts and deletes of one block are serialised
// by a lock stripe so concurrent writers count a block once.
type accounting struct {
	bstore.Blockstore
	usage usage
	locks [64]sync.Mutex
}

func stripe(c cid.Cid) int {
	h := c.Hash()
	return int(h[len(h)-1]) % 64
}

func (a *accounting) Put(ctx context.Context, b blocks.Block) error {
	mu := &a.locks[stripe(b.Cid())]
	mu.Lock()
	defer mu.Unlock()
	has, err := a.Blockstore.Has(ctx, b.Cid())
	if err != nil {
		return err
	}
	if has {
		return nil
	}
	if err := a.Blockstore.Put(ctx, b); err != nil {
		return err
	}
	a.usage.add(1, int64(len(b.RawData())))
	return nil
}

func (a *accounting) PutMany(ctx context.Context, bs []blocks.Block) error {
	if len(bs) == 1 {
		return a.Put(ctx, bs[0])
	}
	var idx []int
	for _, b := range bs {
		idx = append(idx, stripe(b.Cid()))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		a.locks[i].Lock()
	}
	defer func() {
		for _, i := range idx {
			a.locks[i].Unlock()
		}
	}()
	fresh := make([]blocks.Block, 0, len(bs))
	seen := make(map[string]struct{}, len(bs))
	var n int64
	for _, b := range bs {
		k := string(b.Cid().Hash())
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		has, err := a.Blockstore.Has(ctx, b.Cid())
		if err != nil {
			return err
		}
		if !has {
			fresh = append(fresh, b)
			n += int64(len(b.RawData()))
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := a.Blockstore.PutMany(ctx, fresh); err != nil {
		return err
	}
	a.usage.add(int64(len(fresh)), n)
	return nil
}

func (a *accounting) DeleteBlock(ctx context.Context, c cid.Cid) error {
	mu := &a.locks[stripe(c)]
	mu.Lock()
	defer mu.Unlock()
	size, err := a.Blockstore.GetSize(ctx, c)
	if err != nil {
		if ipld.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err := a.Blockstore.DeleteBlock(ctx, c); err != nil {
		return err
	}
	a.usage.add(-1, -int64(size))
	return nil
}

// pebbleLogger adapts slog to Pebble's logger. Fatalf logs and panics, as
// Pebble expects it not to return.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic(msg)
}
