package namespace

import (
	"testing"

	"s3mesh/internal/deptest"
)

// TestDeps: the namespace is a leaf of the gateway: it knows records,
// the CRDT and its database, not blocks, fetching or the node.
func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway/namespace",
		BadDeps: map[string]string{
			"s3mesh/gateway/dag":       "the namespace holds records, not content",
			"s3mesh/gateway/fetch":     "the namespace's deltas come through the DAG service it is given",
			"s3mesh/gateway/replicate": "replication builds on the namespace, not the reverse",
			"s3mesh/gateway/upkeep":    "upkeep builds on the namespace, not the reverse",
			"s3mesh/blockstore":        "the namespace stores deltas through the DAG service it is given",
			"s3mesh/exchange":          "the namespace is given its pubsub router",
			"s3mesh/cmd/":              "nothing imports cmd",
			"s3mesh/integration":       "nothing imports the integration tests",
			"github.com/aws/":          "SDK types are test-only",
		},
		BadImports: map[string]string{
			"s3mesh/gateway":         "the node composes the namespace, not the reverse",
			"github.com/gorilla/mux": "HTTP routing belongs to s3api",
			"net/http":               "the namespace speaks no HTTP",
		},
	}.Check(t)
}
