//go:build linux || darwin

package blockstore

import (
	"fmt"
	"syscall"
)

// Disk returns the free and total bytes of the file system holding dir,
// free meaning available to an unprivileged writer (statfs f_bavail).
func Disk(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("disk space of %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
