package fetch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipfs/boxo/blockservice"
	bstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/exchange/offline"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTimeout is Config.Timeout's default: 30 seconds.
const DefaultTimeout = 30 * time.Second

// Config configures a Fetcher. The zero value is valid.
type Config struct {
	// Timeout bounds the wait for a block missing locally: a Get fails
	// once Timeout has passed both since the block was asked for and since
	// any block of the same Read last arrived, so a slow but progressing
	// read never fails and a block no reachable peer provides fails within
	// about Timeout. Zero means DefaultTimeout.
	Timeout time.Duration
	// Registerer receives the fetcher's metrics (s3mesh_gateway_block_*,
	// s3mesh_gateway_*_blocks_total). nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives what the fetcher finds wrong (corrupt blocks). nil
	// discards.
	Logger *slog.Logger
	// OnRead, when not nil, is called for each block a Read returns: its
	// size, whether it came from a peer, and the Read's Keep.
	OnRead func(c cid.Cid, size int, fromPeer, keep bool)
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	if c.Timeout < 0 {
		return fmt.Errorf("fetch config: timeout %s is negative", c.Timeout)
	}
	return nil
}

// Fetcher is the node's one way to a block: the local block store first,
// then peers through the exchange, each block fetched once per node
// whichever reads want it (see onceExchange), hash-verified against its
// CID before it is stored or served (see verifyingExchange), stored, and
// counted. GETs, PUT by CID, the replicator and the IPFS gateway all read
// through it. Its methods are safe for concurrent use.
type Fetcher struct {
	cfg    Config
	blocks bstore.Blockstore
	// once is the exchange reads go through; nil without an exchange.
	once  *onceExchange
	bserv blockservice.BlockService
	m     *metrics
}

// New returns a Fetcher over the local blocks and exch (nil: local blocks
// only, a missing block is unavailable). The Fetcher does not close
// either; Close unregisters its metrics.
func New(cfg Config, blocks bstore.Blockstore, exch exchange.Interface) (*Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	f := &Fetcher{cfg: cfg, blocks: blocks, m: m}
	var x exchange.Interface = offline.Exchange(blocks)
	if exch != nil {
		f.once = newOnceExchange(&verifyingExchange{Interface: exch, rejected: m.rejectedBlock}, blocks)
		x = f.once
	}
	// The block store skips blocks it already has, so the blockservice
	// need not check first.
	f.bserv = blockservice.New(blocks, x, blockservice.WriteThrough(true))
	return f, nil
}

// Close unregisters the fetcher's metrics. Idempotent.
func (f *Fetcher) Close() { f.m.unregister() }

// Online reports whether the fetcher has an exchange to fetch from.
func (f *Fetcher) Online() bool { return f.once != nil }

// BlockService returns the block service over the local blocks and the
// fetcher's exchange (verified, once per node): for readers that need
// boxo's interfaces (a DAG service, the IPFS gateway).
func (f *Fetcher) BlockService() blockservice.BlockService { return f.bserv }

// FetchFresh fetches block c from peers through the verifying exchange,
// never from the local store, and does not store it: fsck's repair of a
// block stored corrupt. It fails when the fetcher is offline.
func (f *Fetcher) FetchFresh(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if f.once == nil {
		return nil, Unavailable(c, fmt.Errorf("this node has no exchange"))
	}
	return f.once.Interface.GetBlock(ctx, c)
}

// Flight is a fetch in flight claimed by a reader other than a Read (see
// Claim).
type Flight = flight

// Claim registers a fetch in flight for each block of cs that no read is
// fetching, for a fetcher other than a Read (the replicator's swarm
// fetch): a Read of one of them waits for it. It returns the flights
// claimed, by CID; the caller MUST Land every one. Offline, it claims
// nothing.
func (f *Fetcher) Claim(cs []cid.Cid) map[cid.Cid]*Flight {
	if f.once == nil {
		return nil
	}
	return f.once.claim(cs)
}

// Land ends a claimed flight with blk, stored by the caller, or err.
func (f *Fetcher) Land(c cid.Cid, fl *Flight, blk blocks.Block, err error) {
	f.once.land(c, fl, blk, err)
}
