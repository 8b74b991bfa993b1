package clamavtest

import "syscall"

var sigterm = syscall.SIGTERM

// childAttr makes the kernel kill clamd when the test binary dies, so that a
// crashed or interrupted test run leaves no daemon behind.
//
// NOTE: Linux sends the signal when the thread that started clamd exits.
// Go keeps its threads until a goroutine locked with runtime.LockOSThread
// exits, so calling Start from such a goroutine can kill clamd early.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
