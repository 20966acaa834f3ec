package exchange

import (
	"testing"

	"s3mesh/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/exchange",
		BadDeps: map[string]string{
			"s3mesh/gateway":             "exchange is below the gateway",
			"s3mesh/s3api":               "exchange knows nothing of S3",
			"s3mesh/blockstore":          "exchange takes boxo's Blockstore interface, not our store",
			"s3mesh/cmd/":                "nothing imports cmd",
			"github.com/ipfs/go-ds-crdt": "the namespace belongs to the gateway",
		},
	}.Check(t)
}
