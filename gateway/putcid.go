package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"

	"s3mesh/gateway/dag"
	"s3mesh/gateway/upkeep"
	"s3mesh/s3api/s3err"
)

// adoptCID makes the content named by s an object's content (PutObject
// with PutObjectInput.CID): s must be the CID of a UnixFS file, a dag-pb
// file node or a raw block (a one-block file). Its DAG is read through
// whole, block by block from the local block store or the exchange (each
// within Config.FetchTimeout), which leaves every block stored locally; the
// size and MD5 come from that read, and the blocks are made durable before
// it returns. body must be empty (nil counts as empty) and contentMD5,
// when not nil, must match.
//
// Errors: a malformed CID, or content that is not a UnixFS file, is
// s3err.ErrInvalidArgument; a block that cannot be had is ServiceUnavailable
// naming it (ErrBlockUnavailable); a non-empty body is
// s3err.ErrInvalidRequest; a digest mismatch s3err.ErrBadDigest.
func (n *Node) adoptCID(ctx context.Context, w *upkeep.Write, s string, body io.Reader, contentMD5 []byte) (dag.Result, string, error) {
	var res dag.Result
	root, err := cid.Decode(s)
	if err != nil {
		return res, "rejected", &s3err.Error{
			Code:    s3err.ErrInvalidArgument,
			Message: "The x-s3mesh-cid header is not a valid CID.",
			Err:     fmt.Errorf("adopt %q: %w", s, err),
		}
	}
	if body != nil {
		var one [1]byte
		if k, _ := io.ReadFull(body, one[:]); k > 0 {
			return res, "rejected", s3err.New(s3err.ErrInvalidRequest, "A PutObject with x-s3mesh-cid must have an empty body.")
		}
	}
	switch codec := root.Prefix().Codec; codec {
	case cid.Raw, cid.DagProtobuf:
	default:
		return res, "rejected", s3err.New(s3err.ErrInvalidArgument,
			fmt.Sprintf("CID %s has codec %#x; only a UnixFS file (dag-pb) or a raw block can become an object.", root, codec))
	}
	w.Note(root) // GC spares its DAG as it is stored
	nd, err := n.getNode(ctx, root)
	if err != nil {
		return res, "error", fmt.Errorf("adopt %s: %w", root, err)
	}
	var size int64
	switch nd := nd.(type) {
	case *merkledag.RawNode:
		size = int64(len(nd.RawData()))
	case *merkledag.ProtoNode:
		fsn, err := unixfs.FSNodeFromBytes(nd.Data())
		if err != nil {
			return res, "rejected", &s3err.Error{
				Code:    s3err.ErrInvalidArgument,
				Message: fmt.Sprintf("CID %s is a dag-pb node but not UnixFS; only a UnixFS file can become an object.", root),
				Err:     fmt.Errorf("adopt %s: %w", root, err),
			}
		}
		switch fsn.Type() {
		case unixfs.TFile, unixfs.TRaw:
		default:
			return res, "rejected", s3err.New(s3err.ErrInvalidArgument,
				fmt.Sprintf("CID %s is a UnixFS %s; only a UnixFS file can become an object.", root, fsn.Type()))
		}
		size = int64(fsn.FileSize())
	}
	if size < 0 || size > maxAdoptSize {
		return res, "rejected", s3err.New(s3err.ErrInvalidArgument,
			fmt.Sprintf("CID %s is a file of %d bytes; at most %d can become an object.", root, size, int64(maxAdoptSize)))
	}
	dagSize, err := nd.Size()
	if err != nil {
		return res, "error", fmt.Errorf("adopt %s: %w", root, err)
	}
	// Read it whole: this fetches and stores every block and checks the
	// DAG's sizes against the file size.
	r, err := (&content{n: n, root: root, size: size}).Open(ctx, 0, size)
	if err != nil {
		return res, "error", fmt.Errorf("adopt %s: %w", root, err)
	}
	defer r.Close()
	h := md5.New()
	k, err := io.Copy(h, r)
	n.metrics.putBytes.Add(float64(k))
	if err != nil {
		return res, "error", fmt.Errorf("adopt %s: %w", root, err)
	}
	if k != size {
		return res, "rejected", s3err.New(s3err.ErrInvalidArgument,
			fmt.Sprintf("CID %s is not a well-formed UnixFS file: its blocks hold %d bytes, its root says %d.", root, k, size))
	}
	res = dag.Result{Root: root, Size: size, MD5: h.Sum(nil), DAGSize: dagSize}
	if contentMD5 != nil && !bytes.Equal(contentMD5, res.MD5) {
		return res, "aborted", s3err.ErrBadDigest
	}
	if err := n.blocks.Sync(ctx); err != nil {
		return res, "error", fmt.Errorf("adopt %s: %w", root, err)
	}
	return res, "ok", nil
}

// maxAdoptSize is the largest file a PutObject by CID adopts: 5 TiB, the
// largest S3 object.
const maxAdoptSize = 5 << 40
