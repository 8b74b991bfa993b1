//go:build !windows

package main

// consoleProcessCount is 0 outside Windows, where consoles are not shared
// by process lists.
func consoleProcessCount() int { return 0 }
