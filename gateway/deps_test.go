package gateway

import (
	"testing"

	"s3mesh/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway",
		BadDeps: map[string]string{
			"github.com/gorilla/mux":     "HTTP routing belongs to s3api",
			"s3mesh/cmd/":                "nothing imports cmd",
			"s3mesh/integration":         "nothing imports the integration tests",
			"github.com/aws/":            "SDK types are test-only",
			"github.com/minio/minio-go/": "client libraries are test-only (pebble needs github.com/minio/minlz)",
		},
	}.Check(t)
}
