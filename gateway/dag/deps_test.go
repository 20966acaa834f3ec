package dag

import (
	"testing"

	"s3mesh/internal/deptest"
)

// TestDeps: the DAG layer knows UnixFS, not where blocks live.
func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway/dag",
		BadDeps: map[string]string{
			"s3mesh/":                      "the DAG layer is a leaf: it knows UnixFS, not the node",
			"github.com/libp2p/go-libp2p":  "the DAG layer never talks to peers",
			"github.com/ipfs/boxo/bitswap": "the DAG layer never talks to peers",
			"github.com/ipfs/go-ds-crdt":   "the DAG layer holds no records",
			"github.com/aws/":              "SDK types are test-only",
		},
	}.Check(t)
}
