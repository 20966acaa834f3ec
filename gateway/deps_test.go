package gateway

import (
	"testing"

	"s3mesh/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		Pkg: "s3mesh/gateway",
		BadDeps: map[string]string{
			"s3mesh/cmd/":                "nothing imports cmd",
			"s3mesh/integration":         "nothing imports the integration tests",
			"github.com/aws/":            "SDK types are test-only",
			"github.com/minio/minio-go/": "client libraries are test-only (pebble needs github.com/minio/minlz)",
		},
		BadImports: map[string]string{
			// gateway imports s3api for the ObjectStore contract, and s3api
			// routes with mux; the gateway itself never routes HTTP.
			"github.com/gorilla/mux": "HTTP routing belongs to s3api",
			"net/http":               "the gateway speaks no HTTP; s3api does",
		},
	}.Check(t)
}
