package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireSystemdEnv makes a missing systemd-analyze a test failure, for CI.
const requireSystemdEnv = "VAULTDROP_TEST_REQUIRE_SYSTEMD"

const unitPath = "deploy/vaultdrop.service"

// TestServiceUnitVerifies runs "systemd-analyze verify" on the unit with
// ExecStart pointing at the binary built for these tests, since verify
// rejects a unit whose program is missing. It fails on any output, because
// verify reports unknown keys and bad values as warnings with exit status 0.
func TestServiceUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv(requireSystemdEnv) == "1" {
			t.Fatalf("systemd-analyze is not installed and %s=1: install Debian's systemd package", requireSystemdEnv)
		}
		t.Skipf("systemd-analyze is not installed: install Debian's systemd package, or set %s=1 to fail instead", requireSystemdEnv)
	}

	unit := readFile(t, unitPath)
	const installed = "/usr/local/bin/vaultdrop "
	if !strings.Contains(string(unit), "ExecStart="+installed) {
		t.Fatalf("%s: ExecStart does not run %s", unitPath, installed)
	}
	testUnit := filepath.Join(t.TempDir(), "vaultdrop.service")
	rewritten := strings.Replace(string(unit), "ExecStart="+installed, "ExecStart="+binary+" ", 1)
	if err := os.WriteFile(testUnit, []byte(rewritten), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(analyze, "verify", testUnit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestServiceUnitSettings checks the settings the deployment guide relies
// on, which systemd-analyze accepts either way.
func TestServiceUnitSettings(t *testing.T) {
	unit := string(readFile(t, unitPath))
	for _, want := range []string{
		"User=vaultdrop",
		"StateDirectory=vaultdrop",
		"ReadWritePaths=/var/lib/vaultdrop",
		"ProtectSystem=strict",
		"NoNewPrivileges=yes",
		"PrivateTmp=yes",
		"After=network-online.target clamav-daemon.service",
		"Wants=network-online.target clamav-daemon.service",
		"--data-dir /var/lib/vaultdrop",
		"--clamd-address /run/clamav/clamd.ctl",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s lacks %q", unitPath, want)
		}
	}
}
