package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// memory is a process's resident set size now and its peak, in bytes, as
// Linux reports them in /proc/PID/status (VmRSS and VmHWM).
type memory struct {
	rss  int64
	peak int64
}

// readMemory reads VmRSS and VmHWM of pid.
func readMemory(pid int) (memory, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return memory{}, fmt.Errorf("read memory use of process %d: %w", pid, err)
	}

	var m memory
	var found int
	lines := bufio.NewScanner(bytes.NewReader(data))
	for lines.Scan() {
		key, value, ok := strings.Cut(lines.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("parse %s in %s: %q: %w", key, path, value, err)
		}
		if key == "VmRSS" {
			m.rss = kib << 10
		} else {
			m.peak = kib << 10
		}
		found++
	}
	if found != 2 {
		return memory{}, fmt.Errorf("read memory use of process %d: %s has no VmRSS and VmHWM lines", pid, path)
	}
	return m, nil
}

// resetPeak sets the peak resident set size of pid back to its current one
// by writing 5 to /proc/PID/clear_refs, and checks that the kernel did so.
// VmHWM is otherwise the peak over the process's whole life, so without
// the reset a second large upload would report the first one's peak.
// It returns the resident set size at the reset.
func resetPeak(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/clear_refs", pid)
	if err := os.WriteFile(path, []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("reset peak memory of process %d: write %s: %w", pid, path, err)
	}

	m, err := readMemory(pid)
	if err != nil {
		return 0, err
	}
	// Right after a reset the peak equals the current size. Allow 1 MiB
	// for memory the server touched between the write and the read.
	if m.peak > m.rss+1<<20 {
		return 0, fmt.Errorf("reset peak memory of process %d: VmHWM is still %d bytes against a VmRSS of %d after writing 5 to %s; this kernel does not support resetting it",
			pid, m.peak, m.rss, path)
	}
	return m.rss, nil
}
