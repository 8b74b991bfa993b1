//go:build !linux

package main

import "syscall"

// childAttr sets nothing outside Linux, which has no parent-death signal.
func childAttr() *syscall.SysProcAttr {
	return nil
}
