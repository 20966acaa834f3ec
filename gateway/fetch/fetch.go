package fetch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"s3mesh/gateway/dag"
	"s3mesh/s3api"
	"s3mesh/s3api/s3err"
)

// errFetchTimeout is the cause a fetch is cancelled with when it made no
// progress within Config.FetchTimeout.
var errFetchTimeout = errors.New("fetch timeout")

// ErrBlockUnavailable marks a read that failed because a block is neither
// stored locally nor retrievable from the exchange within the fetch
// timeout. Such errors are also an *s3err.Error with code
// ServiceUnavailable whose client-safe message names the missing block,
// and a *BlockUnavailableError (an s3api.MissingContentError).
var ErrBlockUnavailable = errors.New("block unavailable")

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

// Unavailable returns the error for block c that cannot be had: a
// ServiceUnavailable with a client-safe message naming c and a Retry-After,
// whose cause is a *BlockUnavailableError.
func Unavailable(c cid.Cid, cause error) error {
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

func verifiedGet(ctx context.Context, f exchange.Fetcher, c cid.Cid, rejected func(cid.Cid)) (blocks.Block, error) {
	b, err := f.GetBlock(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := dag.Verify(c, b); err != nil {
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
			if !want[c] || dag.Verify(c, b) != nil {
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

// Read gets the blocks of one read (a content reader, a PUT by CID):
// from the local block store, else from the exchange through one Bitswap
// session, which spreads the read's wants over the peers that have its
// blocks. A fetched block is stored locally by the blockservice.
type Read struct {
	// Keep marks a read whose blocks the node keeps (the replicator's),
	// as Config.OnRead reports it. Set it before the first Get.
	Keep bool

	f   *Fetcher
	ctx context.Context // the read's context, carrying the session
	// last is when a block of this read last arrived from the exchange, in
	// Unix nanoseconds: progress that keeps the read's other fetches alive.
	last atomic.Int64
}

// NewRead returns a Read that lasts as long as ctx; its session ends with
// ctx.
func (f *Fetcher) NewRead(ctx context.Context) *Read {
	r := &Read{f: f, ctx: blockservice.ContextWithSession(ctx, f.bserv)}
	r.last.Store(time.Now().UnixNano())
	return r
}

// Get returns block c: from the local block store, else fetched from
// peers (and stored). A block that cannot be had is an Unavailable error;
// when the read's context ends first, the error wraps its cause.
func (r *Read) Get(c cid.Cid) (blocks.Block, error) {
	b, _, err := r.GetSource(c)
	return b, err
}

// GetSource is Get that also reports whether the block came from a peer.
func (r *Read) GetSource(c cid.Cid) (blocks.Block, bool, error) {
	b, fromPeer, err := r.get(c)
	if err == nil && r.f.cfg.OnRead != nil {
		r.f.cfg.OnRead(c, len(b.RawData()), fromPeer, r.Keep)
	}
	return b, fromPeer, err
}

func (r *Read) get(c cid.Cid) (blocks.Block, bool, error) {
	f := r.f
	b, err := f.blocks.Get(r.ctx, c)
	switch {
	case err == nil:
		if verr := dag.Verify(c, b); verr != nil {
			// Never served: a good copy from a peer replaces it, or the
			// read fails.
			return f.repair(r.ctx, c, verr)
		}
		f.m.blockReads.WithLabelValues("hit").Inc()
		f.m.blockReadBytes.WithLabelValues("hit").Add(float64(len(b.RawData())))
		return b, false, nil
	case !ipld.IsNotFound(err):
		f.m.blockReads.WithLabelValues("error").Inc()
		return nil, false, fmt.Errorf("read block %s: %w", c, err)
	case f.once == nil:
		f.m.blockReads.WithLabelValues("error").Inc()
		return nil, false, Unavailable(c, err)
	}
	start := time.Now()
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go r.watch(ctx, cancel, start, done)
	b, err = f.bserv.GetBlock(ctx, c)
	close(done)
	if err == nil {
		now := time.Now()
		r.last.Store(now.UnixNano())
		f.m.blockReads.WithLabelValues("miss").Inc()
		f.m.blockReadBytes.WithLabelValues("miss").Add(float64(len(b.RawData())))
		f.m.fetchDur.Observe(now.Sub(start).Seconds())
		return b, true, nil
	}
	f.m.blockReads.WithLabelValues("error").Inc()
	switch {
	case errors.Is(context.Cause(ctx), errFetchTimeout):
		return nil, false, Unavailable(c, fmt.Errorf("no reachable peer provided it within %s: %w", f.cfg.Timeout, context.DeadlineExceeded))
	case r.ctx.Err() != nil:
		return nil, false, fmt.Errorf("fetch block %s: %w", c, context.Cause(r.ctx))
	case ipld.IsNotFound(err), errors.Is(err, dag.ErrCorruptBlock):
		return nil, false, Unavailable(c, err)
	}
	return nil, false, fmt.Errorf("fetch block %s: %w", c, err)
}

// watch cancels a fetch started at start with errFetchTimeout once
// Config.FetchTimeout has passed since the later of start and the read's
// last progress; it returns when done is closed or ctx ends.
func (r *Read) watch(ctx context.Context, cancel context.CancelCauseFunc, start time.Time, done <-chan struct{}) {
	timeout := r.f.cfg.Timeout
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
			if last := time.Unix(0, r.last.Load()); last.After(since) {
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

// repair handles block c found corrupt in the local store (bad, the
// verification's error): it is counted and logged, a good copy is fetched
// from peers (verified, within Config.Timeout) and stored in its place,
// and returned as fetched from a peer. With no good copy, the read fails
// with an Unavailable error naming c.
func (f *Fetcher) repair(ctx context.Context, c cid.Cid, bad error) (blocks.Block, bool, error) {
	f.m.corrupt.Inc()
	f.m.blockReads.WithLabelValues("error").Inc()
	f.cfg.Logger.Warn("a block stored on this node is corrupt; fetching a good copy from peers", "cid", c, "err", bad)
	if f.once == nil {
		return nil, false, Unavailable(c, fmt.Errorf("the stored copy is corrupt and this node has no peers: %w", bad))
	}
	fctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	start := time.Now()
	b, err := f.FetchFresh(fctx, c)
	if err == nil {
		err = dag.Verify(c, b)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("repair block %s: %w", c, context.Cause(ctx))
		}
		return nil, false, Unavailable(c, fmt.Errorf("the stored copy is corrupt (%w) and no reachable peer provided a good one: %w", bad, err))
	}
	// The store skips a block it has: remove the bad copy first.
	if err := f.blocks.DeleteBlock(ctx, c); err != nil {
		return nil, false, fmt.Errorf("repair block %s: %w", c, err)
	}
	if err := f.blocks.Put(ctx, b); err != nil {
		return nil, false, fmt.Errorf("repair block %s: %w", c, err)
	}
	f.m.repaired.Inc()
	f.m.fetchDur.Observe(time.Since(start).Seconds())
	f.cfg.Logger.Info("a corrupt block was replaced by a good copy from a peer", "cid", c)
	return b, true, nil
}
