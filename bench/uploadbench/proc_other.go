//go:build !linux

package main

import (
	"syscall"
	"time"
)

// childAttr sets nothing outside Linux, which has no parent-death signal.
func childAttr() *syscall.SysProcAttr {
	return nil
}

// ownCPU returns 0 outside Linux, where the benchmark does not run.
func ownCPU() time.Duration { return 0 }
