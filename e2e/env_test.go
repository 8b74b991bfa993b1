// Package e2e drives vaultdrop's pages in a real Chromium, headless,
// against a real server on loopback with a real SQLite file, vault and
// clamd. The tests skip when Chromium or ClamAV is missing, unless
// VAULTDROP_TEST_REQUIRE_BROWSER=1 or VAULTDROP_TEST_REQUIRE_CLAMAV=1 make
// that a failure.
package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
	"github.com/vaultdrop/vaultdrop/store"
)

// sharedClamd is one real clamd for every test of this package.
var sharedClamd = &clamavtest.Shared{}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedClamd.Stop()
	os.Exit(code)
}

const (
	alicePassword = "correct horse battery staple"
	// chunkSize is the servers' --upload-chunk-size, small so that a few
	// MiB take several requests.
	chunkSize = 1 << 20
)

// server is a vaultdrop server on loopback, wired as serve.go wires it,
// that records what the resumable upload endpoint received.
type server struct {
	URL     string
	DataDir string
	Store   *store.Store
	Vault   *store.Vault
	Alice   store.User

	patches patchLog
}

// serverOptions changes the test server.
type serverOptions struct {
	// throttle, when set, slows the reading of resumable upload chunks to
	// about this many bytes per second, so a test can interrupt a transfer
	// half-way.
	throttle int
}

func startServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	ctx := context.Background()
	clamd := sharedClamd.Daemon(t)

	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.MaxFileSize = 64 << 20
	cfg.MinFreeSpace = 0
	cfg.ScanWait = 20 * time.Second
	cfg.Resumable.UploadChunkSize = chunkSize
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	vault, err := store.OpenVault(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vault.Close() })

	policy, err := filetype.NewPolicy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := scanner.NewClamd(scanner.ClamdConfig{Address: clamd.SocketPath, ScanTimeout: 30 * time.Second})
	version, _ := sc.Version(ctx)
	scanning := intake.NewScanning(false, sc, version, 30*time.Second)
	scanning.SetLimit(int64(cfg.MaxFileSize)) // as if the probe had measured it
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	pipeline := intake.New(intake.Config{
		MaxFileSize: int64(cfg.MaxFileSize), MinFreeSpace: int64(cfg.MinFreeSpace),
		ScanWait: cfg.ScanWait, ScanTimeout: cfg.ScanTimeout,
	}, vault, st, policy, scanning, log, nil)

	srv, err := app.New(app.Deps{Config: cfg, Store: st, Vault: vault, Intake: pipeline, Scanning: scanning, Log: log, Version: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{DataDir: cfg.DataDir, Store: st, Vault: vault}
	ts := httptest.NewServer(s.recordPatches(srv.Handler(), opts.throttle))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	s.Alice = addUser(t, st, "alice", alicePassword)
	return s
}

func addUser(t *testing.T, st *store.Store, name, password string) store.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(context.Background(), store.User{Username: name, PasswordHash: hash, IsAdmin: true}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// patchLog records every PATCH the resumable upload endpoint read: the
// Upload-Offset it started at and the body bytes the server read.
type patchLog struct {
	mu      sync.Mutex
	entries []patchEntry
}

type patchEntry struct {
	offset int64
	read   int64
}

func (l *patchLog) add(offset int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, patchEntry{offset: offset})
	return len(l.entries) - 1
}

func (l *patchLog) count(i int, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[i].read += int64(n)
}

// snapshot returns the entries so far.
func (l *patchLog) snapshot() []patchEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]patchEntry(nil), l.entries...)
}

// received returns the body bytes read by every PATCH so far.
func (l *patchLog) received() int64 {
	var total int64
	for _, e := range l.snapshot() {
		total += e.read
	}
	return total
}

func (s *server) recordPatches(next http.Handler, throttle int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/v1/uploads/") {
			offset, _ := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
			r.Body = &countingBody{ReadCloser: r.Body, log: &s.patches, entry: s.patches.add(offset), throttle: throttle}
		}
		next.ServeHTTP(w, r)
	})
}

// countingBody counts the bytes read from a PATCH body, optionally slowed
// down to about throttle bytes per second.
type countingBody struct {
	io.ReadCloser
	log      *patchLog
	entry    int
	throttle int
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.throttle > 0 {
		const slice = 32 << 10
		if len(p) > slice {
			p = p[:slice]
		}
		time.Sleep(time.Duration(len(p)) * time.Second / time.Duration(b.throttle))
	}
	n, err := b.ReadCloser.Read(p)
	b.log.count(b.entry, n)
	return n, err
}
