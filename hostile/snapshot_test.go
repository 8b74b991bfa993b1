package hostile

import (
	"database/sql"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, read-only here
)

// snapshot is the "nothing stored" evidence. It records what the API lists
// for each user and the rows and audit events in the database. It also
// lists the files under the vault (incoming and quarantine included), under
// the resumable uploads' folder and in the server's TMPDIR.
type snapshot struct {
	listed       map[string]int // files the API lists, by user
	rows         map[string]int // rows per table
	storedAudits int            // audit events of successful uploads
	vault        []string
	uploads      []string // unfinished resumable uploads
	temp         []string
}

// countedTables are the tables whose rows a rejected request must not add
// to. Tables that a later migration adds are counted once they exist.
var countedTables = []string{"files", "shares", "share_files", "drops", "drop_uploads"}

func (s *server) snapshot(t *testing.T) snapshot {
	t.Helper()
	snap := snapshot{
		listed: map[string]int{
			"alice": len(s.listFiles(t, aliceToken)),
			"bob":   len(s.listFiles(t, bobToken)),
		},
		rows:    map[string]int{},
		vault:   regularFiles(filepath.Join(s.DataDir, "vault")),
		uploads: uploadFiles(filepath.Join(s.DataDir, "uploads")),
		temp:    regularFiles(s.TempDir),
	}

	db := s.openDB(t)
	for _, table := range countedTables {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err == nil {
			snap.rows[table] = n
		}
	}
	err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'upload' AND outcome = 'success'`).Scan(&snap.storedAudits)
	if err != nil {
		t.Fatalf("count upload audit events: %v", err)
	}
	return snap
}

// openDB opens the server's database read-only, beside the running server.
func (s *server) openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, "vaultdrop.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// uploadFiles returns the files of unfinished resumable uploads: their
// bytes and state. A finished upload's small .result record, which keeps
// the verdict for a client whose response was lost, holds no file content
// and is left out.
func uploadFiles(dir string) []string {
	var files []string
	for _, p := range regularFiles(dir) {
		if !strings.HasSuffix(p, ".result") {
			files = append(files, p)
		}
	}
	return files
}

// regularFiles returns the paths of the regular files under dir, relative
// to it and sorted.
func regularFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files
}

// assertNothingStored checks that nothing was added since before: no
// listed file, no row, no audit event of a stored upload, no vault file
// and no temporary file.
func (s *server) assertNothingStored(t *testing.T, before snapshot) {
	t.Helper()
	after := s.snapshot(t)
	s.compareSnapshots(t, before, after, 0)
}

// assertStoredOnly checks that exactly n files were added for alice since
// before, and nothing else.
func (s *server) assertStoredOnly(t *testing.T, before snapshot, n int) {
	t.Helper()
	after := s.snapshot(t)
	s.compareSnapshots(t, before, after, n)
}

func (s *server) compareSnapshots(t *testing.T, before, after snapshot, added int) {
	t.Helper()
	if got := after.listed["alice"] - before.listed["alice"]; got != added {
		t.Errorf("alice's file list grew by %d, want %d", got, added)
	}
	if got := after.listed["bob"] - before.listed["bob"]; got != 0 {
		t.Errorf("bob's file list grew by %d, want 0", got)
	}
	for table, n := range before.rows {
		grown := after.rows[table] - n
		switch {
		case table == "files" && grown != added:
			t.Errorf("table files: %d new rows, want %d", grown, added)
		case table == "drop_uploads" && (grown < 0 || grown > added):
			t.Errorf("table drop_uploads: %d new rows, want at most %d", grown, added)
		case table != "files" && table != "drop_uploads" && grown != 0:
			t.Errorf("table %s: %d new rows, want none", table, grown)
		}
	}
	if got := after.storedAudits - before.storedAudits; got != added {
		t.Errorf("audit log: %d new events of stored uploads, want %d", got, added)
	}

	newVault := newPaths(before.vault, after.vault)
	if len(newVault) != added {
		t.Errorf("vault: %d new files %s, want %d", len(newVault), firstPaths(newVault), added)
	}
	for _, p := range newVault {
		if strings.HasPrefix(p, "incoming") || strings.HasPrefix(p, "quarantine") {
			t.Errorf("vault: new file %s left in %s", p, strings.SplitN(p, "/", 2)[0])
		}
	}
	if left := newPaths(before.uploads, after.uploads); len(left) > 0 {
		t.Errorf("uploads: unfinished resumable upload files left: %s", firstPaths(left))
	}
	if left := newPaths(before.temp, after.temp); len(left) > 0 {
		t.Errorf("TMPDIR: files left behind: %v", left)
	}
}

// firstPaths shows at most five paths, for messages.
func firstPaths(paths []string) string {
	if len(paths) > 5 {
		return fmt.Sprint(paths[:5]) + " and more"
	}
	return fmt.Sprint(paths)
}

func newPaths(before, after []string) []string {
	var added []string
	for _, p := range after {
		if !slices.Contains(before, p) {
			added = append(added, p)
		}
	}
	return added
}

// assertRejected checks a refusal: its status, its JSON error code and
// content type, and that nothing was stored since before.
func (s *server) assertRejected(t *testing.T, resp response, status int, code string, before snapshot) {
	t.Helper()
	assertError(t, resp, status, code)
	s.assertNothingStored(t, before)
}

// assertError checks the status and the JSON error code of a response.
func assertError(t *testing.T, resp response, status int, code string) {
	t.Helper()
	if resp.Status != status {
		t.Errorf("status %d, want %d: %.300s", resp.Status, status, resp.Body)
	}
	if got := resp.errorCode(); got != code {
		t.Errorf("error code %q, want %q: %.300s", got, code, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer Content-Type %q, want application/json", ct)
	}
}

// assertStatusIn checks that an answer's status is one of want.
func assertStatusIn(t *testing.T, resp response, want ...int) {
	t.Helper()
	if !slices.Contains(want, resp.Status) {
		t.Errorf("status %d, want one of %v: %.300s", resp.Status, want, resp.Body)
	}
}

// requireRoute skips the test when a probe of a route gets 404, because
// the feature behind it has not been built yet.
func (s *server) requireRoute(t *testing.T, feature string, probe request) {
	t.Helper()
	resp := s.do(t, probe)
	if resp.Status == http.StatusNotFound {
		t.Skipf("%s not built yet: %s %s answers 404", feature, probe.Method, probe.Path)
	}
}

// apiBuilt reports whether the API route for creating objects at path
// exists: a malformed body gets 400 from it, and 404 from a server
// without it.
func (s *server) apiBuilt(t *testing.T, path string) bool {
	t.Helper()
	resp := s.do(t, request{Method: http.MethodPost, Path: path, Token: aliceToken, Header: jsonBody, Body: strings.NewReader(`{`)})
	return resp.Status != http.StatusNotFound
}

// requireShares skips the test until share links exist.
func (s *server) requireShares(t *testing.T) {
	t.Helper()
	s.requireRoute(t, "share links", request{
		Method: http.MethodPost, Path: "/api/v1/shares", Token: aliceToken,
		Header: jsonBody, Body: strings.NewReader(`{}`),
	})
}

// requireDrops skips the test until drop links exist.
func (s *server) requireDrops(t *testing.T) {
	t.Helper()
	s.requireRoute(t, "drop links", request{
		Method: http.MethodPost, Path: "/api/v1/drops", Token: aliceToken,
		Header: jsonBody, Body: strings.NewReader(`{`),
	})
}

// requireTus skips the test until resumable uploads exist.
func (s *server) requireTus(t *testing.T) {
	t.Helper()
	s.requireRoute(t, "resumable uploads (tus)", request{
		Method: http.MethodOptions, Path: "/api/v1/uploads/", Token: aliceToken,
		Header: http.Header{"Tus-Resumable": {"1.0.0"}},
	})
}

// expectRejected sends one request and checks that it was refused with
// status and code and that nothing was stored.
func (s *server) expectRejected(t *testing.T, status int, code string, send func() response) response {
	t.Helper()
	before := s.snapshot(t)
	resp := send()
	s.assertRejected(t, resp, status, code, before)
	return resp
}
