package replicate

import (
	"testing"

	"s3mesh/internal/deptest"
)

// TestDeps: the replicator builds on the namespace, the fetcher and the
// DAG layer; the node composes it.
func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway/replicate",
		BadDeps: map[string]string{
			"s3mesh/gateway/upkeep": "upkeep and replication are peers, neither imports the other",
			"s3mesh/cmd/":           "nothing imports cmd",
			"github.com/aws/":       "SDK types are test-only",
		},
		BadImports: map[string]string{
			"s3mesh/gateway":    "the node composes the replicator, not the reverse",
			"s3mesh/blockstore": "the replicator takes boxo's Blockstore interface",
			"net/http":          "the replicator speaks no HTTP",
		},
	}.Check(t)
}
