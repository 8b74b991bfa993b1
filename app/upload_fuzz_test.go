package app_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// fuzzServer is the upload API over a real SQLite file and vault, called
// in-process without a network so that each input costs little.
type fuzzServer struct {
	handler http.Handler
	store   *store.Store
	vault   *store.Vault
	token   string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	ctx := context.Background()

	cfg := config.Defaults()
	cfg.DataDir = f.TempDir()
	cfg.MaxFileSize = 1 << 20
	cfg.MinFreeSpace = 0
	cfg.Scanner = config.ScannerOff
	cfg.APIRate = 0 // every input comes from one address
	if err := cfg.Validate(); err != nil {
		f.Fatal(err)
	}

	st, err := store.Open(ctx, cfg.DataDir, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	vault, err := store.OpenVault(cfg.DataDir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { vault.Close() })

	policy, err := filetype.NewPolicy(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	scanning := intake.NewScanning(true, nil, scanner.Version{}, 30*time.Second)
	pipeline := intake.New(intake.Config{MaxFileSize: int64(cfg.MaxFileSize), ScanWait: time.Second, ScanTimeout: time.Minute},
		vault, st, policy, scanning, log, nil)
	srv, err := app.New(app.Deps{Config: cfg, Store: st, Vault: vault, Intake: pipeline, Scanning: scanning, Log: log, Version: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}

	// The password hash is never checked: the fuzz target signs in with
	// an API token.
	user, err := st.CreateUser(ctx, store.User{Username: "fuzzer", PasswordHash: "unused"}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		f.Fatal(err)
	}
	token := auth.NewToken(auth.PrefixAPIToken)
	if _, err := st.CreateAPIToken(ctx, store.APIToken{UserID: user.ID, Name: "fuzz", TokenHash: auth.HashToken(token)}, store.AuditEvent{Action: "token_create"}); err != nil {
		f.Fatal(err)
	}
	return &fuzzServer{handler: srv.Handler(), store: st, vault: vault, token: token}
}

// vaultFiles counts every file under the vault, incoming included.
func (s *fuzzServer) vaultFiles(t *testing.T) int {
	n := 0
	err := filepath.WalkDir(s.vault.Dir(), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *fuzzServer) rows(t *testing.T) int {
	n, err := s.store.CountFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// FuzzMultipartUpload sends arbitrary multipart bodies to the upload API.
// Whatever the body, the server must not fail with a 5xx. A rejected upload
// must leave no row and no file behind, and an accepted one adds exactly
// one of each. The seed corpus is in testdata/fuzz/FuzzMultipartUpload.
func FuzzMultipartUpload(f *testing.F) {
	s := newFuzzServer(f)

	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		rowsBefore, filesBefore := s.rows(t), s.vaultFiles(t)

		req := httptest.NewRequest(http.MethodPost, "/api/v1/files", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)

		status := rec.Code
		if status >= 500 {
			t.Fatalf("status %d for boundary %q: %s", status, boundary, rec.Body.String())
		}
		rowsAfter, filesAfter := s.rows(t), s.vaultFiles(t)
		switch status {
		case http.StatusCreated, http.StatusAccepted:
			if rowsAfter != rowsBefore+1 || filesAfter != filesBefore+1 {
				t.Fatalf("status %d added %d rows and %d files, want 1 each", status, rowsAfter-rowsBefore, filesAfter-filesBefore)
			}
		default:
			if rowsAfter != rowsBefore || filesAfter != filesBefore {
				t.Fatalf("status %d added %d rows and %d files, want none: %s", status,
					rowsAfter-rowsBefore, filesAfter-filesBefore, rec.Body.String())
			}
		}
	})
}
