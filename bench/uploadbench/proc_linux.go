package main

import "syscall"

// childAttr makes the kernel kill a server if the benchmark dies without
// stopping it, so no server outlives an interrupted run.
//
// NOTE: Linux sends the signal when the thread that started the child
// exits, not the process. Go keeps its threads alive unless a goroutine
// locked with runtime.LockOSThread exits, which this program never does.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
