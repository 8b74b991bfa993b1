package app_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
)

// testClock is a manually advanced clock that the server's goroutines may
// read while a test advances it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type shareObject struct {
	ID           string    `json:"id"`
	URL          string    `json:"url"`
	FileIDs      []string  `json:"file_ids"`
	ExpiresAt    time.Time `json:"expires_at"`
	MaxDownloads *int64    `json:"max_downloads"`
	Downloads    int64     `json:"downloads"`
	State        string    `json:"state"`
	HasPassword  bool      `json:"has_password"`
	CreatedAt    time.Time `json:"created_at"`
}

// path returns the link's path, /s/TOKEN.
func (s shareObject) path(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("share URL %q: %v", s.URL, err)
	}
	return u.Path
}

// storeFile uploads a file as the token's user and fails the test unless
// it is stored.
func (e *testEnv) storeFile(token, name string, content []byte) fileObject {
	e.t.Helper()
	resp, body := e.upload(token, name, content)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("upload %q: status %d: %s", name, resp.StatusCode, body)
	}
	return decodeFile(e.t, body)
}

// postJSON sends body as JSON with the token.
func (e *testEnv) postJSON(path, token, body string) (*http.Response, []byte) {
	e.t.Helper()
	return e.request(http.MethodPost, path, token, strings.NewReader(body), http.Header{"Content-Type": {"application/json"}})
}

// createShare creates a share and fails the test unless the response is 201.
func (e *testEnv) createShare(token, body string) shareObject {
	e.t.Helper()
	resp, data := e.postJSON("/api/v1/shares", token, body)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create share %s: status %d: %s", body, resp.StatusCode, data)
	}
	var sh shareObject
	if err := json.Unmarshal(data, &sh); err != nil {
		e.t.Fatalf("share object: %v: %s", err, data)
	}
	return sh
}

// listShares returns the token's user's shares.
func (e *testEnv) listShares(token string) []shareObject {
	e.t.Helper()
	resp, data := e.request(http.MethodGet, "/api/v1/shares", token, nil, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("list shares: status %d: %s", resp.StatusCode, data)
	}
	var list struct{ Shares []shareObject }
	if err := json.Unmarshal(data, &list); err != nil {
		e.t.Fatal(err)
	}
	return list.Shares
}

// get sends an anonymous GET with optional headers.
func (e *testEnv) get(path string, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	return e.request(http.MethodGet, path, "", nil, header)
}

func fileIDsJSON(ids ...string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func TestShareCreateAndDownload(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := []byte("quarterly numbers\n")
	f := e.storeFile(e.AliceToken, "numbers.txt", content)

	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+`}`)

	if !regexp.MustCompile(`^` + regexp.QuoteMeta(e.URL) + `/s/[A-Za-z0-9_-]{43}$`).MatchString(sh.URL) {
		t.Errorf("url = %q, want %s/s/ and a 43-character token", sh.URL, e.URL)
	}
	if len(sh.ID) != 32 || len(sh.FileIDs) != 1 || sh.FileIDs[0] != f.ID {
		t.Errorf("share = %+v, want a 32-character id and file_ids [%s]", sh, f.ID)
	}
	if sh.MaxDownloads != nil || sh.Downloads != 0 || sh.State != "active" || sh.HasPassword {
		t.Errorf("share = %+v, want no limit, no downloads, active, no password", sh)
	}
	if d := sh.ExpiresAt.Sub(sh.CreatedAt); d != 7*24*time.Hour {
		t.Errorf("expires_at - created_at = %v, want the default of 7 days", d)
	}

	resp, got := e.get(sh.path(t)+"/files/"+f.ID, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("share download: status %d, body %q", resp.StatusCode, got)
	}
	assertSafeDownload(t, resp.Header, "numbers.txt", "text/plain")

	list := e.listShares(e.AliceToken)
	if len(list) != 1 || list[0].Downloads != 1 || list[0].URL != "" {
		t.Errorf("share list = %+v, want one share with 1 download and no url", list)
	}
	if len(e.listShares(e.BobToken)) != 0 {
		t.Error("bob's share list shows alice's share")
	}
	assertTokenNotStored(t, e, strings.TrimPrefix(sh.path(t), "/s/"))
	assertShareAudited(t, e, sh, len(content))
}

// assertTokenNotStored checks that no database file holds token in clear.
func assertTokenNotStored(t *testing.T, e *testEnv, token string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.DataDir, store.DatabaseFile+"*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(token)) {
			t.Errorf("%s contains the link token in clear", filepath.Base(name))
		}
	}
}

// assertShareAudited checks the audit events of a share created and
// downloaded once: creation, the counted download, and the transfer with
// its bytes, none of them holding the token.
func assertShareAudited(t *testing.T, e *testEnv, sh shareObject, size int) {
	t.Helper()
	events, err := e.Store.AuditEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(sh.path(t), "/s/")
	found := map[string]string{}
	for _, ev := range events {
		if ev.Target == "share:"+sh.ID {
			found[ev.Action] = ev.Detail
		}
		if strings.Contains(ev.Detail, token) || strings.Contains(ev.Target, token) {
			t.Errorf("audit event %s holds the link token", ev.Action)
		}
	}
	for _, action := range []string{"share_create", "share_download", "share_transfer"} {
		if _, ok := found[action]; !ok {
			t.Errorf("no %s event for the share", action)
		}
	}
	if detail := found["share_transfer"]; !strings.Contains(detail, fmt.Sprintf("sent %d bytes", size)) {
		t.Errorf("share_transfer detail %q does not give the %d bytes sent", detail, size)
	}
}

func TestSharePageListsFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.storeFile(e.AliceToken, "<b onclick=alert(1)>bold.txt", []byte("a\n"))
	b := e.storeFile(e.AliceToken, "b.pdf", samplePDF)
	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(a.ID, b.ID)+`}`)

	resp, page := e.get(sh.path(t), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("share page: status %d", resp.StatusCode)
	}
	html := string(page)
	for _, want := range []string{"&lt;b onclick=alert(1)&gt;bold.txt", "b.pdf", sh.path(t) + "/files/" + a.ID, sh.path(t) + "/zip", "not scanned"} {
		if !strings.Contains(html, want) {
			t.Errorf("share page lacks %q", want)
		}
	}
	if strings.Contains(html, "<b onclick") {
		t.Error("file name rendered as markup")
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}

	resp, data := e.get(sh.path(t), http.Header{"Accept": {"application/json"}})
	var listing struct {
		Files []struct{ ID, Name, URL string }
	}
	if err := json.Unmarshal(data, &listing); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON listing: status %d, %v: %s", resp.StatusCode, err, data)
	}
	if len(listing.Files) != 2 || listing.Files[1].URL != e.URL+sh.path(t)+"/files/"+b.ID {
		t.Errorf("JSON listing = %+v", listing.Files)
	}
}

func TestShareCreateRejections(t *testing.T) {
	e := newEnv(t, envOptions{})
	alices := e.storeFile(e.AliceToken, "a.txt", []byte("a\n"))
	bobs := e.storeFile(e.BobToken, "b.txt", []byte("b\n"))

	cases := []struct {
		name   string
		body   string
		header http.Header
		status int
		code   string
	}{
		{name: "no files", body: `{"file_ids":[]}`, status: 400, code: "invalid_request"},
		{name: "file_ids missing", body: `{}`, status: 400, code: "invalid_request"},
		{name: "another user's file", body: `{"file_ids":` + fileIDsJSON(bobs.ID) + `}`, status: 404, code: "not_found"},
		{name: "own and another user's file", body: `{"file_ids":` + fileIDsJSON(alices.ID, bobs.ID) + `}`, status: 404, code: "not_found"},
		{name: "unknown id", body: `{"file_ids":["0123456789abcdef0123456789abcdef"]}`, status: 404, code: "not_found"},
		{name: "traversal id", body: `{"file_ids":["../../../../tmp/h41"]}`, status: 404, code: "not_found"},
		{name: "encoded traversal id", body: `{"file_ids":["..%2f..%2fvaultdrop.db"]}`, status: 404, code: "not_found"},
		{name: "expiry too short", body: `{"file_ids":` + fileIDsJSON(alices.ID) + `,"expires_in_seconds":1}`, status: 400, code: "invalid_request"},
		{name: "expiry too long", body: `{"file_ids":` + fileIDsJSON(alices.ID) + `,"expires_in_seconds":99999999999}`, status: 400, code: "invalid_request"},
		{name: "zero downloads", body: `{"file_ids":` + fileIDsJSON(alices.ID) + `,"max_downloads":0}`, status: 400, code: "invalid_request"},
		{name: "short password", body: `{"file_ids":` + fileIDsJSON(alices.ID) + `,"password":"short"}`, status: 400, code: "invalid_request"},
		{name: "unknown field", body: `{"file_ids":` + fileIDsJSON(alices.ID) + `,"max_download":1}`, status: 400, code: "invalid_request"},
		{name: "not JSON", body: `file_ids=` + alices.ID, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, status: 400, code: "invalid_request"},
		{name: "text/plain JSON", body: `{"file_ids":` + fileIDsJSON(alices.ID) + `}`, header: http.Header{"Content-Type": {"text/plain"}}, status: 400, code: "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == nil {
				header = http.Header{"Content-Type": {"application/json"}}
			}
			resp, body := e.request(http.MethodPost, "/api/v1/shares", e.AliceToken, strings.NewReader(tc.body), header)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			assertErrorCode(t, body, tc.code)
			if n := len(e.listShares(e.AliceToken)); n != 0 {
				t.Errorf("alice has %d shares, want none created", n)
			}
		})
	}
}

func TestSharePendingFileRefused(t *testing.T) {
	e := newEnv(t, envOptions{scanOn: true}) // no scanner: uploads wait as pending
	resp, body := e.upload(e.AliceToken, "wait.txt", []byte("wait\n"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload: status %d, want 202: %s", resp.StatusCode, body)
	}
	pending := decodeFile(t, body)

	resp, body = e.postJSON("/api/v1/shares", e.AliceToken, `{"file_ids":`+fileIDsJSON(pending.ID)+`}`)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("status = %d, want 409: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "not_scanned")
	if n := len(e.listShares(e.AliceToken)); n != 0 {
		t.Errorf("alice has %d shares, want none", n)
	}
}

// deadLinkRoutes are the three public routes of a share.
func deadLinkRoutes(path, fileID string) []string {
	return []string{path, path + "/files/" + fileID, path + "/zip"}
}

func TestShareDeadLinksAnswerAlike(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, envOptions{now: clock.Now})
	ctx := context.Background()

	newShare := func(name, options string) (shareObject, fileObject) {
		f := e.storeFile(e.AliceToken, name, []byte(name+"\n"))
		return e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+options+`}`), f
	}
	expired, expiredFile := newShare("expired.txt", `,"expires_in_seconds":60`)
	exhausted, exhaustedFile := newShare("exhausted.txt", `,"max_downloads":1`)
	revoked, revokedFile := newShare("revoked.txt", "")
	deleted, deletedFile := newShare("deleted.txt", "")
	infected, infectedFile := newShare("infected.txt", "")

	if resp, _ := e.get(exhausted.path(t)+"/files/"+exhaustedFile.ID, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the one allowed download: status %d", resp.StatusCode)
	}
	if resp, _ := e.request(http.MethodDelete, "/api/v1/shares/"+revoked.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
	if resp, _ := e.request(http.MethodDelete, "/api/v1/files/"+deletedFile.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete file: status %d", resp.StatusCode)
	}
	if err := e.Store.MarkInfected(ctx, infectedFile.ID, store.ScanInfo{Signature: "Test.Sig"}, store.AuditEvent{Action: "scan"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(61 * time.Second)

	unknown := "/s/" + strings.Repeat("A", 43)
	cases := []struct {
		name   string
		path   string
		fileID string
	}{
		{"expired", expired.path(t), expiredFile.ID},
		{"exhausted", exhausted.path(t), exhaustedFile.ID},
		{"revoked", revoked.path(t), revokedFile.ID},
		{"file deleted", deleted.path(t), deletedFile.ID},
		{"file infected", infected.path(t), infectedFile.ID},
		{"unknown", unknown, expiredFile.ID},
		{"malformed token", "/s/..%2f..%2fvaultdrop.db", expiredFile.ID},
	}
	headers := map[string]http.Header{
		"html":            {"Accept": {"text/html"}},
		"json":            {"Accept": {"application/json"}},
		"password header": {"X-Share-Password": {"any password at all"}},
	}
	for kind, header := range headers {
		wantBodies := map[int][]byte{}
		for i, route := range deadLinkRoutes(unknown, expiredFile.ID) {
			_, wantBodies[i] = e.get(route, header)
		}
		for _, tc := range cases {
			t.Run(tc.name+" "+kind, func(t *testing.T) {
				for i, route := range deadLinkRoutes(tc.path, tc.fileID) {
					resp, body := e.get(route, header)
					if resp.StatusCode != http.StatusNotFound {
						t.Errorf("GET %s: status %d, want 404", route, resp.StatusCode)
					}
					if !bytes.Equal(body, wantBodies[i]) {
						t.Errorf("GET %s: body differs from an unknown link's:\n%s\nwant:\n%s", route, body, wantBodies[i])
					}
					if kind != "html" {
						assertErrorCode(t, body, "not_found")
					}
				}
			})
		}
	}

	states := map[string]string{}
	for _, sh := range e.listShares(e.AliceToken) {
		states[sh.ID] = sh.State
	}
	for id, want := range map[string]string{expired.ID: "expired", exhausted.ID: "exhausted", revoked.ID: "revoked"} {
		if states[id] != want {
			t.Errorf("state of share %s = %q, want %q", id, states[id], want)
		}
	}
}

func TestShareInfectedFileLeavesOthers(t *testing.T) {
	e := newEnv(t, envOptions{})
	good := e.storeFile(e.AliceToken, "good.txt", []byte("good\n"))
	bad := e.storeFile(e.AliceToken, "bad.txt", []byte("bad\n"))
	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(good.ID, bad.ID)+`}`)

	if err := e.Store.MarkInfected(context.Background(), bad.ID, store.ScanInfo{Signature: "Test.Sig"}, store.AuditEvent{Action: "scan"}); err != nil {
		t.Fatal(err)
	}

	if resp, _ := e.get(sh.path(t)+"/files/"+bad.ID, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("infected file: status %d, want 404", resp.StatusCode)
	}
	_, page := e.get(sh.path(t), nil)
	if strings.Contains(string(page), "bad.txt") || !strings.Contains(string(page), "good.txt") {
		t.Error("share page should list good.txt only")
	}
	resp, data := e.get(sh.path(t)+"/zip", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("zip: status %d", resp.StatusCode)
	}
	if names := zipNames(t, data); strings.Join(names, ",") != "good.txt" {
		t.Errorf("zip entries = %q, want good.txt only", names)
	}
}

// zipNames returns the entry names of a zip archive.
func zipNames(t *testing.T, data []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("read zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func TestShareZipEntries(t *testing.T) {
	e := newEnv(t, envOptions{})
	uploads := []struct{ name, content string }{
		{"report.txt", "first report\n"},
		{"report.txt", "second report\n"},
		{"REPORT.txt", "third report\n"},
		{"../../../tmp/h03_zip.txt", "traversal in the upload name\n"},
		{"..hidden.txt", "dots in front\n"},
		{"C:evil.txt", "drive letter\n"},
	}
	var ids []string
	for _, u := range uploads {
		ids = append(ids, e.storeFile(e.AliceToken, u.name, []byte(u.content)).ID)
	}
	jpg := sampleJPEG(t)
	ids = append(ids, e.storeFile(e.AliceToken, "photo.jpg", jpg).ID)
	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(ids...)+`}`)

	resp, data := e.get(sh.path(t)+"/zip", http.Header{"Range": {"bytes=10-"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("zip: status %d, want 200 whatever the Range", resp.StatusCode)
	}
	assertSafeDownload(t, resp.Header, "shared-files.zip", "application/zip")

	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"report.txt", "report (2).txt", "REPORT (3).txt", "h03_zip.txt", ".hidden.txt", "C_evil.txt", "photo.jpg"}
	wantContent := []string{uploads[0].content, uploads[1].content, uploads[2].content, uploads[3].content,
		uploads[4].content, uploads[5].content, string(jpg)}
	if len(zr.File) != len(wantNames) {
		t.Fatalf("zip has %d entries, want %d", len(zr.File), len(wantNames))
	}
	for i, f := range zr.File {
		if f.Name != wantNames[i] {
			t.Errorf("entry %d = %q, want %q", i, f.Name, wantNames[i])
		}
		if strings.ContainsAny(f.Name, `/\:`) || strings.Contains(f.Name, "..") || filepath.IsAbs(f.Name) {
			t.Errorf("entry %q could leave the extraction folder", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != wantContent[i] {
			t.Errorf("entry %q holds %q, want %q", f.Name, got, wantContent[i])
		}
	}
	if method := zr.File[6].Method; method != zip.Store {
		t.Errorf("JPEG entry method = %d, want Store", method)
	}

	if list := e.listShares(e.AliceToken); list[0].Downloads != 1 {
		t.Errorf("downloads after one zip = %d, want 1", list[0].Downloads)
	}
}

func TestShareDownloadLimitRace(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := bytes.Repeat([]byte("race\n"), 20000)
	f := e.storeFile(e.AliceToken, "race.txt", content)

	t.Run("one file, one download", func(t *testing.T) {
		sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+`,"max_downloads":1}`)
		statuses := raceGets(t, e, 20, func(int) string { return sh.path(t) + "/files/" + f.ID }, content)
		if statuses[http.StatusOK] != 1 || statuses[http.StatusNotFound] != 19 {
			t.Errorf("statuses = %v, want one 200 and nineteen 404", statuses)
		}
	})

	t.Run("file and zip, three downloads", func(t *testing.T) {
		sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+`,"max_downloads":3}`)
		route := func(i int) string {
			if i%2 == 0 {
				return sh.path(t) + "/zip"
			}
			return sh.path(t) + "/files/" + f.ID
		}
		statuses := raceGets(t, e, 20, route, nil)
		if statuses[http.StatusOK] != 3 || statuses[http.StatusNotFound] != 17 {
			t.Errorf("statuses = %v, want three 200 and seventeen 404", statuses)
		}
		for _, s := range e.listShares(e.AliceToken) {
			if s.ID == sh.ID && s.Downloads != 3 {
				t.Errorf("downloads = %d, want 3", s.Downloads)
			}
		}
	})
}

// raceGets sends n concurrent GETs and counts the responses by status. A 200
// must carry want when want is not nil.
func raceGets(t *testing.T, e *testEnv, n int, route func(int) string, want []byte) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Get(e.URL + route(i))
			if err != nil {
				t.Error(err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Error(err)
				return
			}
			if resp.StatusCode == http.StatusOK && want != nil && !bytes.Equal(body, want) {
				t.Errorf("a 200 carried %d bytes, want the %d of the file", len(body), len(want))
			}
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// clientFrom returns an HTTP client whose connections come from another
// loopback address, so the server gets another client address.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := noRedirectClient()
	c.Transport = &http.Transport{DialContext: dialer.DialContext}
	return c
}

func TestShareRangeCounting(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := []byte("0123456789abcdefghij")
	f := e.storeFile(e.AliceToken, "digits.txt", content)
	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+`,"max_downloads":2}`)
	route := sh.path(t) + "/files/" + f.ID
	other := clientFrom("127.0.0.2")

	steps := []struct {
		name      string
		client    *http.Client
		ranges    string
		status    int
		body      string
		downloads int64
	}{
		{name: "resume before any counted download", ranges: "bytes=5-9", status: 404, downloads: 0},
		{name: "short suffix is a resume", ranges: "bytes=-5", status: 404, downloads: 0},
		{name: "range from byte 0 counts", ranges: "bytes=0-4", status: 206, body: "01234", downloads: 1},
		{name: "resume is free", ranges: "bytes=5-", status: 206, body: "56789abcdefghij", downloads: 1},
		{name: "resume from another address", client: other, ranges: "bytes=5-", status: 404, downloads: 1},
		{name: "full download counts", status: 200, body: string(content), downloads: 2},
		{name: "used up", status: 404, downloads: 2},
		{name: "range from byte 0 on a used-up link", ranges: "bytes=0-", status: 404, downloads: 2},
		{name: "counted client may still resume", ranges: "bytes=10-14", status: 206, body: "abcde", downloads: 2},
	}
	for _, st := range steps {
		client := st.client
		if client == nil {
			client = noRedirectClient()
		}
		req, _ := http.NewRequest(http.MethodGet, e.URL+route, nil)
		if st.ranges != "" {
			req.Header.Set("Range", st.ranges)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()

		if resp.StatusCode != st.status {
			t.Errorf("%s: status %d, want %d", st.name, resp.StatusCode, st.status)
		}
		if st.body != "" && string(body) != st.body {
			t.Errorf("%s: body %q, want %q", st.name, body, st.body)
		}
		if got := e.listShares(e.AliceToken)[0].Downloads; got != st.downloads {
			t.Errorf("%s: downloads = %d, want %d", st.name, got, st.downloads)
		}
	}

	if resp, _ := e.request(http.MethodDelete, "/api/v1/shares/"+sh.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatal("revoke failed")
	}
	if resp, _ := e.get(route, http.Header{"Range": {"bytes=5-"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("resume after revocation: status %d, want 404", resp.StatusCode)
	}
}

func TestSharePassword(t *testing.T) {
	e := newEnv(t, envOptions{})
	const password = "share password 1234"
	content := []byte("secret plans\n")
	f := e.storeFile(e.AliceToken, "plans.txt", content)
	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+`,"password":"`+password+`"}`)
	route := sh.path(t) + "/files/" + f.ID
	if !sh.HasPassword {
		t.Error("has_password = false")
	}

	resp, page := e.get(sh.path(t), nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Password required") || strings.Contains(string(page), "plans.txt") {
		t.Errorf("page without password: status %d; want the password form without the file list", resp.StatusCode)
	}
	resp, body := e.get(route, http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no password: status %d, want 401", resp.StatusCode)
	}
	assertErrorCode(t, body, "unauthorized")

	resp, body = e.get(route, http.Header{"X-Share-Password": {password}})
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("right password: status %d", resp.StatusCode)
	}

	var wrongBodies [][]byte
	var last *http.Response
	for i := range 10 {
		last, body = e.get(route, http.Header{"X-Share-Password": {"wrong guess " + string(rune('a'+i))}})
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
		if last.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d, want 401", i, last.StatusCode)
		}
		wrongBodies = append(wrongBodies, body)
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d wrong passwords: status %d, Retry-After %q; want 429 with Retry-After",
			len(wrongBodies), last.StatusCode, last.Header.Get("Retry-After"))
	}
	assertErrorCode(t, body, "too_many_requests")
	for _, b := range wrongBodies[1:] {
		if !bytes.Equal(b, wrongBodies[0]) {
			t.Errorf("wrong passwords answer differently: %s vs %s", b, wrongBodies[0])
		}
	}
	if resp, _ := e.get(route, http.Header{"X-Share-Password": {password}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while throttled: status %d, want 429", resp.StatusCode)
	}

	t.Run("browser form from another address", func(t *testing.T) {
		b := clientFrom("127.0.0.3")
		b.Jar = e.browser().Jar
		resp, err := b.PostForm(e.URL+sh.path(t), url.Values{"password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("password form: status %d, want 303", resp.StatusCode)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "vaultdrop_link" {
				cookie = c
			}
		}
		if cookie == nil {
			t.Fatal("no unlock cookie")
		}
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != sh.path(t) {
			t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q; want HttpOnly, Lax, %s", cookie.HttpOnly, cookie.SameSite, cookie.Path, sh.path(t))
		}
		if strings.Contains(cookie.Value, password) || strings.Contains(cookie.Value, base64.RawURLEncoding.EncodeToString([]byte(password))) {
			t.Error("unlock cookie carries the password")
		}

		resp, err = b.Get(e.URL + route)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
			t.Errorf("download with the unlock cookie: status %d", resp.StatusCode)
		}
	})
}

func TestShareRevokeOtherUsers(t *testing.T) {
	e := newEnv(t, envOptions{})
	f := e.storeFile(e.AliceToken, "h29.pdf", samplePDF)
	sh := e.createShare(e.AliceToken, `{"file_ids":`+fileIDsJSON(f.ID)+`}`)
	token := strings.TrimPrefix(sh.path(t), "/s/")

	for _, tc := range []struct{ name, token, id string }{
		{"by id as bob", e.BobToken, sh.ID},
		{"by token as bob", e.BobToken, token},
		{"unknown id", e.AliceToken, "0123456789abcdef0123456789abcdef"},
		{"traversal id", e.AliceToken, "..%2f..%2fetc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.request(http.MethodDelete, "/api/v1/shares/"+tc.id, tc.token, nil, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status = %d, want 404", resp.StatusCode)
			}
			assertErrorCode(t, body, "not_found")
		})
	}
	if resp, _ := e.get(sh.path(t)+"/files/"+f.ID, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("alice's link after bob's attempts: status %d, want 200", resp.StatusCode)
	}
	assertAuditOutcome(t, e, "share_revoke", store.OutcomeFailure)

	if resp, _ := e.request(http.MethodDelete, "/api/v1/shares/"+sh.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("alice's revocation: status %d, want 204", resp.StatusCode)
	}
	if resp, _ := e.get(sh.path(t)+"/files/"+f.ID, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("link after revocation: status %d, want 404", resp.StatusCode)
	}
}

// assertAuditOutcome checks that the audit log holds an event of action
// with outcome.
func assertAuditOutcome(t *testing.T, e *testEnv, action, outcome string) {
	t.Helper()
	events, err := e.Store.AuditEvents(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Action == action && ev.Outcome == outcome {
			return
		}
	}
	t.Errorf("no %s audit event with outcome %s", action, outcome)
}

func TestSharePagesInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	f := e.storeFile(e.AliceToken, "page.txt", []byte("page\n"))
	b := e.browser()
	e.login(b, "alice", alicePassword)

	resp, err := b.Get(e.URL + "/files")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "/shares/new?file_id="+f.ID) {
		t.Error("Files page has no Share action for a downloadable file")
	}

	resp, err = b.Get(e.URL + "/shares/new?file_id=" + f.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`value="` + f.ID + `" checked`).Match(page) {
		t.Error("new-share form does not check the chosen file")
	}

	resp, err = b.PostForm(e.URL+"/shares", url.Values{"file_id": {f.ID}, "expires_in_seconds": {"3600"}, "max_downloads": {"2"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create from the form: status %d: %s", resp.StatusCode, page)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	link := regexp.MustCompile(`<input id="link-url" type="text" readonly value="([^"]+)"`).FindSubmatch(page)
	if link == nil || !strings.HasPrefix(string(link[1]), e.URL+"/s/") {
		t.Fatalf("created page has no read-only link field")
	}
	if !regexp.MustCompile(`<script src="/assets/copy\.js\?v=[0-9a-f]+" defer>`).Match(page) {
		t.Error("created page does not load copy.js")
	}
	qr := regexp.MustCompile(`<img class="qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindSubmatch(page)
	if qr == nil {
		t.Fatal("created page has no QR code image")
	}
	png64, _ := base64.StdEncoding.DecodeString(string(qr[1]))
	if _, err := png.Decode(bytes.NewReader(png64)); err != nil {
		t.Errorf("QR code is not a PNG: %v", err)
	}

	resp, err = b.Get(e.URL + "/shares")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "page.txt") || !strings.Contains(string(page), "0 of 2") {
		t.Error("Shares page does not list the share with its downloads")
	}
}

func TestShareCrossSiteRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	f := e.storeFile(e.AliceToken, "csrf.pdf", samplePDF)
	b := e.browser()
	e.login(b, "alice", alicePassword)

	send := func(site, contentType string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/shares", strings.NewReader(`{"file_ids":`+fileIDsJSON(f.ID)+`}`))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Sec-Fetch-Site", site)
		if site == "cross-site" {
			req.Header.Set("Origin", "http://attacker.invalid")
		} else {
			req.Header.Set("Origin", e.URL)
		}
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}

	for _, ct := range []string{"application/json", "text/plain"} {
		resp := send("cross-site", ct)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site %s: status %d, want 403", ct, resp.StatusCode)
		}
		assertErrorCode(t, body, "cross_origin")
	}
	if n := len(e.listShares(e.AliceToken)); n != 0 {
		t.Fatalf("cross-site requests created %d shares", n)
	}

	if resp := send("same-origin", "application/json"); resp.StatusCode != http.StatusCreated {
		t.Errorf("same-origin: status %d, want 201", resp.StatusCode)
	}
}
