//go:build !windows

package intake

import (
	"errors"
	"syscall"
)

// isDiskFull reports whether a write failed because the disk or the user's
// disk quota is full.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
