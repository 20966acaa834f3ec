package dag

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// importBatchBytes bounds the blocks buffered by one import before they are
// written: ipld.Batch splits it over its parallel commits, so an import
// holds at most about this much block data beyond the chunk being read.
const importBatchBytes = 4 << 20

// Result is what Import learned about a body.
type Result struct {
	Root cid.Cid
	Size int64
	MD5  []byte
	// DAGSize is the total size of the DAG's blocks (the root's Tsize).
	DAGSize uint64
	// BodyErr reports that the import failed because reading the body
	// failed; the error returned is then the body's own error, unwrapped.
	BodyErr bool
}

// Import cuts r as split says into a balanced UnixFS DAG (CIDv1, raw
// leaves, the layout `ipfs add --cid-version=1 --raw-leaves` makes)
// stored through dags, and computes its MD5 in the same pass. It returns the root once
// every block has been handed to the block store (not yet synced).
func Import(ctx context.Context, dags ipld.DAGService, r io.Reader, split ChunkerSpec) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body := &hashingReader{ctx: ctx, r: r, h: md5.New()}
	adds := &awaitedAdds{DAGService: dags}
	defer adds.wait() // the batch's commits outlive Commit when one fails or ctx ends
	batch := ipld.NewBufferedDAG(ctx, adds,
		ipld.MaxSizeBatchOption(importBatchBytes),
		ipld.MaxNodesBatchOption(128))
	params := helpers.DagBuilderParams{
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256},
		Maxlinks:   helpers.DefaultLinksPerBlock,
		Dagserv:    batch,
	}
	db, err := params.New(split.NewSplitter(body))
	var root ipld.Node
	if err == nil {
		root, err = balanced.Layout(db)
	}
	if err == nil {
		err = batch.Commit()
	} else {
		cancel()
		batch.Commit() // waits for in-flight commits; the error is err's
	}
	res := Result{Size: body.n}
	if body.err != nil {
		// The body failed: report its error whatever the builder made of it.
		res.BodyErr = true
		return res, body.err
	}
	if err != nil {
		return res, fmt.Errorf("import dag: %w", err)
	}
	res.DAGSize, err = root.Size()
	if err != nil {
		return res, fmt.Errorf("import dag: %w", err)
	}
	res.Root = root.Cid()
	res.MD5 = body.h.Sum(nil)
	return res, nil
}

// hashingReader hashes and counts what it reads, records the first read
// error other than io.EOF, and stops when ctx is done.
type hashingReader struct {
	ctx context.Context
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	if err := h.ctx.Err(); err != nil {
		h.err = err
		return 0, err
	}
	k, err := h.r.Read(p)
	if k > 0 {
		h.h.Write(p[:k])
		h.n += int64(k)
	}
	if err != nil && err != io.EOF {
		h.err = err
	}
	return k, err
}

// awaitedAdds is the DAG service an import writes through: wait returns
// once every write it started has ended, and later writes fail without
// writing. ipld.Batch.Commit stops waiting for the writes in flight when
// one fails or its context ends, and without this they would go on after
// the import returned (and its write ended, see upkeep.Write), and after
// Close.
type awaitedAdds struct {
	ipld.DAGService
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

func (a *awaitedAdds) start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return errors.New("import ended")
	}
	a.wg.Add(1)
	return nil
}

func (a *awaitedAdds) Add(ctx context.Context, nd ipld.Node) error {
	if err := a.start(); err != nil {
		return err
	}
	defer a.wg.Done()
	return a.DAGService.Add(ctx, nd)
}

func (a *awaitedAdds) AddMany(ctx context.Context, nds []ipld.Node) error {
	if err := a.start(); err != nil {
		return err
	}
	defer a.wg.Done()
	return a.DAGService.AddMany(ctx, nds)
}

// wait stops new writes and waits for those in flight.
func (a *awaitedAdds) wait() {
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
	a.wg.Wait()
}
