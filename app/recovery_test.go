package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/store"
)

// storedPath is where the vault keeps the bytes of id; under is "" for the
// served vault or "quarantine".
func (e *testEnv) storedPath(under, id string) string {
	return filepath.Join(e.Vault.Dir(), under, id[:2], id)
}

// uploadText stores a small text file as alice and returns it.
func (e *testEnv) uploadText(name, content string) fileObject {
	e.t.Helper()
	resp, body := e.upload(e.AliceToken, name, []byte(content))
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("upload %s: status = %d: %s", name, resp.StatusCode, body)
	}
	return decodeFile(e.t, body)
}

func (e *testEnv) status(id string) string {
	e.t.Helper()
	f, err := e.Store.FileByID(context.Background(), id)
	if err != nil {
		e.t.Fatalf("file %s: %v", id, err)
	}
	return f.Status
}

func moveFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverAtStartRepairsRowsAndFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	gone := e.uploadText("gone.txt", "bytes lost in a crash\n")
	os.Remove(e.storedPath("", gone.ID))

	requeued := e.uploadText("requeued.txt", "moved by a rescan that stopped\n")
	moveFile(t, e.storedPath("", requeued.ID), e.storedPath("quarantine", requeued.ID))

	infected := e.uploadText("infected.txt", "marked infected, move not done\n")
	ev := store.AuditEvent{Actor: "system", Action: "rescan", Outcome: store.OutcomeFailure}
	if err := e.Store.MarkInfected(ctx, infected.ID, store.ScanInfo{Signature: "Test.Sig"}, ev); err != nil {
		t.Fatal(err)
	}

	intact := e.uploadText("intact.txt", "nothing happened to me\n")

	orphan := store.NewID()
	orphanBytes := []byte("renamed into the vault, row never inserted\n")
	os.MkdirAll(filepath.Dir(e.storedPath("", orphan)), 0o700)
	if err := os.WriteFile(e.storedPath("", orphan), orphanBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.Vault.Dir(), "incoming", store.NewID()), []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := app.RecoverAtStart(ctx, e.Store, e.Vault, e.DataDir, log); err != nil {
		t.Fatalf("recover: %v", err)
	}

	if got := e.status(gone.ID); got != store.StatusMissing {
		t.Errorf("file without bytes: status = %s, want missing", got)
	}
	if got := e.status(requeued.ID); got != store.StatusPending {
		t.Errorf("clean file found only in quarantine: status = %s, want pending", got)
	}
	if _, err := os.Stat(e.storedPath("quarantine", infected.ID)); err != nil {
		t.Errorf("infected file's bytes were not moved to quarantine: %v", err)
	}
	if _, err := os.Stat(e.storedPath("", infected.ID)); err == nil {
		t.Error("infected file's bytes are still in the served vault")
	}
	if got := e.status(intact.ID); got != store.StatusUnscanned {
		t.Errorf("intact file: status = %s, want unscanned as stored", got)
	}

	kept, err := os.ReadFile(filepath.Join(e.Vault.OrphansDir(), orphan))
	if err != nil {
		t.Errorf("orphan not set aside in vault/orphans: %v", err)
	} else if !bytes.Equal(kept, orphanBytes) {
		t.Error("orphan bytes changed when set aside")
	}
	if _, err := os.Stat(e.storedPath("", orphan)); err == nil {
		t.Error("orphan still in the served vault")
	}
	if n, _ := e.Vault.CountIncoming(); n != 0 {
		t.Errorf("vault/incoming holds %d files after recovery, want 0", n)
	}
	assertAuditDetail(t, e, "recover", "marked missing")

	resp, _ := e.request(http.MethodGet, "/api/v1/files/"+gone.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode == http.StatusOK {
		t.Error("a missing file is still downloadable")
	}
	resp, body := e.request(http.MethodGet, "/api/v1/files/"+intact.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "nothing happened to me\n" {
		t.Errorf("intact file: status = %d, body %q", resp.StatusCode, body)
	}

	// A second run finds nothing more to do.
	if err := app.RecoverAtStart(ctx, e.Store, e.Vault, e.DataDir, log); err != nil {
		t.Fatalf("second recover: %v", err)
	}
	if got := e.status(intact.ID); got != store.StatusUnscanned {
		t.Errorf("intact file after a second run: status = %s, want unscanned", got)
	}
}

func TestRecoverKeepsPendingFileReleasedBeforeCrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{scanOn: true}) // no scanner: uploads wait as pending
	resp, body := e.upload(e.AliceToken, "waiting.txt", []byte("waits for a scan\n"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload: status = %d, want 202: %s", resp.StatusCode, body)
	}
	pending := decodeFile(t, body)
	// A settle that moved the bytes and stopped before the row changed.
	moveFile(t, e.storedPath("quarantine", pending.ID), e.storedPath("", pending.ID))

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := app.RecoverAtStart(context.Background(), e.Store, e.Vault, e.DataDir, log); err != nil {
		t.Fatal(err)
	}
	if got := e.status(pending.ID); got != store.StatusPending {
		t.Errorf("status = %s, want pending", got)
	}
	if _, err := os.Stat(e.storedPath("", pending.ID)); err != nil {
		t.Errorf("bytes moved away: %v", err)
	}
}
