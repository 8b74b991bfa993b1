package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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

// testEnv is a real server on loopback over a real SQLite file and vault,
// with two users: alice (admin) and bob.
type testEnv struct {
	t        *testing.T
	URL      string
	DataDir  string
	Store    *store.Store
	Vault    *store.Vault
	Server   *app.Server
	Scanning *intake.Scanning
	Alice    store.User
	Bob      store.User
	// AliceToken and BobToken are API tokens.
	AliceToken string
	BobToken   string
}

type envOptions struct {
	configure func(*config.Config)
	scanner   scanner.Scanner // nil with scanRequired: no scanner found
	scanOn    bool            // scanning required (otherwise --scanner off)
	noUsers   bool            // start without alice and bob, as on first run
	unprobed  bool            // leave the scanner's size limit unmeasured

	// now is the clock of the store, the intake and the server; nil means
	// time.Now.
	now func() time.Time
}

const (
	alicePassword = "correct horse battery staple"
	bobPassword   = "another long passphrase"
)

func newEnv(t *testing.T, opts envOptions) *testEnv {
	t.Helper()
	ctx := context.Background()

	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.MaxFileSize = 20 << 20
	cfg.MinFreeSpace = 0
	cfg.ScanWait = 10 * time.Second
	if !opts.scanOn {
		cfg.Scanner = config.ScannerOff
	}
	if opts.configure != nil {
		opts.configure(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}

	st, err := store.Open(ctx, cfg.DataDir, opts.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	vault, err := store.OpenVault(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vault.Close() })

	policy, err := filetype.NewPolicy(cfg.Allow, cfg.Deny)
	if err != nil {
		t.Fatal(err)
	}
	var version scanner.Version
	if opts.scanner != nil {
		version, _ = opts.scanner.Version(ctx)
	}
	scanning := intake.NewScanning(!opts.scanOn, opts.scanner, version, 30*time.Second)
	if !opts.unprobed {
		// As if the probe had measured the scanner up to the file limit;
		// the probe itself is tested on its own.
		scanning.SetLimit(int64(cfg.MaxFileSize))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	pipeline := intake.New(intake.Config{
		MaxFileSize: int64(cfg.MaxFileSize), MinFreeSpace: int64(cfg.MinFreeSpace),
		ScanWait: cfg.ScanWait, ScanTimeout: cfg.ScanTimeout,
		UserQuota: int64(cfg.UserQuota),
	}, vault, st, policy, scanning, log, opts.now)

	srv, err := app.New(app.Deps{Config: cfg, Store: st, Vault: vault, Intake: pipeline, Scanning: scanning, Log: log, Now: opts.now, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	e := &testEnv{t: t, URL: ts.URL, DataDir: cfg.DataDir, Store: st, Vault: vault, Server: srv, Scanning: scanning}
	if !opts.noUsers {
		e.Alice, e.AliceToken = e.addUser("alice", alicePassword, true)
		e.Bob, e.BobToken = e.addUser("bob", bobPassword, false)
	}
	return e
}

func (e *testEnv) addUser(name, password string, admin bool) (store.User, string) {
	e.t.Helper()
	ctx := context.Background()

	hash, err := auth.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.Store.CreateUser(ctx, store.User{Username: name, PasswordHash: hash, IsAdmin: admin}, store.AuditEvent{Action: "user_create"})
	if err != nil {
		e.t.Fatal(err)
	}
	token := auth.NewToken(auth.PrefixAPIToken)
	if _, err := e.Store.CreateAPIToken(ctx, store.APIToken{UserID: u.ID, Name: "test", TokenHash: auth.HashToken(token)}, store.AuditEvent{Action: "token_create"}); err != nil {
		e.t.Fatal(err)
	}
	return u, token
}

// request sends one request with an optional bearer token and returns the
// response with its body read.
func (e *testEnv) request(method, path, token string, body io.Reader, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirectClient().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, data
}

func noRedirectClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// multipartBody builds a form with one part named field whose filename is
// written byte for byte, so tests can send names curl would rewrite.
func multipartBody(field, filename string, content []byte) (body *bytes.Buffer, contentType string) {
	const boundary = "vaultdrop-test-boundary"
	body = &bytes.Buffer{}
	fmt.Fprintf(body, "--%s\r\nContent-Disposition: form-data; name=%q; filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
		boundary, field, filename)
	body.Write(content)
	fmt.Fprintf(body, "\r\n--%s--\r\n", boundary)
	return body, "multipart/form-data; boundary=" + boundary
}

// upload posts one file to the multipart API as the token's user.
func (e *testEnv) upload(token, name string, content []byte) (*http.Response, []byte) {
	e.t.Helper()
	body, ct := multipartBody("file", name, content)
	return e.request(http.MethodPost, "/api/v1/files", token, body, http.Header{"Content-Type": {ct}})
}

// snapshot is the "nothing stored" evidence: rows, audit-free file counts
// and every file under the vault.
type snapshot struct {
	rows  int
	files []string
}

func (e *testEnv) snapshot() snapshot {
	e.t.Helper()
	rows, err := e.Store.CountFiles(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(e.Vault.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, e.Vault.Dir()))
		}
		return nil
	})
	return snapshot{rows: rows, files: files}
}

// assertNothingStored checks that no row and no vault file (incoming,
// quarantine or stored) was added since before.
func (e *testEnv) assertNothingStored(before snapshot) {
	e.t.Helper()
	after := e.snapshot()
	if after.rows != before.rows {
		e.t.Errorf("file rows: %d before, %d after; want no new row", before.rows, after.rows)
	}
	if len(after.files) != len(before.files) {
		e.t.Errorf("vault files: %v before, %v after; want no new file", before.files, after.files)
	}
	n, err := e.Vault.CountIncoming()
	if err != nil {
		e.t.Fatal(err)
	}
	if n != 0 {
		e.t.Errorf("vault/incoming holds %d files, want 0", n)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
func (e *testEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := noRedirectClient()
	c.Jar = jar
	return c
}

// login signs a browser in through the form and fails the test otherwise.
func (e *testEnv) login(c *http.Client, username, password string) {
	e.t.Helper()
	resp, err := c.PostForm(e.URL+"/login", map[string][]string{"username": {username}, "password": {password}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d, want 303", username, resp.StatusCode)
	}
}

// newEmptyEnv is a server with no user yet, as on first run.
func newEmptyEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnv(t, envOptions{noUsers: true})
}

type ioReader = io.Reader

// copyLimited copies at most 4 MiB of a response body.
func copyLimited(w io.Writer, resp *http.Response) (int64, error) {
	return io.Copy(w, io.LimitReader(resp.Body, 4<<20))
}
