package app_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// uploadLocation is the form of the Location header of a new upload: a
// path, never an absolute URL.
var uploadLocation = regexp.MustCompile(`^/api/v1/uploads/[0-9a-f]{32}$`)

// tusHeader returns the headers every tus request carries, plus extra
// name-value pairs.
func tusHeader(pairs ...string) http.Header {
	h := http.Header{"Tus-Resumable": {"1.0.0"}}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}

// tusMetadata encodes an Upload-Metadata header with one filename.
func tusMetadata(name string) string {
	return "filename " + base64.StdEncoding.EncodeToString([]byte(name)) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("application/octet-stream"))
}

// createUpload starts a resumable upload of size bytes named name.
func (e *testEnv) createUpload(token, name string, size int64) (*http.Response, []byte) {
	e.t.Helper()
	h := tusHeader("Upload-Length", strconv.FormatInt(size, 10), "Upload-Metadata", tusMetadata(name))
	return e.request(http.MethodPost, "/api/v1/uploads/", token, nil, h)
}

// mustCreateUpload starts an upload and returns its path.
func (e *testEnv) mustCreateUpload(token, name string, size int64) string {
	e.t.Helper()
	resp, body := e.createUpload(token, name, size)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create upload: status %d, want 201: %s", resp.StatusCode, body)
	}
	location := resp.Header.Get("Location")
	if !uploadLocation.MatchString(location) {
		e.t.Fatalf("Location = %q, want a path like /api/v1/uploads/<32 hex>", location)
	}
	return location
}

// patchUpload sends one chunk at offset.
func (e *testEnv) patchUpload(token, location string, offset int64, chunk []byte) (*http.Response, []byte) {
	e.t.Helper()
	h := tusHeader("Upload-Offset", strconv.FormatInt(offset, 10), "Content-Type", "application/offset+octet-stream")
	return e.request(http.MethodPatch, location, token, bytes.NewReader(chunk), h)
}

// uploadFiles lists the uploads folder, sorted.
func (e *testEnv) uploadFiles() []string {
	e.t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.DataDir, "uploads"))
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	sort.Strings(names)
	return names
}

// assertNoUploadFiles checks that the uploads folder holds nothing for
// upload id, or nothing at all when id is "".
func (e *testEnv) assertNoUploadFiles(id string) {
	e.t.Helper()
	for _, name := range e.uploadFiles() {
		if id == "" || strings.HasPrefix(name, id) {
			e.t.Errorf("uploads folder still holds %s", name)
		}
	}
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("error body is not the API's JSON error: %v: %q", err, body)
	}
	if b.Error.Message == "" {
		t.Errorf("error %q has no message", b.Error.Code)
	}
	return b.Error.Code
}

func TestResumableUploadStoresFile(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := bytes.Repeat([]byte("vaultdrop resumable upload\n"), 50_000) // 1.3 MB of text
	half := int64(len(content) / 2)

	location := e.mustCreateUpload(e.AliceToken, "notes.txt", int64(len(content)))
	id := strings.TrimPrefix(location, "/api/v1/uploads/")

	resp, body := e.patchUpload(e.AliceToken, location, 0, content[:half])
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first chunk: status %d, want 204: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Upload-Offset"); got != strconv.FormatInt(half, 10) {
		t.Errorf("Upload-Offset = %q, want %d", got, half)
	}
	if _, err := http.ParseTime(resp.Header.Get("Upload-Expires")); err != nil {
		t.Errorf("Upload-Expires = %q, want an HTTP date: %v", resp.Header.Get("Upload-Expires"), err)
	}
	if got := resp.Header.Get("X-Vaultdrop-Status"); got != "" {
		t.Errorf("unfinished upload has X-Vaultdrop-Status %q", got)
	}

	resp, body = e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Upload-Offset") != strconv.FormatInt(half, 10) {
		t.Fatalf("HEAD: status %d, offset %q; want 200 and %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), half)
	}

	resp, body = e.patchUpload(e.AliceToken, location, half, content[half:])
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("last chunk: status %d, want 204: %s", resp.StatusCode, body)
	}
	fileID := resp.Header.Get("X-Vaultdrop-File-Id")
	if got := resp.Header.Get("X-Vaultdrop-Status"); got != "unscanned" {
		t.Errorf("X-Vaultdrop-Status = %q, want unscanned", got)
	}
	if got := resp.Header.Get("Upload-Expires"); got != "" {
		t.Errorf("finished upload still has Upload-Expires %q", got)
	}

	resp, body = e.request(http.MethodGet, "/api/v1/files/"+fileID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("download: status %d, %d bytes; want 200 and the %d bytes sent", resp.StatusCode, len(body), len(content))
	}
	resp, body = e.request(http.MethodGet, "/api/v1/files/"+fileID, e.AliceToken, nil, nil)
	if f := decodeFile(t, body); f.Name != "notes.txt" || f.Size != int64(len(content)) {
		t.Errorf("file object = %+v, want notes.txt of %d bytes", f, len(content))
	}

	if got := e.uploadFiles(); len(got) != 1 || got[0] != id+".result" {
		t.Errorf("uploads folder = %v, want only %s.result", got, id)
	}
}

func TestResumableUploadFinishedCannotChange(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := []byte("finished\n")
	location := e.mustCreateUpload(e.AliceToken, "done.txt", int64(len(content)))
	resp, _ := e.patchUpload(e.AliceToken, location, 0, content)
	fileID := resp.Header.Get("X-Vaultdrop-File-Id")
	before := e.snapshot()

	resp, body := e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD after finish: status %d, want 200", resp.StatusCode)
	}
	if resp.Header.Get("Upload-Offset") != "9" || resp.Header.Get("Upload-Length") != "9" {
		t.Errorf("HEAD after finish: offset %q, length %q; want 9 and 9", resp.Header.Get("Upload-Offset"), resp.Header.Get("Upload-Length"))
	}
	if resp.Header.Get("X-Vaultdrop-File-Id") != fileID || resp.Header.Get("X-Vaultdrop-Status") != "unscanned" {
		t.Errorf("HEAD after finish: file %q, status %q; want %s and unscanned",
			resp.Header.Get("X-Vaultdrop-File-Id"), resp.Header.Get("X-Vaultdrop-Status"), fileID)
	}

	for _, offset := range []int64{0, 9} {
		resp, body = e.patchUpload(e.AliceToken, location, offset, []byte("more"))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("PATCH at %d after finish: status %d, want 403: %s", offset, resp.StatusCode, body)
		} else if code := errorCode(t, body); code != "upload_finished" {
			t.Errorf("PATCH at %d after finish: code %q, want upload_finished", offset, code)
		}
	}
	e.assertNothingStored(before)

	resp, body = e.request(http.MethodGet, "/api/v1/files/"+fileID+"/content", e.AliceToken, nil, nil)
	if !bytes.Equal(body, content) {
		t.Errorf("stored file changed: %q, want %q", body, content)
	}

	// Terminating a finished upload deletes the result and keeps the file.
	resp, _ = e.request(http.MethodDelete, location, e.AliceToken, nil, tusHeader())
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE after finish: status %d, want 204", resp.StatusCode)
	}
	resp, _ = e.request(http.MethodPatch, location, e.AliceToken, strings.NewReader("x"),
		tusHeader("Upload-Offset", "9", "Content-Type", "application/offset+octet-stream"))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("PATCH after DELETE: status %d, want 404", resp.StatusCode)
	}
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+fileID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("stored file after DELETE of its upload: status %d, want 200", resp.StatusCode)
	}
}

func TestResumableUploadRejectedAtCreation(t *testing.T) {
	e := newEnv(t, envOptions{})
	cases := []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"over max file size", tusHeader("Upload-Length", strconv.Itoa(20<<20+1), "Upload-Metadata", tusMetadata("big.txt")), 413, "too_large"},
		{"no file name", tusHeader("Upload-Length", "10"), 400, "invalid_name"},
		{"dot-dot name", tusHeader("Upload-Length", "10", "Upload-Metadata", tusMetadata("..")), 400, "invalid_name"},
		{"program", tusHeader("Upload-Length", "10", "Upload-Metadata", tusMetadata("setup.exe")), 415, "type_not_allowed"},
		{"script inside", tusHeader("Upload-Length", "10", "Upload-Metadata", tusMetadata("shell.php.jpg")), 415, "type_not_allowed"},
		{"no extension", tusHeader("Upload-Length", "10", "Upload-Metadata", tusMetadata("README")), 415, "type_not_allowed"},
		{"deferred length", tusHeader("Upload-Defer-Length", "1", "Upload-Metadata", tusMetadata("a.txt")), 400, "invalid_request"},
		{"no length", tusHeader("Upload-Metadata", tusMetadata("a.txt")), 400, "invalid_request"},
		{"negative length", tusHeader("Upload-Length", "-5", "Upload-Metadata", tusMetadata("a.txt")), 400, "invalid_request"},
		{"no tus version", http.Header{"Upload-Length": {"10"}, "Upload-Metadata": {tusMetadata("a.txt")}}, 412, "unsupported_version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := e.request(http.MethodPost, "/api/v1/uploads/", e.AliceToken, nil, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if code := errorCode(t, body); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("refused upload has a Location: %q", resp.Header.Get("Location"))
			}
			e.assertNothingStored(before)
			e.assertNoUploadFiles("")
		})
	}
}

func TestResumableUploadNeedsDiskSpace(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MinFreeSpace = 1 << 60 }})
	before := e.snapshot()

	resp, body := e.createUpload(e.AliceToken, "notes.txt", 1000)
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("status %d, want 507: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "insufficient_storage" {
		t.Errorf("code %q, want insufficient_storage", code)
	}
	e.assertNothingStored(before)
	e.assertNoUploadFiles("")
}

func TestResumableUploadOwnerOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	location := e.mustCreateUpload(e.AliceToken, "private.txt", 10)
	if resp, body := e.patchUpload(e.AliceToken, location, 0, []byte("hello")); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("alice's chunk: status %d: %s", resp.StatusCode, body)
	}
	patch := tusHeader("Upload-Offset", "5", "Content-Type", "application/offset+octet-stream")

	cases := []struct {
		name   string
		method string
		token  string
		header http.Header
		status int
		code   string
	}{
		{"other user's HEAD", http.MethodHead, e.BobToken, tusHeader(), 404, ""},
		{"other user's PATCH", http.MethodPatch, e.BobToken, patch, 404, "not_found"},
		{"other user's DELETE", http.MethodDelete, e.BobToken, tusHeader(), 404, "not_found"},
		{"anonymous PATCH", http.MethodPatch, "", patch, 401, "unauthorized"},
		{"anonymous DELETE", http.MethodDelete, "", tusHeader(), 401, "unauthorized"},
		// Upload URLs take no POST, so the override never reaches tusd.
		{"PATCH through a POST override", http.MethodPost, e.BobToken, tusHeader("X-HTTP-Method-Override", "PATCH",
			"Upload-Offset", "5", "Content-Type", "application/offset+octet-stream"), 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.request(tc.method, location, tc.token, strings.NewReader("WORLD"), tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.code != "" {
				if code := errorCode(t, body); code != tc.code {
					t.Errorf("code %q, want %q", code, tc.code)
				}
			}
		})
	}

	resp, _ := e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	if got := resp.Header.Get("Upload-Offset"); got != "5" {
		t.Fatalf("offset after the others' requests = %q, want 5", got)
	}
	resp, _ = e.patchUpload(e.AliceToken, location, 5, []byte("world"))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Vaultdrop-Status") != "unscanned" {
		t.Fatalf("alice's last chunk: status %d, result %q", resp.StatusCode, resp.Header.Get("X-Vaultdrop-Status"))
	}
	resp, body := e.request(http.MethodGet, "/api/v1/files/"+resp.Header.Get("X-Vaultdrop-File-Id")+"/content", e.AliceToken, nil, nil)
	if string(body) != "helloworld" {
		t.Errorf("stored %q, want helloworld", body)
	}
}

func TestResumableUploadHeadShowsOnlyName(t *testing.T) {
	e := newEnv(t, envOptions{})
	location := e.mustCreateUpload(e.AliceToken, "report.txt", 10)

	resp, _ := e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	want := "filename " + base64.StdEncoding.EncodeToString([]byte("report.txt"))
	if got := resp.Header.Get("Upload-Metadata"); got != want {
		t.Errorf("Upload-Metadata = %q, want %q", got, want)
	}
	if got := resp.Header.Get("Upload-Length"); got != "10" {
		t.Errorf("Upload-Length = %q, want 10", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestResumableUploadChunkLimits(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.Resumable.UploadChunkSize = 1 << 20 }})
	location := e.mustCreateUpload(e.AliceToken, "big.txt", 3<<20)
	before := e.snapshot()

	resp, body := e.patchUpload(e.AliceToken, location, 0, bytes.Repeat([]byte("a"), 1<<20+1))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized chunk: status %d, want 413: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "too_large" {
		t.Errorf("oversized chunk: code %q, want too_large", code)
	}

	// A body without Content-Length cannot be checked before it is read.
	req, err := http.NewRequest(http.MethodPatch, e.URL+location, struct{ ioReader }{strings.NewReader("abc")})
	if err != nil {
		t.Fatal(err)
	}
	req.Header = tusHeader("Upload-Offset", "0", "Content-Type", "application/offset+octet-stream", "Authorization", "Bearer "+e.AliceToken)
	chunked, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	chunked.Body.Close()
	if chunked.StatusCode != http.StatusLengthRequired {
		t.Errorf("chunked body: status %d, want 411", chunked.StatusCode)
	}

	resp, body = e.patchUpload(e.AliceToken, location, 7, []byte("abc"))
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("wrong offset: status %d, want 409: %s", resp.StatusCode, body)
	} else if code := errorCode(t, body); code != "offset_mismatch" {
		t.Errorf("wrong offset: code %q, want offset_mismatch", code)
	}

	resp, _ = e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	if got := resp.Header.Get("Upload-Offset"); got != "0" {
		t.Errorf("offset after refused chunks = %q, want 0", got)
	}
	e.assertNothingStored(before)

	resp, body = e.patchUpload(e.AliceToken, location, 0, bytes.Repeat([]byte("a"), 1<<20))
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("chunk of exactly the chunk size: status %d, want 204: %s", resp.StatusCode, body)
	}
}

func TestResumableUploadTerminate(t *testing.T) {
	e := newEnv(t, envOptions{})
	location := e.mustCreateUpload(e.AliceToken, "gone.txt", 100)
	id := strings.TrimPrefix(location, "/api/v1/uploads/")
	e.patchUpload(e.AliceToken, location, 0, []byte("some bytes"))
	before := e.snapshot()

	resp, body := e.request(http.MethodDelete, location, e.AliceToken, nil, tusHeader())
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: status %d, want 204: %s", resp.StatusCode, body)
	}
	e.assertNoUploadFiles(id)
	e.assertNothingStored(before)

	resp, _ = e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD after DELETE: status %d, want 404", resp.StatusCode)
	}
}

func TestResumableUploadRejectedContent(t *testing.T) {
	e := newEnv(t, envOptions{})
	before := e.snapshot()
	content := []byte("this is text, not an image")
	location := e.mustCreateUpload(e.AliceToken, "photo.png", int64(len(content)))
	id := strings.TrimPrefix(location, "/api/v1/uploads/")

	resp, body := e.patchUpload(e.AliceToken, location, 0, content)
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "type_mismatch" {
		t.Errorf("code %q, want type_mismatch", code)
	}
	if resp.Header.Get("X-Vaultdrop-Status") != "rejected" || resp.Header.Get("X-Vaultdrop-Error") != "type_mismatch" {
		t.Errorf("result headers: status %q, error %q; want rejected and type_mismatch",
			resp.Header.Get("X-Vaultdrop-Status"), resp.Header.Get("X-Vaultdrop-Error"))
	}
	e.assertNothingStored(before)
	if got := e.uploadFiles(); len(got) != 1 || got[0] != id+".result" {
		t.Errorf("uploads folder = %v, want only the result", got)
	}
}

func TestResumableUploadInfectedRejected(t *testing.T) {
	d := sharedClamd.Daemon(t)
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})
	before := e.snapshot()
	eicar := clamavtest.EICAR()

	location := e.mustCreateUpload(e.AliceToken, "eicar.txt", int64(len(eicar)))
	resp, body := e.patchUpload(e.AliceToken, location, 0, eicar)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "infected" {
		t.Errorf("code %q, want infected", code)
	}
	if !strings.Contains(string(body), clamavtest.EICARSignature) {
		t.Errorf("body does not name %s: %s", clamavtest.EICARSignature, body)
	}
	e.assertNothingStored(before)

	resp, _ = e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	message, err := url.QueryUnescape(resp.Header.Get("X-Vaultdrop-Message"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Vaultdrop-Error") != "infected" || !strings.Contains(message, clamavtest.EICARSignature) {
		t.Errorf("HEAD after rejection: status %d, error %q, message %q; want 200, infected and the signature",
			resp.StatusCode, resp.Header.Get("X-Vaultdrop-Error"), message)
	}
}

func TestResumableUploadScannedClean(t *testing.T) {
	d := sharedClamd.Daemon(t)
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})

	location := e.mustCreateUpload(e.AliceToken, "report.pdf", int64(len(samplePDF)))
	resp, body := e.patchUpload(e.AliceToken, location, 0, samplePDF)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Vaultdrop-Status"); got != "clean" {
		t.Errorf("X-Vaultdrop-Status = %q, want clean", got)
	}
}

func TestResumableUploadExpires(t *testing.T) {
	e := newEnv(t, envOptions{})
	unfinished := e.mustCreateUpload(e.AliceToken, "slow.txt", 100)
	e.patchUpload(e.AliceToken, unfinished, 0, []byte("part"))
	finished := e.mustCreateUpload(e.AliceToken, "quick.txt", 4)
	e.patchUpload(e.AliceToken, finished, 0, []byte("done"))
	fresh := e.mustCreateUpload(e.AliceToken, "fresh.txt", 100)

	// Age the first two past the default 24h expiry.
	old := time.Now().Add(-25 * time.Hour)
	for _, location := range []string{unfinished, finished} {
		id := strings.TrimPrefix(location, "/api/v1/uploads/")
		for _, name := range e.uploadFiles() {
			if strings.HasPrefix(name, id) {
				if err := os.Chtimes(filepath.Join(e.DataDir, "uploads", name), old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	resp, _ := e.request(http.MethodHead, unfinished, e.AliceToken, nil, tusHeader())
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of an expired upload: status %d, want 404", resp.StatusCode)
	}
	removed, err := e.Server.ExpireUploads()
	if err != nil {
		t.Fatal(err)
	}
	if removed != 1 {
		t.Errorf("ExpireUploads removed %d, want 1 (the finished upload's result)", removed)
	}

	freshID := strings.TrimPrefix(fresh, "/api/v1/uploads/")
	if got := e.uploadFiles(); len(got) != 2 || got[0] != freshID || got[1] != freshID+".info" {
		t.Errorf("uploads folder = %v, want only the fresh upload", got)
	}
	if resp, _ := e.request(http.MethodHead, fresh, e.AliceToken, nil, tusHeader()); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD of the fresh upload: status %d, want 200", resp.StatusCode)
	}
}

func TestResumableUploadDiscovery(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, _ := e.request(http.MethodOptions, "/api/v1/uploads/", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OPTIONS: status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Tus-Version"); got != "1.0.0" {
		t.Errorf("Tus-Version = %q, want 1.0.0", got)
	}
	extensions := resp.Header.Get("Tus-Extension")
	for _, want := range []string{"creation", "termination", "expiration"} {
		if !strings.Contains(extensions, want) {
			t.Errorf("Tus-Extension %q lacks %s", extensions, want)
		}
	}
	if strings.Contains(extensions, "defer-length") || strings.Contains(extensions, "concatenation") {
		t.Errorf("Tus-Extension %q offers an extension the server refuses", extensions)
	}
	if got := resp.Header.Get("Tus-Max-Size"); got != strconv.Itoa(20<<20) {
		t.Errorf("Tus-Max-Size = %q, want %d", got, 20<<20)
	}
}

func TestResumableUploadCrossSiteRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	browser := e.browser()
	e.login(browser, "alice", alicePassword)

	req, err := http.NewRequest(http.MethodPost, e.URL+"/api/v1/uploads/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = tusHeader("Upload-Length", "10", "Upload-Metadata", tusMetadata("a.txt"), "Sec-Fetch-Site", "cross-site")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site creation: status %d, want 403", resp.StatusCode)
	}
	e.assertNoUploadFiles("")
}

func TestResumableUploadOpenCap(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := range 50 {
		if resp, body := e.createUpload(e.BobToken, "part.txt", 10); resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload %d: status %d: %s", i, resp.StatusCode, body)
		}
	}

	resp, body := e.createUpload(e.BobToken, "part.txt", 10)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("upload 51: status %d, want 429: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "too_many_requests" {
		t.Errorf("code %q, want too_many_requests", code)
	}
	if resp, body := e.createUpload(e.AliceToken, "mine.txt", 10); resp.StatusCode != http.StatusCreated {
		t.Errorf("another user's upload: status %d, want 201: %s", resp.StatusCode, body)
	}
}

func TestResumableUploadEmptyFile(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, body := e.createUpload(e.AliceToken, "empty.txt", 0)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Vaultdrop-Status"); got != "unscanned" {
		t.Errorf("X-Vaultdrop-Status = %q, want unscanned: the creation finishes an empty upload", got)
	}
	fileID := resp.Header.Get("X-Vaultdrop-File-Id")
	if resp, body := e.request(http.MethodGet, "/api/v1/files/"+fileID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("stored file: status %d: %s", resp.StatusCode, body)
	}
}

func TestResumableUploadStalledChunk(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.BodyIdleTimeout = time.Second }})
	location := e.mustCreateUpload(e.AliceToken, "slow.txt", 100)

	// A chunk that declares 100 bytes, sends 10 and then nothing.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: vaultdrop\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 100\r\n\r\n0123456789",
		location, e.AliceToken)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "request_timeout" {
		t.Errorf("code %q, want request_timeout", code)
	}

	// The bytes that arrived are kept, so the upload continues from them.
	head, _ := e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader())
	if got := head.Header.Get("Upload-Offset"); got != "10" {
		t.Errorf("offset after the stalled chunk = %q, want 10", got)
	}
}
