// Package deptest checks, in a package's tests, that the package does not
// depend on what the design forbids it to, directly or through another
// package (after Tailscale's tstest/deptest).
package deptest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// DepChecker lists a package's forbidden dependencies, each with the reason.
type DepChecker struct {
	// Pkg is the import path of the package checked.
	Pkg string
	// BadDeps maps a forbidden import path, or a prefix ending in "/", to
	// why it is forbidden.
	BadDeps map[string]string
	// BadImports maps an import path the package must not import directly
	// (it may still reach it through a permitted package) to why.
	BadImports map[string]string
	// OnlyStd forbids every dependency outside the standard library and
	// the module's packages named in Allow.
	OnlyStd bool
	// Allow lists module packages OnlyStd still permits.
	Allow []string
}

// Check fails t for every forbidden dependency of Pkg (non-test builds only).
func (c DepChecker) Check(t *testing.T) {
	t.Helper()
	if len(c.BadImports) > 0 {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, c.Pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", c.Pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if why, bad := c.BadImports[imp]; bad {
				t.Errorf("%s imports %s: %s", c.Pkg, imp, why)
			}
		}
	}
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard", c.Pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", c.Pkg, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Standard   bool
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.ImportPath == c.Pkg {
			continue
		}
		for bad, why := range c.BadDeps {
			if p.ImportPath == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(p.ImportPath, bad)) {
				t.Errorf("%s depends on %s: %s", c.Pkg, p.ImportPath, why)
			}
		}
		if c.OnlyStd && !p.Standard && !allowed(p.ImportPath, c.Allow) {
			t.Errorf("%s must use the standard library only, but depends on %s", c.Pkg, p.ImportPath)
		}
	}
}

func allowed(path string, allow []string) bool {
	for _, a := range allow {
		if path == a {
			return true
		}
	}
	return false
}
