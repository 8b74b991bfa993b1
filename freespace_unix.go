//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// diskFree returns the bytes available to this process on the file system
// that holds path.
func diskFree(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	// The field types differ between systems (int64 on FreeBSD).
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
