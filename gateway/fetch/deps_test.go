package fetch

import (
	"testing"

	"s3mesh/internal/deptest"
)

// TestDeps: the fetcher knows blocks, the exchange's interface and the
// DAG layer; not records, not the node.
func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway/fetch",
		BadDeps: map[string]string{
			"s3mesh/gateway/namespace":   "blocks carry no records",
			"s3mesh/blockstore":          "the fetcher takes boxo's Blockstore interface",
			"s3mesh/exchange":            "the fetcher takes boxo's exchange.Interface",
			"s3mesh/cmd/":                "nothing imports cmd",
			"github.com/ipfs/go-ds-crdt": "blocks carry no records",
			"github.com/aws/":            "SDK types are test-only",
		},
		BadImports: map[string]string{
			"s3mesh/gateway": "the node composes the fetcher, not the reverse",
			"net/http":       "the fetcher speaks no HTTP",
		},
	}.Check(t)
}
