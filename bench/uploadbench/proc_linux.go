package main

import (
	"syscall"
	"time"
)

// childAttr makes the kernel kill a server if the benchmark dies without
// stopping it, so no server outlives an interrupted run.
//
// NOTE: Linux sends the signal when the thread that started the child
// exits, not the process. Go keeps its threads alive unless a goroutine
// locked with runtime.LockOSThread exits, which this program never does.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// ownCPU returns the user and system time of the benchmark process.
func ownCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
