//go:build unix

package store

import (
	"errors"
	"fmt"
	"syscall"
)

// errSyncDirUnsupported never matches on Unix, where folders can be synced.
var errSyncDirUnsupported = errors.New("folder sync unsupported")

// FreeSpace returns the bytes available to this process on the vault's file
// system.
func (v *Vault) FreeSpace() (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(v.dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", v.dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}
