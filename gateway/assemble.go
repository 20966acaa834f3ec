package gateway

import (
	"context"
	"fmt"
	"s3mesh/gateway/dag"
	"s3mesh/gateway/namespace"
	"s3mesh/gateway/upkeep"

	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
)

// assembleParts writes the root of an object made of parts, in order, and
// returns it; the parts' own DAGs are linked, never read or copied. The
// root is a UnixFS file node (dag-pb, CIDv1) whose children are the part
// roots with their sizes as blocksizes; with more parts than
// helpers.DefaultLinksPerBlock, the parts are grouped, in order, under
// intermediate file nodes of at most that many links each, level by level,
// so every part root sits at the same depth and no node exceeds a few KiB
// per 174 links. The new nodes are durable when it returns.
func (n *Node) assembleParts(ctx context.Context, w *upkeep.Write, parts []namespace.PartRecord) (cid.Cid, error) {
	level := make([]dag.Child, len(parts))
	for i, p := range parts {
		c, err := cid.Decode(p.Root)
		if err != nil {
			return cid.Undef, fmt.Errorf("part %d root: %w", p.Number, err)
		}
		level[i] = dag.Child{CID: c, FileSize: uint64(p.Size), DAGSize: p.DAGSize}
	}
	nodes, root, err := dag.FileTree(level, helpers.DefaultLinksPerBlock)
	if err != nil {
		return cid.Undef, err
	}
	if err := w.DAG(n.dag).AddMany(ctx, nodes); err != nil {
		return cid.Undef, fmt.Errorf("write object root: %w", err)
	}
	if err := n.blocks.Sync(ctx); err != nil {
		return cid.Undef, fmt.Errorf("write object root: %w", err)
	}
	return root, nil
}
