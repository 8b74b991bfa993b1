package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCertReloaderPicksUpRenewal(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, _, err := LoadOrCreateSelfSigned(dir, []string{"old.example.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	r := &certReloader{certPath: SelfSignedCertPath(dir), keyPath: SelfSignedKeyPath(dir), log: slog.New(slog.DiscardHandler)}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}

	// A renewal replaces both files, so their modification times change.
	renewed, _, err := LoadOrCreateSelfSigned(dir, []string{"new.example.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	for _, path := range []string{r.certPath, r.keyPath} {
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	}

	served, _ := r.getCertificate(nil)
	if got := CertFingerprint(served.Leaf.Raw); got != CertFingerprint(first.Leaf.Raw) {
		t.Fatalf("first handshake served %s, want the loaded certificate", got)
	}

	r.checkedAt = time.Time{} // as if the check interval had passed
	served, _ = r.getCertificate(nil)
	if got := CertFingerprint(served.Leaf.Raw); got != CertFingerprint(renewed.Leaf.Raw) {
		t.Errorf("after the check interval served %s, want the renewed certificate", got)
	}

	// A damaged replacement keeps the renewed certificate in service.
	if err := os.WriteFile(filepath.Join(dir, SelfSignedCertFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.checkedAt = time.Time{}
	served, _ = r.getCertificate(nil)
	if got := CertFingerprint(served.Leaf.Raw); got != CertFingerprint(renewed.Leaf.Raw) {
		t.Errorf("after a damaged replacement served %s, want the renewed certificate", got)
	}
}
