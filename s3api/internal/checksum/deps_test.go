package checksum

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the package a leaf: the standard library only (plus the
// listed sibling packages), so that it stays pure and fuzzable.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	allowed := map[string]bool{
		"s3mesh/s3api/internal/checksum": true,
	}
	for _, dep := range strings.Fields(string(out)) {
		if !allowed[dep] {
			t.Errorf("forbidden dependency %s: this package may import the standard library only", dep)
		}
	}
}
