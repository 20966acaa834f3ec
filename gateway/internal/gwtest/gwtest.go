// Package gwtest holds the fixtures the gateway's packages share in their
// tests: well-known CIDs, a fixed clock, and the switch for heavy tests.
// It imports none of the gateway's packages, so any of their tests may
// import it.
package gwtest

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// EmptyFileCID is what `ipfs add --cid-version=1 --raw-leaves` gives for an
// empty file: the CID of the empty raw block.
const EmptyFileCID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

// FixedTime is the time tests stamp records with.
var FixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// HeavyEnv is the environment variable that turns on heavy tests (the
// integration suite sets it).
const HeavyEnv = "S3MESH_HEAVY"

// Heavy skips t unless HeavyEnv is set; what says what the test does.
func Heavy(t testing.TB, what string) {
	t.Helper()
	if testing.Short() || os.Getenv(HeavyEnv) == "" {
		t.Skipf("%s; set %s=1 to run", what, HeavyEnv)
	}
}

// RandBytes returns size bytes of a pseudo-random stream given by seed:
// the same bytes for the same seed.
func RandBytes(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
