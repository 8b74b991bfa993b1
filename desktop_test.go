package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDoubleClicked(t *testing.T) {
	tests := []struct {
		name string
		f    launchFacts
		want bool
	}{
		{"windows explorer", launchFacts{goos: "windows", consoleProcesses: 1, stdinTerminal: true}, true},
		{"windows shortcut with flags", launchFacts{goos: "windows", args: []string{"--data-dir", `D:\drop`}, consoleProcesses: 1, stdinTerminal: true}, true},
		{"windows cmd.exe", launchFacts{goos: "windows", consoleProcesses: 2, stdinTerminal: true}, false},
		{"windows service without console", launchFacts{goos: "windows", consoleProcesses: 0}, false},
		{"linux file manager", launchFacts{goos: "linux", graphicalSession: true}, true},
		{"linux wayland file manager", launchFacts{goos: "linux", graphicalSession: true}, true},
		{"linux terminal", launchFacts{goos: "linux", stdinTerminal: true, graphicalSession: true}, false},
		{"linux with arguments", launchFacts{goos: "linux", args: []string{"serve"}, graphicalSession: true}, false},
		{"linux container without display", launchFacts{goos: "linux"}, false},
		{"freebsd file manager", launchFacts{goos: "freebsd", graphicalSession: true}, true},
		{"macos app launch", launchFacts{goos: "darwin"}, true},
		{"macos terminal", launchFacts{goos: "darwin", stdinTerminal: true}, false},
		{"macos launchd with arguments", launchFacts{goos: "darwin", args: []string{"serve", "--addr", "127.0.0.1:8080"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := doubleClicked(tt.f); got != tt.want {
				t.Errorf("doubleClicked(%+v) = %t, want %t", tt.f, got, tt.want)
			}
		})
	}
}

// fakeBrowser puts an xdg-open on PATH that records the URL it is asked to
// open, and returns the PATH value and the record file. A real desktop
// browser cannot run on a CI machine.
func fakeBrowser(t *testing.T) (path, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "opened")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$1\" >> %q\n", record)
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH"), record
}

// startDesktop runs the binary as a double-click on Linux does: no
// arguments, standard input not a terminal, a graphical session, and HOME
// pointing at a fresh folder so the default data folder is the test's.
// It returns the console output up to the stop instructions.
func startDesktop(t *testing.T, home, path string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME=", "DISPLAY=:99", "PATH="+path,
		"VAULTDROP_SCANNER=off", "VAULTDROP_ADDR=")
	cmd.Stdin = nil // /dev/null, as a file manager gives
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd}
	t.Cleanup(func() { s.stop(t) })

	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "To stop vaultdrop") {
			return out.String()
		}
	}
	t.Fatalf("desktop launch printed no stop instructions; output:\n%s", out.String())
	return ""
}

// waitForRecord waits for the fake browser to record lines URLs.
func waitForRecord(t *testing.T, record string, lines int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(record)
		got := strings.Fields(string(data))
		if len(got) >= lines {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser was opened %d times, want %d", len(got), lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOwnsConsoleWindow(t *testing.T) {
	tests := []struct {
		name string
		f    launchFacts
		want bool
	}{
		{"windows explorer", launchFacts{goos: "windows", consoleProcesses: 1, stdinTerminal: true}, true},
		{"windows cmd.exe", launchFacts{goos: "windows", consoleProcesses: 2, stdinTerminal: true}, false},
		{"windows service without console", launchFacts{goos: "windows", consoleProcesses: 0}, false},
		{"linux file manager", launchFacts{goos: "linux", graphicalSession: true}, false},
		{"macos app launch", launchFacts{goos: "darwin"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownsConsoleWindow(tt.f); got != tt.want {
				t.Errorf("ownsConsoleWindow(%+v) = %t, want %t", tt.f, got, tt.want)
			}
		})
	}
}

func TestWaitForEnterReturnsOnEnter(t *testing.T) {
	var out strings.Builder
	keys, typed := io.Pipe()
	defer typed.Close()
	returned := make(chan struct{})
	go func() {
		waitForEnter(&out, keys)
		close(returned)
	}()

	select {
	case <-returned:
		t.Fatal("waitForEnter returned before Enter was pressed")
	case <-time.After(100 * time.Millisecond):
	}
	typed.Write([]byte("\n"))
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("waitForEnter did not return after Enter")
	}

	if !strings.Contains(out.String(), "Press Enter to close this window.") {
		t.Errorf("prompt = %q", out.String())
	}
}

func TestWaitForEnterReturnsWithoutInput(t *testing.T) {
	var out strings.Builder
	returned := make(chan struct{})
	go func() {
		// Standard input that is closed, or not a console at all, must not
		// keep a failed start from exiting.
		waitForEnter(&out, strings.NewReader(""))
		close(returned)
	}()

	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("waitForEnter still waits after standard input ended")
	}
}

func TestDoubleClickOpensSetupThenSignIn(t *testing.T) {
	home := t.TempDir()
	path, record := fakeBrowser(t)

	out := startDesktop(t, home, path)
	dataDir := filepath.Join(home, ".local", "share", "vaultdrop")
	if !strings.Contains(out, dataDir) {
		t.Errorf("console output lacks the data folder %s:\n%s", dataDir, out)
	}
	if !strings.Contains(out, "Ctrl+C") {
		t.Errorf("console output lacks how to stop:\n%s", out)
	}

	opened := waitForRecord(t, record, 1)[0]
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/setup\?token=vdsetup_[A-Za-z0-9_-]{43}$`).MatchString(opened) {
		t.Fatalf("browser opened %q, want the setup URL on 127.0.0.1", opened)
	}
	resp, err := http.Get(opened)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("setup page from the browser URL: status %d, want 200", resp.StatusCode)
	}
}

func TestDesktopOpensSignInOnceSetUp(t *testing.T) {
	dataDir := t.TempDir()
	if _, stderr, err := command(t, "correct horse battery staple\n", "user", "add", "alice", "--admin", "--password-stdin", "--data-dir", dataDir); err != nil {
		t.Fatalf("user add: %v: %s", err, stderr)
	}
	path, record := fakeBrowser(t)

	startDesktop(t, t.TempDir(), path, "--desktop", "--data-dir", dataDir)

	opened := waitForRecord(t, record, 1)[0]
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/login$`).MatchString(opened) {
		t.Errorf("browser opened %q, want the sign-in page on 127.0.0.1", opened)
	}
}

func TestDesktopNoBrowser(t *testing.T) {
	path, record := fakeBrowser(t)

	out := startDesktop(t, t.TempDir(), path, "--desktop", "--no-browser", "--data-dir", t.TempDir())

	if !strings.Contains(out, "/setup?token=") {
		t.Errorf("console output lacks the setup URL:\n%s", out)
	}
	time.Sleep(200 * time.Millisecond) // the browser would be opened right after the output
	if _, err := os.Stat(record); err == nil {
		t.Error("the browser was opened despite --no-browser")
	}
}

func TestServeFromTerminalIsNotDesktop(t *testing.T) {
	path, record := fakeBrowser(t)

	// Arguments mean a shell or a service manager started it.
	cmd := exec.Command(binary, "serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--scanner", "off")
	cmd.Env = append(os.Environ(), "DISPLAY=:99", "PATH="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd}
	t.Cleanup(func() { s.stop(t) })

	lines := bufio.NewReader(stdout)
	for range 3 {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, "To stop vaultdrop") {
			t.Errorf("a server with arguments printed the desktop instructions: %q", line)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(record); err == nil {
		t.Error("a server with arguments opened the browser")
	}
}
