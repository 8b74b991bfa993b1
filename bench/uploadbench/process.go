package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// startTimeout bounds the wait for a server's "listening on" line.
	startTimeout = 30 * time.Second
	// stopTimeout is how long a server may take to exit after SIGTERM
	// before it gets SIGKILL.
	stopTimeout = 15 * time.Second
)

// process is a server that the benchmark started. Its standard output and
// standard error go to logPath.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

// pid returns the process id, which the benchmark uses to read the
// process's memory use and to stop it.
func (p *process) pid() int { return p.cmd.Process.Pid }

// startServer starts bin with args and waits until it prints a line that
// contains marker followed by its URL, such as "listening on
// http://127.0.0.1:41234". It returns the process and that URL.
func startServer(ctx context.Context, name, bin, logPath, marker string, args ...string) (*process, string, error) {
	// O_APPEND on both handles keeps the server's standard error and the
	// copied standard output from overwriting each other.
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("create log file for %s: %w", name, err)
	}
	defer logFile.Close()

	// An os.Pipe instead of cmd.StdoutPipe, because Wait closes the latter
	// when the process exits, possibly before its last lines were read.
	stdout, stdoutWriter, err := os.Pipe()
	if err != nil {
		return nil, "", fmt.Errorf("create output pipe for %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	cmd.Stdout = stdoutWriter
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	err = cmd.Start()
	stdoutWriter.Close() // the child has its own copy now
	if err != nil {
		stdout.Close()
		return nil, "", fmt.Errorf("start %s (%s): %w", name, bin, err)
	}

	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	urls := make(chan string, 1)
	// The copy holds its own handle on the log, so logFile can close here.
	go copyOutput(stdout, logPath, marker, urls)
	go func() {
		cmd.Wait()
		close(p.exited)
	}()

	url, err := p.waitForURL(ctx, urls)
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, url, nil
}

// copyOutput appends a server's standard output to its log, until the
// server closes it, and sends the URL that follows marker on the first line
// that contains it.
func copyOutput(stdout io.ReadCloser, logPath, marker string, urls chan<- string) {
	defer stdout.Close()
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		log = nil // the URL still matters more than the log
	}
	defer log.Close()

	sent := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if log != nil {
			fmt.Fprintln(log, line)
		}
		if _, after, found := strings.Cut(line, marker); found && !sent {
			urls <- strings.TrimSpace(after)
			sent = true
		}
	}
}

func (p *process) waitForURL(ctx context.Context, urls <-chan string) (string, error) {
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()

	select {
	case url := <-urls:
		return url, nil
	case <-p.exited:
		return "", fmt.Errorf("%s exited during start: %s\n%s", p.name, p.cmd.ProcessState, p.logTail())
	case <-timer.C:
		return "", fmt.Errorf("%s printed no address within %s\n%s", p.name, startTimeout, p.logTail())
	case <-ctx.Done():
		return "", fmt.Errorf("start %s: %w", p.name, ctx.Err())
	}
}

// stop sends SIGTERM to the process by its PID, and SIGKILL if it is still
// running after stopTimeout. Calling it again after the exit is harmless.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail returns the last lines of the process's log, for error messages.
func (p *process) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

// childEnv is the benchmark's environment without VAULTDROP_* variables,
// so that vaultdrop settings in the caller's environment cannot change what
// is measured.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULTDROP_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCommand runs a short command to its end and returns its standard
// output. stdin may be empty.
func runCommand(ctx context.Context, dir, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("run %s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// repoRoot returns the folder of the module's go.mod, where the benchmark
// builds vaultdrop.
func repoRoot(ctx context.Context) (string, error) {
	out, err := runCommand(ctx, "", "", "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(out)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the vaultdrop module: run the benchmark from the repository, as go run ./bench/uploadbench")
	}
	return filepath.Dir(gomod), nil
}

// buildBinaries builds vaultdrop from source and the reference server from
// repo into binDir.
func buildBinaries(ctx context.Context, source, repo, binDir string) (vaultdrop, refserver string, err error) {
	vaultdrop = filepath.Join(binDir, "vaultdrop")
	refserver = filepath.Join(binDir, "refserver")
	if _, err := runCommand(ctx, source, "", "go", "build", "-o", vaultdrop, "."); err != nil {
		return "", "", err
	}
	if _, err := runCommand(ctx, repo, "", "go", "build", "-o", refserver, "./bench/refserver"); err != nil {
		return "", "", err
	}
	return vaultdrop, refserver, nil
}
