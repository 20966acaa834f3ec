package admin

import (
	"testing"

	"s3mesh/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/admin",
		BadDeps: map[string]string{
			"s3mesh/cmd/":                "nothing imports cmd: it wires the admin edge, not the other way round",
			"s3mesh/integration":         "nothing imports the integration tests",
			"github.com/aws/":            "SDK types are test-only; the admin verbs that sign requests live in cmd",
			"github.com/minio/minio-go/": "client libraries are test-only (pebble needs github.com/minio/minlz)",
		},
		BadImports: map[string]string{
			// Requests reach the admin edge through s3api's wrapper and
			// its one route table, never through a router of its own.
			"github.com/gorilla/mux": "routing of the S3 listener belongs to s3api; the admin edge has one table of exact paths",
			// Blocks come through the node's one fetch path
			// (gateway.Node.BlockService), never a second block service
			// over the exchange.
			"github.com/ipfs/boxo/bitswap":                            "the IPFS gateway reads through gateway.Node.BlockService",
			"github.com/ipfs/boxo/exchange":                           "the IPFS gateway reads through gateway.Node.BlockService",
			"github.com/libp2p/go-libp2p":                             "the admin edge reads the network through exchange",
			"s3mesh/s3api/internal/sigv4":                             "authentication is s3api's wrapper's",
			"github.com/prometheus/client_golang/prometheus/promhttp": "cmd builds the /metrics handler over its registry",
		},
	}.Check(t)
}
