package upkeep

import (
	"testing"

	"s3mesh/internal/deptest"
)

// TestDeps: upkeep reads roots from the namespace and blocks from the
// store; the node composes it.
func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway/upkeep",
		BadDeps: map[string]string{
			"s3mesh/gateway/replicate": "upkeep and replication are peers, neither imports the other",
			"s3mesh/exchange":          "upkeep reaches peers only through the fetcher",
			"s3mesh/cmd/":              "nothing imports cmd",
			"github.com/aws/":          "SDK types are test-only",
		},
		BadImports: map[string]string{
			"s3mesh/gateway":                   "the node composes upkeep, not the reverse",
			"github.com/cockroachdb/pebble/v2": "upkeep never reads the namespace's database",
			"net/http":                         "upkeep speaks no HTTP",
		},
	}.Check(t)
}
