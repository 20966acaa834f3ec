package dag

import (
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// dagBuilder makes the CIDs of the dag-pb nodes the node writes: CIDv1,
// SHA2-256, as the importer does.
var dagBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256}

// Child is a UnixFS file DAG to link from a parent file node.
type Child struct {
	CID      cid.Cid
	FileSize uint64 // bytes of file content under it (the parent's blocksize)
	DAGSize  uint64 // bytes of blocks under it (the link's Tsize)
}

// FileTree builds the file nodes over children, at most maxLinks links per
// node, and returns every new node and the root's CID.
func FileTree(children []Child, maxLinks int) ([]ipld.Node, cid.Cid, error) {
	var nodes []ipld.Node
	level := children
	for {
		var next []Child
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
				fileSize += c.FileSize
			}
			next = append(next, Child{CID: nd.Cid(), FileSize: fileSize, DAGSize: size})
		}
		if len(next) == 1 {
			return nodes, next[0].CID, nil
		}
		level = next
	}
}

// fileNode returns a UnixFS file node with no data of its own whose
// children are children, in order.
func fileNode(children []Child) (*merkledag.ProtoNode, error) {
	fsn := unixfs.NewFSNode(unixfs.TFile)
	nd := new(merkledag.ProtoNode)
	if err := nd.SetCidBuilder(dagBuilder); err != nil {
		return nil, fmt.Errorf("file node: %w", err)
	}
	for _, c := range children {
		fsn.AddBlockSize(c.FileSize)
		if err := nd.AddRawLink("", &ipld.Link{Cid: c.CID, Size: c.DAGSize}); err != nil {
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
