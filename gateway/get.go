package gateway

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"

	"s3mesh/gateway/dag"
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
	opts := dag.ReaderOptions{Window: c.n.cfg.FetchWindow}
	if c.bucket != "" && c.n.repl != nil {
		opts.Before = func(ctx context.Context) { c.n.repl.AwaitClaim(ctx, c.bucket, c.key, c.root.String()) }
	}
	// No eviction removes the object's blocks while it is read.
	done := c.n.upkeep.Reading(c.root)
	r := dag.NewRangeReader(ctx, c.n.fetch.NewRead(ctx), c.root, offset, length, opts)
	return &countingReader{ReadCloser: r, count: c.n.metrics.getBytes, done: done}, nil
}

// countingReader counts the bytes read through it, and calls done once
// closed.
type countingReader struct {
	io.ReadCloser
	count prometheus.Counter
	done  func()
	once  sync.Once
}

func (c *countingReader) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.done)
	return err
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.count.Add(float64(k))
	return k, err
}

// getNode returns block root, decoded, through a read of its own.
func (n *Node) getNode(ctx context.Context, root cid.Cid) (ipld.Node, error) {
	b, err := n.fetch.NewRead(ctx).Get(root)
	if err != nil {
		return nil, err
	}
	return dag.DecodeNode(b)
}
