package gateway

import (
	"context"

	"s3mesh/gateway/replicate"
)

// The replicator's reports, as the Node's API speaks them (see package
// replicate).
type (
	// ReplicationStatus is how complete this node's copy of the
	// replicated buckets is.
	ReplicationStatus = replicate.Status
	// BucketReplication is one replicated bucket's completeness.
	BucketReplication = replicate.BucketStatus
	// ObjectReplication is one queued object's progress.
	ObjectReplication = replicate.ObjectStatus
)

// SetBucketReplicated marks bucket name replicated (on) or not (see
// replicate.Replicator.SetBucketReplicated).
func (n *Node) SetBucketReplicated(ctx context.Context, name string, on bool) (*BucketRecord, error) {
	return n.repl.SetBucketReplicated(ctx, name, on)
}

// ReplicationStatus reports how complete this node's copy of each
// replicated bucket is, and the progress of the objects being fetched
// (see replicate.Replicator.Status).
func (n *Node) ReplicationStatus(ctx context.Context) (ReplicationStatus, error) {
	return n.repl.Status(ctx)
}
