package dag

import (
	"errors"
	"fmt"

	blocks "github.com/ipfs/go-block-format"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// ErrCorruptBlock marks a block whose content does not hash to its CID.
var ErrCorruptBlock = errors.New("block content does not match its cid")

// Verify reports whether b's content hashes to c.
func Verify(c cid.Cid, b blocks.Block) error {
	got, err := c.Prefix().Sum(b.RawData())
	if err != nil {
		return fmt.Errorf("verify block %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("verify block %s: %w (content hashes to %s)", c, ErrCorruptBlock, got)
	}
	return nil
}

// DecodeNode decodes a raw or dag-pb block.
func DecodeNode(b blocks.Block) (ipld.Node, error) {
	var nd ipld.Node
	var err error
	switch codec := b.Cid().Prefix().Codec; codec {
	case cid.Raw:
		nd, err = merkledag.DecodeRawBlock(b)
	case cid.DagProtobuf:
		nd, err = merkledag.DecodeProtobufBlock(b)
	default:
		return nil, fmt.Errorf("decode %s: codec %#x is not dag-pb or raw", b.Cid(), codec)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", b.Cid(), err)
	}
	return nd, nil
}
