package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// errCorruptBlock marks a block from the exchange whose content does not
// hash to its CID.
var errCorruptBlock = errors.New("block content does not match its cid")

// errFetchTimeout is the cause a fetch is cancelled with when it made no
// progress within Config.FetchTimeout.
var errFetchTimeout = errors.New("fetch timeout")

// BlockUnavailableError reports a block that is neither stored locally nor
// retrievable from the exchange in bounded time. It matches
// ErrBlockUnavailable and its cause (context.DeadlineExceeded when the
// fetch timed out), and implements s3api.MissingContentError.
type BlockUnavailableError struct {
	CID cid.Cid
	Err error // the cause; may be nil
}

var _ s3api.MissingContentError = (*BlockUnavailableError)(nil)

func (e *BlockUnavailableError) Error() string {
	if e.Err == nil {
		return "block " + e.CID.String() + " unavailable"
	}
	return "block " + e.CID.String() + " unavailable: " + e.Err.Error()
}

// Unwrap returns ErrBlockUnavailable and the cause.
func (e *BlockUnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrBlockUnavailable}
	}
	return []error{ErrBlockUnavailable, e.Err}
}

// MissingContent names the block.
func (e *BlockUnavailableError) MissingContent() string { return e.CID.String() }

// unavailable returns the error for block c that cannot be had: a
// ServiceUnavailable with a client-safe message naming c and a Retry-After,
// whose cause is a *BlockUnavailableError.
func unavailable(c cid.Cid, cause error) error {
	return &s3err.Error{
		Code:    s3err.ErrServiceUnavailable,
		Message: fmt.Sprintf("Content %s is not available on this node or any reachable peer.", c),
		Err:     &BlockUnavailableError{CID: c, Err: cause},
		Header:  map[string]string{"Retry-After": strconv.Itoa(s3api.RetryAfterSeconds)},
	}
}

// verifyingExchange checks every block its exchange returns against the CID
// it was asked for before handing it on, so the blockservice never stores
// or serves a block whose content does not hash to its CID. Bitswap builds
// a received block's CID by hashing its data, but Config.Exchange may be
// any exchange.Interface, and boxo's blockservice only checks that a CID's
// hash function is allowed (verifcid), not the content.
type verifyingExchange struct {
	exchange.Interface
	rejected func(c cid.Cid) // called for each block dropped
}

var _ exchange.SessionExchange = (*verifyingExchange)(nil)

// GetBlock implements exchange.Fetcher.
func (v *verifyingExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return verifiedGet(ctx, v.Interface, c, v.rejected)
}

// GetBlocks implements exchange.Fetcher.
func (v *verifyingExchange) GetBlocks(ctx context.Context, ks []cid.Cid) (<-chan blocks.Block, error) {
	return verifiedGetMany(ctx, v.Interface, ks, v.rejected)
}

// NewSession implements exchange.SessionExchange: a session of the
// wrapped exchange when it has sessions, else the exchange itself, both
// verified.
func (v *verifyingExchange) NewSession(ctx context.Context) exchange.Fetcher {
	var f exchange.Fetcher = v.Interface
	if se, ok := v.Interface.(exchange.SessionExchange); ok {
		f = se.NewSession(ctx)
	}
	return &verifyingFetcher{f: f, rejected: v.rejected}
}

// verifyingFetcher is a verified exchange.Fetcher.
type verifyingFetcher struct {
	f        exchange.Fetcher
	rejected func(c cid.Cid)
}

func (v *verifyingFetcher) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return verifiedGet(ctx, v.f, c, v.rejected)
}

func (v *verifyingFetcher) GetBlocks(ctx context.Context, ks []cid.Cid) (<-chan blocks.Block, error) {
	return verifiedGetMany(ctx, v.f, ks, v.rejected)
}

// verifyBlock reports whether b's content hashes to c.
func verifyBlock(c cid.Cid, b blocks.Block) error {
	got, err := c.Prefix().Sum(b.RawData())
	if err != nil {
		return fmt.Errorf("verify block %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("verify block %s: %w (content hashes to %s)", c, errCorruptBlock, got)
	}
	return nil
}

func verifiedGet(ctx context.Context, f exchange.Fetcher, c cid.Cid, rejected func(cid.Cid)) (blocks.Block, error) {
	b, err := f.GetBlock(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := verifyBlock(c, b); err != nil {
		rejected(c)
		return nil, err
	}
	if !b.Cid().Equals(c) {
		// Same content under another CID (version or codec): hand it on
		// under the CID asked for.
		if b, err = blocks.NewBlockWithCid(b.RawData(), c); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// verifiedGetMany passes on only the blocks that were asked for and whose
// content hashes to their CID; a dropped block stays wanted until ctx ends.
func verifiedGetMany(ctx context.Context, f exchange.Fetcher, ks []cid.Cid, rejected func(cid.Cid)) (<-chan blocks.Block, error) {
	in, err := f.GetBlocks(ctx, ks)
	if err != nil {
		return nil, err
	}
	want := make(map[cid.Cid]bool, len(ks))
	for _, c := range ks {
		want[c] = true
	}
	out := make(chan blocks.Block)
	go func() {
		defer close(out)
		for b := range in {
			c := b.Cid()
			if !want[c] || verifyBlock(c, b) != nil {
				rejected(c)
				continue
			}
			select {
			case out <- b:
			case <-ctx.Done():
				// Drain so the fetcher's sender is not left blocked.
				for range in {
				}
				return
			}
		}
	}()
	return out, nil
}

// fetcher gets the blocks of one read (a content reader, a PUT by CID):
// from the local block store, else from the exchange through one Bitswap
// session, which spreads the read's wants over the peers that have its
// blocks. A fetched block is stored locally by the blockservice.
type fetcher struct {
	n   *Node
	ctx context.Context // the read's context, carrying the session
	// last is when a block of this read last arrived from the exchange, in
	// Unix nanoseconds: progress that keeps the read's other fetches alive.
	last atomic.Int64
}

// newFetcher returns a fetcher for a read that lasts as long as ctx; its
// session ends with ctx.
func (n *Node) newFetcher(ctx context.Context) *fetcher {
	f := &fetcher{n: n, ctx: blockservice.ContextWithSession(ctx, n.bserv)}
	f.last.Store(time.Now().UnixNano())
	return f
}

// get returns block c. A block that cannot be had is an unavailable error;
// when the read's context ends first, the error wraps its cause.
func (f *fetcher) get(c cid.Cid) (blocks.Block, error) {
	b, err := f.n.blocks.Blockstore().Get(f.ctx, c)
	switch {
	case err == nil:
		f.n.metrics.blockReads.WithLabelValues("hit").Inc()
		f.n.metrics.blockReadBytes.WithLabelValues("hit").Add(float64(len(b.RawData())))
		return b, nil
	case !ipld.IsNotFound(err):
		f.n.metrics.blockReads.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("read block %s: %w", c, err)
	case f.n.cfg.Exchange == nil:
		f.n.metrics.blockReads.WithLabelValues("error").Inc()
		return nil, unavailable(c, err)
	}
	start := time.Now()
	ctx, cancel := context.WithCancelCause(f.ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go f.watch(ctx, cancel, start, done)
	b, err = f.n.bserv.GetBlock(ctx, c)
	close(done)
	if err == nil {
		now := time.Now()
		f.last.Store(now.UnixNano())
		f.n.metrics.blockReads.WithLabelValues("miss").Inc()
		f.n.metrics.blockReadBytes.WithLabelValues("miss").Add(float64(len(b.RawData())))
		f.n.metrics.fetchDur.Observe(now.Sub(start).Seconds())
		return b, nil
	}
	f.n.metrics.blockReads.WithLabelValues("error").Inc()
	switch {
	case errors.Is(context.Cause(ctx), errFetchTimeout):
		return nil, unavailable(c, fmt.Errorf("no reachable peer provided it within %s: %w", f.n.cfg.FetchTimeout, context.DeadlineExceeded))
	case f.ctx.Err() != nil:
		return nil, fmt.Errorf("fetch block %s: %w", c, context.Cause(f.ctx))
	case ipld.IsNotFound(err), errors.Is(err, errCorruptBlock):
		return nil, unavailable(c, err)
	}
	return nil, fmt.Errorf("fetch block %s: %w", c, err)
}

// watch cancels a fetch started at start with errFetchTimeout once
// Config.FetchTimeout has passed since the later of start and the read's
// last progress; it returns when done is closed or ctx ends.
func (f *fetcher) watch(ctx context.Context, cancel context.CancelCauseFunc, start time.Time, done <-chan struct{}) {
	timeout := f.n.cfg.FetchTimeout
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			since := start
			if last := time.Unix(0, f.last.Load()); last.After(since) {
				since = last
			}
			idle := time.Since(since)
			if idle >= timeout {
				cancel(errFetchTimeout)
				return
			}
			t.Reset(timeout - idle)
		}
	}
}

// getNode returns block c decoded: a *merkledag.RawNode or a
// *merkledag.ProtoNode.
func (f *fetcher) getNode(c cid.Cid) (ipld.Node, error) {
	b, err := f.get(c)
	if err != nil {
		return nil, err
	}
	return decodeNode(b)
}

// decodeNode decodes a raw or dag-pb block.
func decodeNode(b blocks.Block) (ipld.Node, error) {
	var nd ipld.Node
	var err error
	switch codec := b.Cid().Prefix().Codec; codec {
	case cid.Raw:
		nd, err = merkledag.DecodeRawBlock(b)
	case cid.DagProtobuf:
		nd, err = merkledag.DecodeProtobufBlock(b)
	default:
		return nil, fmt.Errorf("decode %s: codec %#x is not dag-pb or raw", b.Cid(), codec)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", b.Cid(), err)
	}
	return nd, nil
}
