package dag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	blocks "github.com/ipfs/go-block-format"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Getter gets the blocks of one read: from wherever the caller keeps them
// (a local store, peers). An error ends the read with it.
type Getter interface {
	Get(c cid.Cid) (blocks.Block, error)
}

// ReaderOptions tunes a range reader.
type ReaderOptions struct {
	// Window is how many leaves are fetched ahead of the one being read,
	// at least 1: the reader holds at most Window+1 leaves in memory.
	Window int
	// Before, when not nil, is called in the walk's goroutine before the
	// first block is asked for.
	Before func(ctx context.Context)
}

// NewRangeReader reads [offset, offset+length) of the UnixFS file under
// root: it walks the DAG from the root using the UnixFS block sizes,
// descending only into nodes that overlap the range and getting only the
// leaves inside it, up to opts.Window ahead of the reader, from g. A
// block g cannot get ends the read with g's error; when ctx ends first,
// with an error wrapping its cause. Closing the reader, or ending ctx,
// stops the walk and the gets in flight (g should heed ctx). The range
// must lie within the file; the caller checks it.
func NewRangeReader(ctx context.Context, g Getter, root cid.Cid, offset, length int64, opts ReaderOptions) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	r := &rangeReader{ctx: ctx, cancel: cancel, f: g, leaves: make(chan *leafFetch, max(opts.Window, 1))}
	if length == 0 {
		close(r.leaves)
		return r
	}
	r.wg.Add(1)
	go func() {
		if opts.Before != nil {
			opts.Before(ctx)
		}
		r.walk(root, offset, offset+length)
	}()
	return r
}

// getNode gets block c from g, decoded.
func getNode(g Getter, c cid.Cid) (ipld.Node, error) {
	b, err := g.Get(c)
	if err != nil {
		return nil, err
	}
	return DecodeNode(b)
}

// leafFetch is one leaf's bytes within the range, being fetched.
type leafFetch struct {
	done     chan struct{}
	data     []byte
	err      error
	from, to int // the slice of the leaf's data inside the range
}

type rangeReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	f      Getter
	leaves chan *leafFetch
	wg     sync.WaitGroup

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
	nd, err := getNode(r.f, root)
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
				b, err := r.f.Get(c)
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
		child, err := getNode(r.f, c)
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
