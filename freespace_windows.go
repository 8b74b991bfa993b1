//go:build windows

package main

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// diskFree returns the bytes available to this process on the volume that
// holds path.
func diskFree(path string) (uint64, error) {
	dir, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	var free uint64
	if err := windows.GetDiskFreeSpaceEx(dir, &free, nil, nil); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	return free, nil
}
