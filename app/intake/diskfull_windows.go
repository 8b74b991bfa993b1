//go:build windows

package intake

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isDiskFull reports whether a write failed because the volume is full.
func isDiskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}
