package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"s3mesh/s3api"
)

// GetObject implements s3api.ObjectStore. The content handle reads the DAG
// of the returned record; it stays readable after the key is overwritten or
// deleted until garbage collection removes the blocks.
func (n *Node) GetObject(ctx context.Context, bucket, key string) (*s3api.ObjectInfo, s3api.Content, error) {
	rec, err := n.ns.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	root, err := cid.Decode(rec.Root)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s/%s: record root: %w", bucket, key, err)
	}
	return rec.Info(), &content{n: n, bucket: bucket, key: key, root: root, size: rec.Size}, nil
}

// content is one object version's DAG.
type content struct {
	n           *Node
	bucket, key string
	root        cid.Cid
	size        int64
}

// Open implements s3api.Content. The reader walks the DAG from the root,
// descending only into nodes that overlap [offset, offset+length) and
// fetching only the leaves inside it, up to Config.FetchWindow ahead of the
// reader, locally or through one exchange session. A block that cannot be
// had within Config.FetchTimeout yields an error wrapping
// ErrBlockUnavailable (and context.DeadlineExceeded when it timed out);
// when ctx ends first, an error wrapping its cause. Closing the reader, or
// ending ctx, cancels the fetches in flight.
func (c *content) Open(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length < 0 || offset+length > c.size {
		return nil, fmt.Errorf("open %s: range %d+%d outside size %d", c.root, offset, length, c.size)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &rangeReader{
		ctx: ctx, cancel: cancel, f: c.n.newFetcher(ctx), metrics: c.n.metrics,
		leaves: make(chan *leafFetch, c.n.cfg.FetchWindow),
	}
	if length == 0 {
		close(r.leaves)
		return r, nil
	}
	r.wg.Add(1)
	go func() {
		if c.bucket != "" && c.n.repl != nil {
			c.n.repl.awaitClaim(ctx, c.bucket, c.key, c.root.String())
		}
		r.walk(c.root, offset, offset+length)
	}()
	return r, nil
}

// leafFetch is one leaf's bytes within the range, being fetched.
type leafFetch struct {
	done     chan struct{}
	data     []byte
	err      error
	from, to int // the slice of the leaf's data inside the range
}

type rangeReader struct {
	ctx     context.Context
	cancel  context.CancelFunc
	f       *fetcher
	metrics *metrics
	leaves  chan *leafFetch
	wg      sync.WaitGroup

	cur     []byte
	err     error
	closeMu sync.Once
}

// walk sends, in order, a leafFetch for every leaf overlapping [off, end)
// and closes r.leaves. Internal nodes are fetched here; raw leaves are
// fetched concurrently, at most the channel's capacity (Config.FetchWindow)
// ahead of the one the reader waits for, so at most FetchWindow+1 leaves
// are in flight or buffered.
func (r *rangeReader) walk(root cid.Cid, off, end int64) {
	defer r.wg.Done()
	defer close(r.leaves)
	type frame struct {
		links []*ipld.Link
		sizes []uint64
		idx   int
		pos   int64 // file offset of links[idx]
	}
	var stack []*frame
	// visit handles a node starting at file offset start whose block is
	// known; it either emits its data or pushes its children.
	visit := func(nd ipld.Node, start int64) (bool, error) {
		switch nd := nd.(type) {
		case *merkledag.RawNode:
			return r.emitData(nd.RawData(), start, off, end), nil
		case *merkledag.ProtoNode:
			fsn, err := unixfs.FSNodeFromBytes(nd.Data())
			if err != nil {
				return false, fmt.Errorf("read %s: %w", nd.Cid(), err)
			}
			switch fsn.Type() {
			case unixfs.TFile, unixfs.TRaw:
			default:
				return false, fmt.Errorf("read %s: unixfs node type %s is not a file", nd.Cid(), fsn.Type())
			}
			if d := fsn.Data(); len(d) > 0 {
				if !r.emitData(d, start, off, end) {
					return false, nil
				}
			}
			links := nd.Links()
			if len(links) != fsn.NumChildren() {
				return false, fmt.Errorf("read %s: %d links but %d block sizes", nd.Cid(), len(links), fsn.NumChildren())
			}
			sizes := make([]uint64, len(links))
			for i := range sizes {
				sizes[i] = fsn.BlockSize(i)
			}
			stack = append(stack, &frame{links: links, sizes: sizes, pos: start + int64(len(fsn.Data()))})
			return true, nil
		default:
			return false, fmt.Errorf("read %s: unsupported node type %T", nd.Cid(), nd)
		}
	}
	fail := func(err error) {
		f := &leafFetch{done: make(chan struct{}), err: err}
		close(f.done)
		select {
		case r.leaves <- f:
		case <-r.ctx.Done():
		}
	}
	nd, err := r.f.getNode(root)
	if err != nil {
		fail(err)
		return
	}
	if ok, err := visit(nd, 0); err != nil {
		fail(err)
		return
	} else if !ok {
		return
	}
	for len(stack) > 0 {
		fr := stack[len(stack)-1]
		if fr.idx >= len(fr.links) || fr.pos >= end {
			stack = stack[:len(stack)-1]
			continue
		}
		i := fr.idx
		start, size := fr.pos, int64(fr.sizes[i])
		fr.idx++
		fr.pos += size
		if start+size <= off {
			continue // before the range: never fetched
		}
		if start >= end {
			continue
		}
		c := fr.links[i].Cid
		if c.Prefix().Codec == cid.Raw {
			// A raw leaf: fetch it concurrently.
			lo, hi := clip(start, size, off, end)
			f := &leafFetch{done: make(chan struct{}), from: lo, to: hi}
			select {
			case r.leaves <- f:
			case <-r.ctx.Done():
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer close(f.done)
				b, err := r.f.get(c)
				if err != nil {
					f.err = err
					return
				}
				data := b.RawData()
				if len(data) != int(size) || hi > len(data) {
					f.err = fmt.Errorf("read block %s: %d bytes, parent says %d", c, len(data), size)
					return
				}
				f.data = data
			}()
			continue
		}
		child, err := r.f.getNode(c)
		if err != nil {
			fail(err)
			return
		}
		if ok, err := visit(child, start); err != nil {
			fail(err)
			return
		} else if !ok {
			return
		}
	}
}

// clip returns the part [lo, hi) of a leaf at start of size bytes that lies
// inside [off, end).
func clip(start, size, off, end int64) (int, int) {
	lo, hi := int64(0), size
	if off > start {
		lo = off - start
	}
	if end < start+size {
		hi = end - start
	}
	return int(lo), int(hi)
}

// emitData sends the part of data (at file offset start) inside [off, end);
// it returns false when the reader went away.
func (r *rangeReader) emitData(data []byte, start, off, end int64) bool {
	size := int64(len(data))
	if start+size <= off || start >= end {
		return true
	}
	lo, hi := clip(start, size, off, end)
	f := &leafFetch{done: make(chan struct{}), data: data, from: lo, to: hi}
	close(f.done)
	select {
	case r.leaves <- f:
		return true
	case <-r.ctx.Done():
		return false
	}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		f, ok := <-r.leaves
		if !ok {
			if err := r.ctx.Err(); err != nil {
				r.err = fmt.Errorf("read content: %w", context.Cause(r.ctx))
			} else {
				r.err = io.EOF
			}
			continue
		}
		select {
		case <-f.done:
		case <-r.ctx.Done():
		}
		select {
		case <-f.done:
			if f.err != nil {
				r.err = f.err
				if cerr := r.ctx.Err(); cerr != nil && !errors.Is(f.err, cerr) {
					r.err = fmt.Errorf("%w: %w", f.err, cerr)
				}
				continue
			}
			r.cur = f.data[f.from:f.to]
		default:
			r.err = fmt.Errorf("read content: %w", context.Cause(r.ctx))
		}
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	r.metrics.getBytes.Add(float64(k))
	return k, nil
}

// Close stops the walk and any fetch in flight. Idempotent.
func (r *rangeReader) Close() error {
	r.closeMu.Do(func() {
		r.cancel()
		for range r.leaves {
		}
		r.wg.Wait()
	})
	return nil
}
