package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat:
// 100 on x86-64 and arm64 Linux, as `getconf CLK_TCK` prints.
const clockTicks = 100

// cpuTimes are the CPU time used by a server and by the benchmark's own
// client over one transfer, user and system time together.
type cpuTimes struct {
	server time.Duration
	client time.Duration
}

// cpuMeter takes CPU times at the start of a transfer and returns what was
// used since.
type cpuMeter struct {
	pid    int
	server time.Duration
	client time.Duration
}

func startCPUMeter(pid int) (cpuMeter, error) {
	server, err := processCPU(pid)
	if err != nil {
		return cpuMeter{}, err
	}
	return cpuMeter{pid: pid, server: server, client: ownCPU()}, nil
}

func (m cpuMeter) stop() (cpuTimes, error) {
	server, err := processCPU(m.pid)
	if err != nil {
		return cpuTimes{}, err
	}
	return cpuTimes{server: server - m.server, client: ownCPU() - m.client}, nil
}

// processCPU returns the user and system time of every thread of pid, from
// fields 14 and 15 of /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}

	// The command name in brackets may contain spaces, so the fields are
	// counted from the last closing bracket, which ends it.
	end := strings.LastIndexByte(string(data), ')')
	if end < 0 {
		return 0, fmt.Errorf("read CPU time of process %d: %s has no command name: %q", pid, path, data)
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("read CPU time of process %d: %s has %d fields after the command name, want at least 13", pid, path, len(fields))
	}

	var ticks int64
	for _, field := range fields[11:13] { // utime and stime
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse CPU time in %s: %q: %w", path, field, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
