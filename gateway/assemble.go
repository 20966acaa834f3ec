package gateway

import (
	"context"
	"fmt"
	"s3mesh/gateway/namespace"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// dagBuilder makes the CIDs of the dag-pb nodes the node writes: CIDv1,
// SHA2-256, as the importer does.
var dagBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256}

// dagChild is a UnixFS file DAG to link from a parent file node.
type dagChild struct {
	cid      cid.Cid
	fileSize uint64 // bytes of file content under it (the parent's blocksize)
	dagSize  uint64 // bytes of blocks under it (the link's Tsize)
}

// assembleParts writes the root of an object made of parts, in order, and
// returns it; the parts' own DAGs are linked, never read or copied. The
// root is a UnixFS file node (dag-pb, CIDv1) whose children are the part
// roots with their sizes as blocksizes; with more parts than
// helpers.DefaultLinksPerBlock, the parts are grouped, in order, under
// intermediate file nodes of at most that many links each, level by level,
// so every part root sits at the same depth and no node exceeds a few KiB
// per 174 links. The new nodes are durable when it returns.
func (n *Node) assembleParts(ctx context.Context, parts []namespace.PartRecord) (cid.Cid, error) {
	level := make([]dagChild, len(parts))
	for i, p := range parts {
		c, err := cid.Decode(p.Root)
		if err != nil {
			return cid.Undef, fmt.Errorf("part %d root: %w", p.Number, err)
		}
		level[i] = dagChild{cid: c, fileSize: uint64(p.Size), dagSize: p.DAGSize}
	}
	nodes, root, err := fileTree(level, helpers.DefaultLinksPerBlock)
	if err != nil {
		return cid.Undef, err
	}
	if err := n.dag.AddMany(ctx, nodes); err != nil {
		return cid.Undef, fmt.Errorf("write object root: %w", err)
	}
	if err := n.blocks.Sync(ctx); err != nil {
		return cid.Undef, fmt.Errorf("write object root: %w", err)
	}
	return root, nil
}

// fileTree builds the file nodes over children, at most maxLinks links per
// node, and returns every new node and the root's CID.
func fileTree(children []dagChild, maxLinks int) ([]ipld.Node, cid.Cid, error) {
	var nodes []ipld.Node
	level := children
	for {
		var next []dagChild
		for i := 0; i < len(level) || i == 0; i += maxLinks {
			nd, err := fileNode(level[i:min(i+maxLinks, len(level))])
			if err != nil {
				return nil, cid.Undef, err
			}
			nodes = append(nodes, nd)
			size, err := nd.Size()
			if err != nil {
				return nil, cid.Undef, fmt.Errorf("file node: %w", err)
			}
			var fileSize uint64
			for _, c := range level[i:min(i+maxLinks, len(level))] {
				fileSize += c.fileSize
			}
			next = append(next, dagChild{cid: nd.Cid(), fileSize: fileSize, dagSize: size})
		}
		if len(next) == 1 {
			return nodes, next[0].cid, nil
		}
		level = next
	}
}

// fileNode returns a UnixFS file node with no data of its own whose
// children are children, in order.
func fileNode(children []dagChild) (*merkledag.ProtoNode, error) {
	fsn := unixfs.NewFSNode(unixfs.TFile)
	nd := new(merkledag.ProtoNode)
	if err := nd.SetCidBuilder(dagBuilder); err != nil {
		return nil, fmt.Errorf("file node: %w", err)
	}
	for _, c := range children {
		fsn.AddBlockSize(c.fileSize)
		if err := nd.AddRawLink("", &ipld.Link{Cid: c.cid, Size: c.dagSize}); err != nil {
			return nil, fmt.Errorf("file node: %w", err)
		}
	}
	data, err := fsn.GetBytes()
	if err != nil {
		return nil, fmt.Errorf("file node: %w", err)
	}
	nd.SetData(data)
	return nd, nil
}
