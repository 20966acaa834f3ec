package gateway

import (
	"testing"

	"s3mesh/blockstore"
	"s3mesh/s3api"
	"s3mesh/s3api/s3apitest"
)

// TestObjectStoreConformance runs the s3api conformance battery against a
// Node on disk, with the default configuration and with small chunks (so
// the battery's objects span many blocks) on each block store backend.
func TestObjectStoreConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"chunk4KiB-pebble", Config{ChunkSize: 4096, BlockstoreBackend: blockstore.BackendPebble}},
		{"chunk4KiB-flatfs", Config{ChunkSize: 4096, BlockstoreBackend: blockstore.BackendFlatfs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s3apitest.TestObjectStore(t, func(t *testing.T) s3api.ObjectStore {
				cfg := tc.cfg
				cfg.DataDir = t.TempDir()
				n, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { n.Close() })
				return n
			})
		})
	}
}
