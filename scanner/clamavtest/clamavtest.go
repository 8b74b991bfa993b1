// Package clamavtest runs a real clamd for tests, loaded with a tiny
// signature database of its own, so that tests exercise the INSTREAM
// protocol, the verdicts and the size limits of a real ClamAV engine
// without downloading the official databases.
//
// The daemon listens on a unix socket in a short directory under /tmp and on
// a free TCP port on 127.0.0.1, and it runs as the user running the tests.
// Tests skip when clamd or clamscan is not installed, unless
// VAULTDROP_TEST_REQUIRE_CLAMAV=1 makes a missing ClamAV a failure.
package clamavtest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// Marker is the content of a made-up test signature. A file that
	// contains it is reported as MarkerSignature.
	Marker = "CUSTOM-AV-TEST-MARKER-6f1e2d3c4b5a"

	// EICARSignature is the name clamd reports for the EICAR test file.
	// clamd appends ".UNOFFICIAL" to signatures from a local database.
	EICARSignature = "Eicar-Test-Signature.UNOFFICIAL"

	// MarkerSignature is the name clamd reports for a file containing Marker.
	MarkerSignature = "Custom.Test.Marker.UNOFFICIAL"

	// DefaultStreamMaxLength is the StreamMaxLength used when Options leaves
	// it zero. It is small so that tests can exceed it quickly.
	DefaultStreamMaxLength = 8 << 20

	// RequireEnv is the environment variable that turns a missing ClamAV
	// into a test failure instead of a skip, for CI machines that must run
	// these tests.
	RequireEnv = "VAULTDROP_TEST_REQUIRE_CLAMAV"
)

// ErrNotInstalled means clamd or clamscan was not found on this machine.
var ErrNotInstalled = errors.New("ClamAV is not installed: install Debian's clamav and clamav-daemon packages (apt-get install clamav clamav-daemon)")

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	bindAttempts = 3
)

// Options sets the clamd limits that a test needs. The zero value gives a
// daemon whose MaxFileSize equals its StreamMaxLength, so that every stream
// clamd accepts is also scanned.
type Options struct {
	// StreamMaxLength is the largest INSTREAM in bytes that clamd accepts.
	// Zero means DefaultStreamMaxLength.
	StreamMaxLength int64

	// MaxFileSize is the size in bytes above which clamd skips a file.
	// Zero means StreamMaxLength.
	MaxFileSize int64

	// MaxScanSize caps the bytes scanned per file, archive contents
	// included. Zero keeps clamd's default.
	MaxScanSize int64

	// QuietExceedsMax makes clamd report files over its limits as clean
	// without scanning them, as clamd does by default. Without it the test
	// clamd sets AlertExceedsMax and reports them as
	// Heuristics.Limits.Exceeded.*, so no test can take a skipped file for
	// a clean one by accident.
	QuietExceedsMax bool

	// AlertEncrypted reports encrypted archives and documents as
	// Heuristics.Encrypted.*.
	AlertEncrypted bool

	// ReadTimeout is how long clamd waits for more data from a client, in
	// whole seconds. Zero keeps clamd's default of 120 seconds.
	ReadTimeout time.Duration
}

// Daemon is a running clamd started by Start or Launch.
type Daemon struct {
	SocketPath      string // unix socket, shorter than the 108-byte limit
	TCPAddr         string // 127.0.0.1:PORT
	DatabaseDir     string // signature database, usable as clamscan -d
	ConfigPath      string // clamd.conf
	LogPath         string // clamd's LogFile
	PID             int
	StreamMaxLength int64
	MaxFileSize     int64

	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
}

// Start starts a clamd with opts and stops it when the test ends. It skips
// the test when ClamAV is not installed, or fails it when RequireEnv is 1.
func Start(t testing.TB, opts Options) *Daemon {
	t.Helper()

	d, err := Launch(opts)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(d.Stop)

	return d
}

// Launch starts a clamd with opts outside of any one test, for example from
// a TestMain. The caller must call Stop. It returns an error wrapping
// ErrNotInstalled when clamd or clamscan is missing.
func Launch(opts Options) (*Daemon, error) {
	clamd, err := findProgram("clamd")
	if err != nil {
		return nil, err
	}
	if _, err := findProgram("clamscan"); err != nil {
		return nil, err
	}

	// Unix socket paths must stay under 108 bytes, and t.TempDir paths
	// grow with the test name, so the directory lives directly in /tmp.
	dir, err := os.MkdirTemp("/tmp", "clamd")
	if err != nil {
		return nil, fmt.Errorf("create clamd directory: %w", err)
	}

	d, err := launchIn(dir, clamd, opts, freePort)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	return d, nil
}

// launchIn starts clamd with its files in dir, taking TCP ports from
// nextPort until one binds.
func launchIn(dir, clamd string, opts Options, nextPort func() (int, error)) (*Daemon, error) {
	d := newDaemon(dir, opts)
	if err := d.writeDatabase(); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("create clamd temporary directory: %w", err)
	}

	var err error
	for range bindAttempts {
		err = d.startOnce(clamd, opts, nextPort)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, errBind) {
			return nil, err
		}
	}

	return nil, fmt.Errorf("start clamd after %d attempts: %w", bindAttempts, err)
}

func newDaemon(dir string, opts Options) *Daemon {
	streamMax := opts.StreamMaxLength
	if streamMax == 0 {
		streamMax = DefaultStreamMaxLength
	}
	fileMax := opts.MaxFileSize
	if fileMax == 0 {
		fileMax = streamMax
	}

	return &Daemon{
		SocketPath:      filepath.Join(dir, "clamd.sock"),
		DatabaseDir:     filepath.Join(dir, "db"),
		ConfigPath:      filepath.Join(dir, "clamd.conf"),
		LogPath:         filepath.Join(dir, "clamd.log"),
		StreamMaxLength: streamMax,
		MaxFileSize:     fileMax,
		dir:             dir,
	}
}

// writeDatabase writes test.ndb with body signatures of the form
// Name:TargetType:Offset:HexBytes. Target type 0 and offset * match the
// bytes anywhere in any file, archive members included.
func (d *Daemon) writeDatabase() error {
	if err := os.Mkdir(d.DatabaseDir, 0o700); err != nil {
		return fmt.Errorf("create signature directory: %w", err)
	}

	ndb := "Eicar-Test-Signature:0:*:" + hex.EncodeToString(eicar()) + "\n" +
		"Custom.Test.Marker:0:*:" + hex.EncodeToString([]byte(Marker)) + "\n"
	path := filepath.Join(d.DatabaseDir, "test.ndb")
	if err := os.WriteFile(path, []byte(ndb), 0o600); err != nil {
		return fmt.Errorf("write signature database %s: %w", path, err)
	}

	return nil
}

// eicar builds the 68-byte EICAR test string from two halves, so that this
// source file does not itself match antivirus signatures.
// eicar duplicates scanner.EICAR, because the scanner package's own tests
// import this package and so it cannot import the scanner package.
func eicar() []byte {
	head := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR`
	tail := `-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	return []byte(head + tail)
}

// Stop terminates clamd with SIGTERM, sends SIGKILL if it is still running
// after a few seconds, and removes its directory. Calling Stop again, or
// after Kill, is safe.
func (d *Daemon) Stop() {
	d.stopOnce.Do(func() {
		d.terminate()
		os.RemoveAll(d.dir)
	})
}

// Kill ends clamd at once with SIGKILL, as a crash would, and waits for it
// to exit. Its socket file stays behind. Stop still cleans up afterwards.
func (d *Daemon) Kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

// Restart starts clamd again with the same configuration, socket and port
// after Kill or a crash, as an operator restarting the service would, and
// waits until it replies to PING.
func (d *Daemon) Restart() error {
	select {
	case <-d.exited:
	default:
		return fmt.Errorf("restart clamd: process %d is still running", d.PID)
	}

	clamd, err := findProgram("clamd")
	if err != nil {
		return err
	}
	if err := d.spawn(clamd); err != nil {
		return err
	}
	if err := d.waitReady(); err != nil {
		d.terminate()
		return fmt.Errorf("restart clamd: %w\nclamd log:\n%s", err, d.logTail())
	}
	return nil
}

func (d *Daemon) terminate() {
	d.cmd.Process.Signal(sigterm)

	select {
	case <-d.exited:
	case <-time.After(stopTimeout):
		d.Kill()
	}
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()

	switch {
	case !errors.Is(err, ErrNotInstalled):
		t.Fatalf("start clamd: %v", err)
	case os.Getenv(RequireEnv) == "1":
		t.Fatalf("%v (required because %s=1)", err, RequireEnv)
	default:
		t.Skipf("%v; skipping", err)
	}
}

// findProgram looks for name on PATH and then in the sbin directories,
// because Debian installs clamd in /usr/sbin, which is not on every user's
// PATH.
func findProgram(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}

	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return path, nil
		}
	}

	return "", fmt.Errorf("%s not found: %w", name, ErrNotInstalled)
}

// Shared starts one clamd on first use and hands the same daemon to every
// test of a package, so the package runs one clamd process instead of one
// per test. Declare it as a package variable and call Stop after m.Run in
// TestMain. The zero value uses default Options.
type Shared struct {
	Options Options

	once   sync.Once
	daemon *Daemon
	err    error
}

// Daemon returns the shared daemon, starting it on the first call. It skips
// or fails t as Start does when clamd cannot be started.
func (s *Shared) Daemon(t testing.TB) *Daemon {
	t.Helper()

	s.once.Do(func() {
		s.daemon, s.err = Launch(s.Options)
	})
	if s.err != nil {
		skipOrFail(t, s.err)
	}

	return s.daemon
}

// Stop stops the shared daemon if it was started.
func (s *Shared) Stop() {
	s.once.Do(func() {})
	if s.daemon != nil {
		s.daemon.Stop()
	}
}

// logTail returns the last lines of clamd's log and output, for errors.
func (d *Daemon) logTail() string {
	var lines []string
	for _, name := range []string{d.LogPath, filepath.Join(d.dir, "clamd.out")} {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(data)), "\n")...)
	}

	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}
