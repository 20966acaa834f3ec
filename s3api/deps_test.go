package s3api

import (
	"testing"

	"s3mesh/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/s3api",
		BadDeps: map[string]string{
			"github.com/ipfs/":        "s3api speaks S3 only; content addressing belongs to gateway",
			"github.com/libp2p/":      "s3api knows nothing of the network",
			"s3mesh/gateway":          "the gateway implements s3api.ObjectStore, not the other way round",
			"s3mesh/blockstore":       "storage is behind ObjectStore",
			"s3mesh/exchange":         "the network is behind ObjectStore",
			"s3mesh/cmd/":             "nothing imports cmd",
			"github.com/aws/":         "SDK types are test-only, never a storage contract",
			"github.com/minio/":       "client libraries are test-only",
			"github.com/cockroachdb/": "storage engines belong to gateway and blockstore",
		},
	}.Check(t)
	for _, leaf := range []string{"s3mesh/s3api/s3err", "s3mesh/s3api/internal/sigv4", "s3mesh/s3api/internal/checksum"} {
		deptest.DepChecker{Pkg: leaf, OnlyStd: true, Allow: []string{"s3mesh/s3api/internal/checksum"}}.Check(t)
	}
}
