//go:build windows

package store

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/windows"
)

// errSyncDirUnsupported is what Windows returns for FlushFileBuffers on a
// folder handle; NTFS orders the rename's metadata itself.
var errSyncDirUnsupported error = syscall.ERROR_ACCESS_DENIED

// FreeSpace returns the bytes available to this process on the vault's
// volume.
func (v *Vault) FreeSpace() (uint64, error) {
	dir, err := windows.UTF16PtrFromString(v.dir)
	if err != nil {
		return 0, fmt.Errorf("free space of %s: %w", v.dir, err)
	}
	var free uint64
	if err := windows.GetDiskFreeSpaceEx(dir, &free, nil, nil); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", v.dir, err)
	}
	return free, nil
}
