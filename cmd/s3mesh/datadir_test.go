package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareDataDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(tmp, "locked")
	if err := os.Mkdir(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		want      string // "" = no error
		nonRoot   bool   // root writes anywhere
	}{
		{"new", filepath.Join(tmp, "a", "b"), "", false},
		{"existing", tmp, "", false},
		{"a file", file, "choose another with --data", false},
		{"under a file", filepath.Join(file, "sub"), "choose another with --data", false},
		{"not writable", locked, "not writable by this user", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.nonRoot && os.Getuid() == 0 {
				t.Skip("root writes to any directory")
			}
			err := prepareDataDir(tt.dir)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("prepareDataDir: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("prepareDataDir = %v, want an error saying %q", err, tt.want)
			}
			if tt.want == "" {
				if left, _ := filepath.Glob(filepath.Join(tt.dir, ".s3mesh-probe-*")); len(left) > 0 {
					t.Errorf("probe files left: %q", left)
				}
			}
		})
	}
}
