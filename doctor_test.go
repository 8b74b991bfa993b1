package main

import (
	"os"
	"strings"
	"testing"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// dataDirWithUser returns a data directory with a database and one user,
// as a server leaves it.
func dataDirWithUser(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, stderr, err := command(t, "correct horse battery staple\n", "user", "add", "alice", "--admin", "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatalf("user add: %v: %s", err, stderr)
	}
	return dir
}

// doctorArgs checks against a clamd at socket, with limits the test clamd
// (StreamMaxLength 8 MiB) and any test machine's disk meet.
func doctorArgs(dir, socket string) []string {
	return []string{"doctor", "--data-dir", dir, "--scanner", "clamd", "--clamd-address", socket,
		"--max-file-size", "4MiB", "--min-free-space", "1MiB"}
}

func TestDoctorPassesWithRunningClamd(t *testing.T) {
	d := clamavtest.Start(t, clamavtest.Options{})
	dir := dataDirWithUser(t)
	// A server on the same data directory holds its lock and the database
	// open; the doctor only reads.
	startServer(t, dir)

	out, stderr, err := command(t, "", doctorArgs(dir, d.SocketPath)...)
	if err != nil {
		t.Fatalf("doctor: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	for _, want := range []string{
		"ok    configuration", "ok    data directory", "ok    database", "quick_check ok", "ok    free space",
		"ok    scanner         clamd at " + d.SocketPath, "ok    scannable size", "ok    tls", "ok    clock", "all ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("doctor output has a FAIL line:\n%s", out)
	}
}

func TestDoctorReportsStoppedClamd(t *testing.T) {
	d := clamavtest.Start(t, clamavtest.Options{})
	dir := dataDirWithUser(t)
	d.Stop()

	out, stderr, err := command(t, "", doctorArgs(dir, d.SocketPath)...)
	if err == nil {
		t.Fatalf("doctor passed with clamd stopped:\n%s", out)
	}
	if !strings.Contains(out, "FAIL  scanner         clamd at "+d.SocketPath+" did not answer") {
		t.Errorf("doctor output lacks the scanner failure:\n%s", out)
	}
	if !strings.Contains(out, "fix: start clamd (sudo systemctl start clamav-daemon") {
		t.Errorf("doctor output lacks the fix:\n%s", out)
	}
	if !strings.Contains(stderr, "1 of ") || !strings.Contains(stderr, "checks failed") {
		t.Errorf("stderr = %q, want the count of failed checks", stderr)
	}
	if !strings.Contains(out, "ok    database") {
		t.Errorf("the other checks did not run:\n%s", out)
	}
}

func TestDoctorReportsOpenDataDir(t *testing.T) {
	dir := dataDirWithUser(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	out, _, err := command(t, "", "doctor", "--data-dir", dir, "--scanner", "off", "--min-free-space", "1MiB", "--max-file-size", "1MiB")
	if err == nil {
		t.Fatalf("doctor passed with a data directory others can read:\n%s", out)
	}
	if !strings.Contains(out, "has mode 0755") || !strings.Contains(out, "fix: chmod 700 "+dir) {
		t.Errorf("doctor output lacks the mode failure and its fix:\n%s", out)
	}
	if !strings.Contains(out, "warn  scanner") {
		t.Errorf("scanning off should warn:\n%s", out)
	}
}

func TestDoctorReportsInvalidConfiguration(t *testing.T) {
	dir := dataDirWithUser(t)

	out, _, err := command(t, "", "doctor", "--data-dir", dir, "--scanner", "off", "--addr", "0.0.0.0:8443", "--min-free-space", "1MiB", "--max-file-size", "1MiB")
	if err == nil {
		t.Fatalf("doctor passed a configuration the server rejects:\n%s", out)
	}
	if !strings.Contains(out, "FAIL  configuration   --addr 0.0.0.0:8443 is not a loopback address") {
		t.Errorf("doctor output lacks the configuration failure:\n%s", out)
	}
}
