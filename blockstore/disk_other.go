//go:build !(linux || darwin)

package blockstore

import "errors"

// Disk is not implemented on this platform: it always fails.
func Disk(string) (free, total uint64, err error) {
	return 0, 0, errors.New("disk usage: not supported on this platform")
}
