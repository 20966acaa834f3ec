package integration

import (
	"testing"

	"s3mesh/s3api"
	"s3mesh/s3api/s3apitest"
)

// TestStoreConformance runs the ObjectStore conformance battery against the
// store the servers here are built on.
func TestStoreConformance(t *testing.T) {
	s3apitest.TestObjectStore(t, func(t *testing.T) s3api.ObjectStore { return newTestStore(t) })
}
