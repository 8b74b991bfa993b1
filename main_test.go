package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// binary is the vaultdrop program built once for these tests, so they run
// it the way a user does: as a process with flags, environment and signals.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vaultdrop-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "vaultdrop")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command runs the binary to completion with stdin and returns its output.
func command(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "VAULTDROP_SCANNER=off")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// server is a running "vaultdrop serve" process.
type server struct {
	cmd    *exec.Cmd
	URL    string
	Stdout *bufio.Reader
	stderr *bytes.Buffer
}

// startServer starts the binary's server on a free port and waits until it
// prints its URL.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--scanner", "off"}, extra...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, Stdout: bufio.NewReader(stdout), stderr: &stderr}
	t.Cleanup(func() { s.stop(t) })

	line, err := s.Stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("server printed no URL: %v; stderr: %s", err, stderr.String())
	}
	s.URL = strings.TrimSpace(strings.TrimPrefix(line, "vaultdrop is listening on "))
	return s
}

// stop sends SIGTERM, as a service manager does, and waits for the exit.
func (s *server) stop(t *testing.T) error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("server did not stop within 10s of SIGINT")
		return <-done
	}
}

func TestVersionCommand(t *testing.T) {
	out, _, err := command(t, "", "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "vaultdrop ") || !strings.Contains(out, "commit") {
		t.Errorf("version output = %q", out)
	}
}

func TestFirstRunPrintsSetupURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dir)

	rest, _ := s.Stdout.ReadString('\n')
	rest, _ = s.Stdout.ReadString('\n')
	setupURL := strings.TrimSpace(rest)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/setup\?token=vdsetup_[A-Za-z0-9_-]{43}$`).MatchString(setupURL) {
		t.Fatalf("setup URL = %q", setupURL)
	}

	resp, err := http.Get(setupURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("setup page: status = %d, want 200", resp.StatusCode)
	}
	resp, err = http.Get(s.URL + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("setup without token: status = %d, want 404", resp.StatusCode)
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %o, want 700", perm)
	}
}

func TestUserAndTokenCommandsWhileServing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	if _, stderr, err := command(t, "correct horse battery staple\n", "user", "add", "alice", "--admin", "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatalf("user add: %v: %s", err, stderr)
	}
	if _, stderr, err := command(t, "another password\n", "user", "add", "alice", "--password-stdin", "--data-dir", dir); err == nil || !strings.Contains(stderr, "already exists") {
		t.Errorf("duplicate user add: err = %v, stderr = %q", err, stderr)
	}
	if _, stderr, err := command(t, "short\n", "user", "add", "bob", "--password-stdin", "--data-dir", dir); err == nil || !strings.Contains(stderr, "password must be") {
		t.Errorf("short password: err = %v, stderr = %q", err, stderr)
	}

	token, stderr, err := command(t, "", "token", "create", "--user", "alice", "--name", "laptop", "--data-dir", dir)
	if err != nil {
		t.Fatalf("token create: %v: %s", err, stderr)
	}
	token = strings.TrimSpace(token)
	if !regexp.MustCompile(`^vdt_[A-Za-z0-9_-]{43}$`).MatchString(token) {
		t.Fatalf("token output = %q, want the token alone", token)
	}

	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/files", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("API with the new token: status = %d, want 200", resp.StatusCode)
	}

	// The token's hash is stored, never the token.
	db, err := os.ReadFile(filepath.Join(dir, "vaultdrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(dir, "vaultdrop.db-wal"))
	if bytes.Contains(db, []byte(token)) || bytes.Contains(wal, []byte(token)) {
		t.Error("the database holds the token in clear text")
	}
}

func TestSecondServerOnSameDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	startServer(t, dir)

	_, stderr, err := command(t, "", "serve", "--data-dir", dir, "--addr", "127.0.0.1:0")
	if err == nil {
		t.Fatal("second server started")
	}
	if !strings.Contains(stderr, "already using the data directory") {
		t.Errorf("stderr = %q, want a clear message", stderr)
	}
}

func TestServerShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	if err := s.stop(t); err != nil {
		t.Fatalf("exit after SIGINT: %v; stderr: %s", err, s.stderr.String())
	}
	// The lock is released: a new server starts on the same directory.
	startServer(t, dir)
}

func TestTakenDefaultPortMovesOn(t *testing.T) {
	dir := t.TempDir()
	first := startServer(t, dir)
	addr := strings.TrimPrefix(first.URL, "http://")

	// Without --addr the default port may move; with an explicit taken
	// address the server must fail instead.
	_, stderr, err := command(t, "", "serve", "--data-dir", t.TempDir(), "--addr", addr)
	if err == nil || !strings.Contains(stderr, "address already in use") {
		t.Errorf("explicit taken address: err = %v, stderr = %q", err, stderr)
	}
}

func TestEnvironmentConfiguresFlags(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--help")
	out, _ := cmd.CombinedOutput()
	for _, want := range []string{"--max-file-size", "VAULTDROP_MAX_FILE_SIZE", "--data-dir", "VAULTDROP_DATA_DIR", "default 2 GiB"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}

	bad := exec.Command(binary, "serve", "--data-dir", t.TempDir())
	bad.Env = append(os.Environ(), "VAULTDROP_MAX_FILE_SIZE=lots")
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "VAULTDROP_MAX_FILE_SIZE") {
		t.Errorf("bad env value: err = %v, output = %q", err, out)
	}
}

func TestRescanCommand(t *testing.T) {
	d := clamavtest.Start(t, clamavtest.Options{})
	dir := t.TempDir()
	if _, stderr, err := command(t, "correct horse battery staple\n", "user", "add", "alice", "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatalf("user add: %v: %s", err, stderr)
	}

	out, stderr, err := command(t, "", "rescan", "--all", "--data-dir", dir, "--scanner", "clamd", "--clamd-address", d.SocketPath)
	if err != nil {
		t.Fatalf("rescan: %v: %s", err, stderr)
	}
	if !strings.Contains(out, "rescanning with clamd") || !strings.Contains(out, "scanned 0: 0 clean, 0 infected, 0 failed") {
		t.Errorf("rescan output = %q", out)
	}

	_, stderr, err = command(t, "", "rescan", "--data-dir", dir, "--scanner", "off")
	if err == nil || !strings.Contains(stderr, "rescan needs a scanner") {
		t.Errorf("rescan with scanning off: err = %v, stderr = %q", err, stderr)
	}
}
