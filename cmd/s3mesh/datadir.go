package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// prepareDataDir creates dir if needed and makes sure this process can
// write to it, so that a data directory the node cannot use fails at once
// with what to do, rather than later with a bare "permission denied".
func prepareDataDir(dir string) error {
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, ".s3mesh-probe-*"); err == nil {
			name := f.Name()
			f.Close()
			return os.Remove(name)
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("data directory %s is not writable by this user (uid %d): make this user its owner (chown -R), or choose another with --data", dir, os.Getuid())
	}
	return fmt.Errorf("data directory %s: %w (choose another with --data)", dir, err)
}
