package blockstore

import (
	"testing"

	"s3mesh/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/blockstore",
		BadDeps: map[string]string{
			"s3mesh/gateway":     "blockstore is below the gateway",
			"s3mesh/s3api":       "blockstore knows nothing of S3",
			"s3mesh/exchange":    "blockstore is below the exchange",
			"github.com/libp2p/": "blockstore is local storage",
			"s3mesh/cmd/":        "nothing imports cmd",
		},
	}.Check(t)
}
