package gateway

import (
	"context"
	"fmt"

	"s3mesh/gateway/dag"
	"s3mesh/s3api/s3err"
)

// defaultChunker returns the node's chunker: Config.Chunker, else fixed
// Config.ChunkSize leaves.
func (n *Node) defaultChunker() ChunkerSpec {
	if n.cfg.Chunker == "" {
		return ChunkerSpec{Kind: dag.ChunkerSize, Size: n.cfg.ChunkSize}
	}
	s, err := ParseChunker(n.cfg.Chunker)
	if err != nil { // Validate refused it: unreachable
		return ChunkerSpec{Kind: dag.ChunkerSize, Size: n.cfg.ChunkSize}
	}
	return s
}

// BucketChunker returns how new objects of bucket are cut: the bucket's
// chunker (BucketRecord.Chunker), else the node's (Config.Chunker, else
// Config.ChunkSize). A bucket chunker this node cannot parse (set by a
// newer node) counts as unset. It returns s3err.ErrNoSuchBucket.
func (n *Node) BucketChunker(ctx context.Context, bucket string) (ChunkerSpec, error) {
	b, err := n.ns.GetBucket(ctx, bucket)
	if err != nil {
		return ChunkerSpec{}, err
	}
	if b.Chunker == "" {
		return n.defaultChunker(), nil
	}
	s, err := ParseChunker(b.Chunker)
	if err != nil {
		n.cfg.Logger.Warn("bucket chunker not understood; new objects are cut with the node's default", "bucket", bucket, "err", err)
		return n.defaultChunker(), nil
	}
	return s, nil
}

// chunkerFor is BucketChunker for an import into bucket: when the bucket
// cannot be read, the node's default, and the commit that follows the
// import reports a missing bucket.
func (n *Node) chunkerFor(ctx context.Context, bucket string) ChunkerSpec {
	s, err := n.BucketChunker(ctx, bucket)
	if err != nil {
		return n.defaultChunker()
	}
	return s
}

// SetBucketChunker sets how new objects of bucket are cut: spec is parsed
// with ParseChunker and stored in its canonical form (every parameter
// explicit, so that "fastcdc" or "cdc" keep cutting the same way in later
// versions), which is returned; "" or "default" clear the bucket's
// chunker (new objects then get the node's default) and return "". The
// setting replicates to every node with the bucket (see
// CRDTNamespace.UpdateBucket); objects already stored keep their blocks.
//
// It returns s3err.ErrNoSuchBucket, or an *s3err.Error with code
// InvalidArgument whose message says what is wrong with spec.
func (n *Node) SetBucketChunker(ctx context.Context, bucket, spec string) (string, error) {
	canon := ""
	if spec != "" && spec != "default" {
		s, err := ParseChunker(spec)
		if err != nil {
			return "", fmt.Errorf("set chunker of %s: %w", bucket, s3err.New(s3err.ErrInvalidArgument, err.Error()))
		}
		canon = s.String()
	}
	if _, err := n.crdt.UpdateBucket(ctx, bucket, func(b *BucketRecord) error {
		b.Chunker = canon
		return nil
	}); err != nil {
		return "", fmt.Errorf("set chunker of %s: %w", bucket, err)
	}
	return canon, nil
}

// ChunkerSpec is a parsed chunker spec (see ChunkerSpec).
type ChunkerSpec = dag.ChunkerSpec

// ParseChunker parses a chunker spec (see dag.ParseChunker).
func ParseChunker(spec string) (ChunkerSpec, error) { return dag.ParseChunker(spec) }
