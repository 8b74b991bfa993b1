package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// machine describes where the benchmark ran. A field that could not be read
// contains "unknown" and the reason, instead of failing the run.
type machine struct {
	cpu        string
	cores      int // logical CPUs this process may use
	memory     string
	filesystem string // of the temporary folder both servers write to
	kernel     string
	goVersion  string
	loadAvg    string // 1, 5 and 15 minute load averages at the start
}

func describeMachine(work string) machine {
	return machine{
		cpu:        cpuModel(),
		cores:      runtime.NumCPU(),
		memory:     totalMemory(),
		filesystem: filesystemOf(work),
		kernel:     readTrimmed("/proc/sys/kernel/osrelease"),
		goVersion:  runtime.Version(),
		loadAvg:    loadAverage(),
	}
}

// cpuModel returns the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()

	lines := bufio.NewScanner(f)
	for lines.Scan() {
		key, value, ok := strings.Cut(lines.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown (no model name in /proc/cpuinfo)"
}

// totalMemory returns MemTotal from /proc/meminfo in GiB.
func totalMemory() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()

	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				break
			}
			return fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	return "unknown (no MemTotal in /proc/meminfo)"
}

// filesystemOf returns the type and device of the file system that holds
// path, from the mount in /proc/self/mountinfo with the longest mount point
// that contains it.
func filesystemOf(path string) string {
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()

	best, found := "", ""
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		// Fields: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(lines.Text())
		sep := slices.Index(fields, "-")
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) {
			continue
		}
		mountPoint := fields[4]
		if !within(path, mountPoint) || len(mountPoint) < len(best) {
			continue
		}
		best = mountPoint
		found = fmt.Sprintf("%s on %s, mounted at %s", fields[sep+1], fields[sep+2], mountPoint)
	}
	if found == "" {
		return "unknown (no mount contains " + path + ")"
	}
	return found
}

func within(path, mountPoint string) bool {
	return mountPoint == "/" || path == mountPoint || strings.HasPrefix(path, mountPoint+"/")
}

// loadAverage returns the first three fields of /proc/loadavg. Other
// people's work on a shared machine shows up here.
func loadAverage() string {
	fields := strings.Fields(readTrimmed("/proc/loadavg"))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(data))
}
