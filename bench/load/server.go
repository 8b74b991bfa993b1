package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// proxyCIDR is the trusted proxy the clients pretend to sit behind: each
// client sends its own X-Forwarded-For address, so the per-address limits
// see 50 clients instead of one loopback address.
const proxyCIDR = "127.0.0.1/32"

// server is the vaultdrop process under load.
type server struct {
	cmd     *exec.Cmd
	url     string
	dataDir string
	binary  string
	exited  chan struct{}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// buildServer builds the module in the current folder into binary.
func buildServer(ctx context.Context, binary string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build vaultdrop (run from the repository root): %w\n%s", err, out)
	}
	return nil
}

// startServer starts "vaultdrop serve" on a free loopback port with the
// default limits, scanning off (the load test measures vaultdrop, not
// ClamAV) and no disk reserve, and waits for its URL.
func startServer(ctx context.Context, binary, dataDir, logPath string, o options) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(binary, "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0",
		"--scanner", "off", "--min-free-space", "0", "--trusted-proxies", proxyCIDR,
		"--max-file-size", strconv.Itoa(o.maxUpload+1<<20), "--log-level", "warn")
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	s := &server{cmd: cmd, dataDir: dataDir, binary: binary, exited: make(chan struct{})}

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	go func() {
		cmd.Wait()
		close(s.exited)
	}()

	select {
	case line := <-lines:
		s.url = strings.TrimSpace(strings.TrimPrefix(line, "vaultdrop is listening on "))
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("the server printed no URL within 30s; see %s", logPath)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") {
		s.stop()
		return nil, fmt.Errorf("the server printed %q, not a loopback URL; see %s", s.url, logPath)
	}
	return s, nil
}

// stop sends SIGINT and waits up to 30 seconds, then kills the process.
func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// command runs one vaultdrop command on the server's data directory and
// returns its standard output.
func (s *server) command(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.binary, append(args, "--data-dir", s.dataDir)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("vaultdrop %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// peakMemory returns the peak resident set size of pid in bytes, VmHWM in
// /proc/PID/status (Linux only).
func peakMemory(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's memory use: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		value, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM %q: %w", value, err)
		}
		return kib << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
