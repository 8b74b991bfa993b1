//go:build windows

package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// getConsoleProcessList is kernel32's GetConsoleProcessList, which
// golang.org/x/sys/windows does not wrap.
var getConsoleProcessList = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetConsoleProcessList")

// consoleProcessCount returns how many processes are attached to this
// process's console, or 0 when it has none or the call fails.
func consoleProcessCount() int {
	// The list is only needed for its length, but the call wants room for
	// at least one id.
	var ids [4]uint32
	n, _, _ := getConsoleProcessList.Call(uintptr(unsafe.Pointer(&ids[0])), uintptr(len(ids)))
	return int(n)
}
