package blockstore

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Backend names accepted in Config.Backend.
const (
	BackendPebble = "pebble"
	BackendFlatfs = "flatfs"
)

// DefaultBackend is the backend used when Config.Backend is empty. Flatfs
// was chosen by measurement (BenchmarkPut1MiB, BenchmarkGet1MiB and the
// gateway's BenchmarkPutObject): for durable streams of 1 MiB blocks it
// writes each byte once, where Pebble writes it to the WAL, flushes it to
// L0 and compacts it again, so Pebble's sustained durable throughput falls
// to well under half of flatfs's; flatfs reads are as fast, and it keeps
// no block data on the Go heap.
const DefaultBackend = BackendFlatfs

// DefaultPebbleMemTableSize is the Pebble memtable size in bytes. Blocks are
// about 1 MiB, so a larger memtable than Pebble's 4 MiB default keeps flushes
// from happening every few blocks.
const DefaultPebbleMemTableSize = 64 << 20

// Config configures a Store. Only Path is required.
type Config struct {
	// Path is the directory holding the blocks; it is created if missing.
	// Required.
	Path string
	// Backend is BackendPebble or BackendFlatfs. Default DefaultBackend.
	// A directory keeps the backend it was created with; opening it with
	// another is an error.
	Backend string
	// NoSync disables every fsync: faster, but a crash can lose blocks that
	// Sync reported durable. For tests only. Default false.
	NoSync bool
	// HashOnRead re-hashes every block read and fails the read with
	// boxo's blockstore.ErrHashMismatch when the content does not match
	// its CID. Default false.
	HashOnRead bool
	// Logger receives lifecycle and backend messages. nil discards.
	Logger *slog.Logger
	// Registerer receives the store's metrics. nil registers nothing.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Backend == "" {
		c.Backend = DefaultBackend
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether the configuration, after defaults, is usable.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Path == "" {
		return errors.New("blockstore config: path is required")
	}
	switch c.Backend {
	case BackendPebble, BackendFlatfs:
	default:
		return fmt.Errorf("blockstore config: unknown backend %q (want %q or %q)", c.Backend, BackendPebble, BackendFlatfs)
	}
	return nil
}
