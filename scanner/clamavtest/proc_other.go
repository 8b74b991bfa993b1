//go:build !linux

package clamavtest

import "syscall"

var sigterm = syscall.SIGTERM

// childAttr returns no attributes: only Linux can tie the child's life to
// the test binary.
//
// NOTE: outside Linux a test binary that crashes leaves its clamd running
// until it is stopped by hand.
func childAttr() *syscall.SysProcAttr {
	return nil
}
