package clamavtest

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestStart(t *testing.T) {
	d := Start(t, Options{})

	if len(d.SocketPath) >= 108 {
		t.Errorf("socket path is %d bytes, want under 108", len(d.SocketPath))
	}
	if err := ping("unix", d.SocketPath); err != nil {
		t.Errorf("unix ping: %v", err)
	}
	if err := ping("tcp", d.TCPAddr); err != nil {
		t.Errorf("tcp ping: %v", err)
	}
	if !strings.HasPrefix(d.TCPAddr, "127.0.0.1:") {
		t.Errorf("TCP address = %s, want 127.0.0.1", d.TCPAddr)
	}
	if d.MaxFileSize != d.StreamMaxLength {
		t.Errorf("MaxFileSize = %d, want StreamMaxLength %d", d.MaxFileSize, d.StreamMaxLength)
	}
	if _, err := os.Stat(filepath.Join(d.DatabaseDir, "test.ndb")); err != nil {
		t.Errorf("signature database: %v", err)
	}
}

func TestConfig(t *testing.T) {
	d := Start(t, Options{StreamMaxLength: 4 << 20, MaxFileSize: 1 << 20, MaxScanSize: 2 << 20})

	data, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(data)

	for _, line := range []string{
		"StreamMaxLength 4194304\n",
		"MaxFileSize 1048576\n",
		"MaxScanSize 2097152\n",
		"AlertExceedsMax yes\n",
		"AlertEncrypted no\n",
		"TCPAddr 127.0.0.1\n",
	} {
		if !strings.Contains(conf, line) {
			t.Errorf("clamd.conf lacks %q", strings.TrimSpace(line))
		}
	}
	if strings.Contains(conf, "\nUser ") {
		t.Error("clamd.conf sets User, want clamd to run as the test user")
	}
}

func TestStopEndsProcess(t *testing.T) {
	d := Start(t, Options{})

	d.Stop()
	d.Stop()

	p, err := os.FindProcess(d.PID)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("signal 0 to clamd %d after Stop: err = %v, want ErrProcessDone", d.PID, err)
	}
	if err := ping("unix", d.SocketPath); err == nil {
		t.Error("clamd still answers PING after Stop")
	}
}

func TestKillThenStop(t *testing.T) {
	d := Start(t, Options{})

	d.Kill()

	if err := ping("tcp", d.TCPAddr); err == nil {
		t.Error("clamd still answers PING after Kill")
	}
	d.Stop()
}

func TestSignatureDatabase(t *testing.T) {
	d := &Daemon{DatabaseDir: filepath.Join(t.TempDir(), "db")}
	if err := d.writeDatabase(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(filepath.Join(d.DatabaseDir, "test.ndb"))
	if err != nil {
		t.Fatal(err)
	}
	signatures := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) != 4 || fields[1] != "0" || fields[2] != "*" {
			t.Fatalf("line %q is not Name:0:*:HEX", line)
		}
		body, err := hex.DecodeString(fields[3])
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		signatures[fields[0]] = body
	}

	// The published md5 of the EICAR test file.
	if sum := md5.Sum(signatures["Eicar-Test-Signature"]); hex.EncodeToString(sum[:]) != "44d88612fea8a8f36de82e1278abb02f" {
		t.Errorf("Eicar-Test-Signature body is not the EICAR test file")
	}
	if got := string(signatures["Custom.Test.Marker"]); got != Marker {
		t.Errorf("Custom.Test.Marker body = %q, want %q", got, Marker)
	}
}

func TestStartRetriesBusyPort(t *testing.T) {
	clamd, err := findProgram("clamd")
	if err != nil {
		skipOrFail(t, err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	calls := 0
	nextPort := func() (int, error) {
		calls++
		if calls == 1 {
			return busyPort, nil
		}
		return freePort()
	}
	dir, err := os.MkdirTemp("/tmp", "clamd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	d, err := launchIn(dir, clamd, Options{}, nextPort)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	t.Cleanup(d.Stop)

	if calls != 2 {
		t.Errorf("ports tried = %d, want 2", calls)
	}
	if d.TCPAddr == busy.Addr().String() {
		t.Errorf("TCP address = %s, the busy port", d.TCPAddr)
	}
	if err := ping("tcp", d.TCPAddr); err != nil {
		t.Errorf("tcp ping: %v", err)
	}
}

// recordingTB records Skipf and Fatalf calls instead of stopping the test.
type recordingTB struct {
	testing.TB
	skipped bool
	failed  bool
}

func (r *recordingTB) Helper()               {}
func (r *recordingTB) Skipf(string, ...any)  { r.skipped = true }
func (r *recordingTB) Fatalf(string, ...any) { r.failed = true }

func TestSkipOrFail(t *testing.T) {
	missing := fmt.Errorf("clamd not found: %w", ErrNotInstalled)

	tests := []struct {
		name        string
		require     string
		err         error
		wantSkipped bool
		wantFailed  bool
	}{
		{name: "not installed", require: "", err: missing, wantSkipped: true},
		{name: "not installed but required", require: "1", err: missing, wantFailed: true},
		{name: "start failed", require: "", err: errors.New("clamd exited during start"), wantFailed: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.require)
			tb := &recordingTB{TB: t}

			skipOrFail(tb, tt.err)

			if tb.skipped != tt.wantSkipped {
				t.Errorf("skipped = %v, want %v", tb.skipped, tt.wantSkipped)
			}
			if tb.failed != tt.wantFailed {
				t.Errorf("failed = %v, want %v", tb.failed, tt.wantFailed)
			}
		})
	}
}
