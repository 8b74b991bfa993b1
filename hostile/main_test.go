package hostile

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// Passwords of the two accounts every test server starts with.
const (
	alicePassword = "correct horse battery staple"
	bobPassword   = "another long passphrase"
)

var (
	// programPath is the vaultdrop program, built once for the whole package.
	programPath string

	// templateDir is a data directory holding alice (an admin) and bob,
	// each with one API token. Every server starts from a copy of it, so
	// the slow argon2id hashing of the CLI runs once per package.
	templateDir string

	// aliceToken and bobToken are the API tokens in templateDir.
	aliceToken string
	bobToken   string

	// sharedClamd is one clamd with the test signature database, for the
	// tests that need a scanner but no special clamd limits.
	sharedClamd clamavtest.Shared

	// knownFlags are the flags "vaultdrop serve --help" lists. Tests pass
	// a flag that a newer feature adds only when the binary accepts it.
	knownFlags = map[string]bool{}

	// sharedServers are the servers that several tests use in turn; they
	// are stopped after every test has run.
	sharedServers   = map[string]*server{}
	sharedServersMu sync.Mutex
)

func TestMain(m *testing.M) {
	// Most tests wait on a server, a timer or clamd rather than the CPU, and
	// tests that share a server take turns on its lock, so four run at once
	// unless -parallel sets another number.
	flag.Parse()
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		flag.Set("test.parallel", "4")
	}

	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// runTests builds the binary and the template data directory, runs the
// tests and then stops the shared servers and the shared clamd.
func runTests(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "vaultdrop-hostile")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	programPath = filepath.Join(dir, "vaultdrop")
	build := exec.Command("go", "build", "-o", programPath, "github.com/vaultdrop/vaultdrop")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build vaultdrop: %w\n%s", err, out)
	}

	if err := readKnownFlags(); err != nil {
		return 0, err
	}

	templateDir = filepath.Join(dir, "template")
	if err := makeTemplate(templateDir); err != nil {
		return 0, err
	}

	code := m.Run()

	sharedServersMu.Lock()
	for _, s := range sharedServers {
		s.stop()
		os.RemoveAll(s.sharedDir)
	}
	sharedServersMu.Unlock()
	sharedClamd.Stop()
	return code, nil
}

// readKnownFlags fills knownFlags from the serve command's help.
func readKnownFlags() error {
	out, _ := exec.Command(programPath, "serve", "--help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		name, ok := strings.CutPrefix(line, "  --")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		knownFlags[name] = true
	}
	if !knownFlags["max-file-size"] {
		return fmt.Errorf("vaultdrop serve --help lists no --max-file-size:\n%s", out)
	}
	return nil
}

// makeTemplate creates alice and bob and a token for each with the CLI, as
// an operator would.
func makeTemplate(dataDir string) error {
	if _, err := runCLI(alicePassword+"\n", "user", "add", "alice", "--admin", "--password-stdin", "--data-dir", dataDir); err != nil {
		return err
	}
	if _, err := runCLI(bobPassword+"\n", "user", "add", "bob", "--password-stdin", "--data-dir", dataDir); err != nil {
		return err
	}

	out, err := runCLI("", "token", "create", "--user", "alice", "--name", "hostile", "--data-dir", dataDir)
	if err != nil {
		return err
	}
	aliceToken = strings.TrimSpace(out)

	out, err = runCLI("", "token", "create", "--user", "bob", "--name", "hostile", "--data-dir", dataDir)
	if err != nil {
		return err
	}
	bobToken = strings.TrimSpace(out)
	return nil
}

// runCLI runs one vaultdrop command to completion and returns its standard
// output.
func runCLI(stdin string, args ...string) (string, error) {
	cmd := exec.Command(programPath, args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("vaultdrop %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// cleanEnv is the test's environment without VAULTDROP_* variables, so a
// developer's own settings cannot change what a test server does.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULTDROP_") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

// copyDataDir copies the template's files into a new data directory.
func copyDataDir(to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(templateDir)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if !entry.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(templateDir, entry.Name()), filepath.Join(to, entry.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()

	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}
