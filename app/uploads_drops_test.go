package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// visitor is a browser without an account that opened a drop link.
type visitor struct {
	e      *testEnv
	client *http.Client
	drop   string // the link's path, /d/TOKEN
}

func (e *testEnv) newVisitor(dropPath string) *visitor {
	e.t.Helper()
	v := &visitor{e: e, client: e.browser(), drop: dropPath}
	resp, err := v.client.Get(e.URL + dropPath)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return v
}

func (v *visitor) request(method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	v.e.t.Helper()
	req, err := http.NewRequest(method, v.e.URL+path, bytes.NewReader(body))
	if err != nil {
		v.e.t.Fatal(err)
	}
	for k, values := range header {
		req.Header[k] = values
	}
	resp, err := v.client.Do(req)
	if err != nil {
		v.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		v.e.t.Fatal(err)
	}
	return resp, data
}

// create starts a resumable upload through the drop, with the sender's
// name and note.
func (v *visitor) create(name string, size int, extra ...string) (*http.Response, []byte) {
	v.e.t.Helper()
	meta := tusMetadata(name) + ",uploader_name " + base64.StdEncoding.EncodeToString([]byte("Carol\x1b[31m")) +
		",note " + base64.StdEncoding.EncodeToString([]byte("the invoice"))
	h := tusHeader(append([]string{"Upload-Length", strconv.Itoa(size), "Upload-Metadata", meta}, extra...)...)
	return v.request(http.MethodPost, v.drop+"/uploads/", nil, h)
}

func (v *visitor) mustCreate(name string, size int) string {
	v.e.t.Helper()
	resp, body := v.create(name, size)
	if resp.StatusCode != http.StatusCreated {
		v.e.t.Fatalf("create drop upload: status %d, want 201: %s", resp.StatusCode, body)
	}
	location := resp.Header.Get("Location")
	if !strings.HasPrefix(location, v.drop+"/uploads/") || len(location) != len(v.drop+"/uploads/")+32 {
		v.e.t.Fatalf("Location = %q, want %s/uploads/<32 hex>", location, v.drop)
	}
	return location
}

func (v *visitor) patch(location string, offset int, chunk []byte) (*http.Response, []byte) {
	v.e.t.Helper()
	h := tusHeader("Upload-Offset", strconv.Itoa(offset), "Content-Type", "application/offset+octet-stream")
	return v.request(http.MethodPatch, location, chunk, h)
}

func TestResumableDropUpload(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"Invoices","max_files":2}`)
	carol := e.newVisitor(d.path(t))
	content := []byte("invoice 42, sent in two chunks\n")

	location := carol.mustCreate("invoice.txt", len(content))
	if got := e.getDrop(e.AliceToken, d.ID); got.Files != 1 || got.Bytes != int64(len(content)) {
		t.Errorf("after creation the drop counts %d files, %d bytes; want the upload's slot and size reserved", got.Files, got.Bytes)
	}

	if resp, body := carol.patch(location, 0, content[:10]); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first chunk: status %d: %s", resp.StatusCode, body)
	}
	resp, body := carol.patch(location, 10, content[10:])
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Vaultdrop-Status") != "unscanned" {
		t.Fatalf("last chunk: status %d, result %q: %s", resp.StatusCode, resp.Header.Get("X-Vaultdrop-Status"), body)
	}
	fileID := resp.Header.Get("X-Vaultdrop-File-Id")

	arrivals, err := e.Store.DropFiles(context.Background(), d.ID)
	if err != nil || len(arrivals) != 1 {
		t.Fatalf("drop files = %v, %v; want one", arrivals, err)
	}
	if a := arrivals[0]; a.ID != fileID || a.OwnerID != e.Alice.ID || a.Upload.UploaderName != "Carol[31m" || a.Upload.Note != "the invoice" {
		t.Errorf("drop file = %+v, want file %s in alice's files from Carol with her note", a, fileID)
	}
	if got := e.getDrop(e.AliceToken, d.ID); got.Files != 1 || got.Bytes != int64(len(content)) {
		t.Errorf("drop counts %d files, %d bytes; want 1 and %d", got.Files, got.Bytes, len(content))
	}

	// The visitor's page lists the file, as after a form upload.
	page, err := carol.client.Get(e.URL + d.path(t))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(html), "invoice.txt") {
		t.Error("the drop page does not list the visitor's resumable upload")
	}
	if !strings.Contains(string(html), `data-upload-endpoint="`+d.path(t)+`/uploads/"`) {
		t.Error("the drop page's form does not point upload.js at the drop's endpoint")
	}
}

func TestResumableDropUploadOtherVisitor(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"Shared"}`)
	carol, mallory := e.newVisitor(d.path(t)), e.newVisitor(d.path(t))
	location := carol.mustCreate("mine.txt", 10)

	for _, method := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
		h := tusHeader("Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
		resp, _ := mallory.request(method, location, []byte("x"), h)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("another visitor's %s: status %d, want 404", method, resp.StatusCode)
		}
	}
	// Alice owns the files it becomes, but the upload is the visitor's.
	userPath := "/api/v1/uploads/" + strings.TrimPrefix(location, d.path(t)+"/uploads/")
	if resp, _ := e.request(http.MethodHead, userPath, e.AliceToken, nil, tusHeader()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the drop owner's HEAD through the API: status %d, want 404", resp.StatusCode)
	}
	if resp, _ := carol.request(http.MethodHead, location, nil, tusHeader()); resp.StatusCode != http.StatusOK {
		t.Errorf("the visitor's own HEAD: status %d, want 200", resp.StatusCode)
	}
}

func TestResumableDropUploadReleasesSlot(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"One file","max_files":1,"max_bytes":1000}`)
	carol := e.newVisitor(d.path(t))
	before := e.snapshot()

	assertEmpty := func(when string) {
		t.Helper()
		if got := e.getDrop(e.AliceToken, d.ID); got.Files != 0 || got.Bytes != 0 {
			t.Errorf("%s: drop counts %d files, %d bytes; want its slot back", when, got.Files, got.Bytes)
		}
	}

	// Refused content.
	location := carol.mustCreate("photo.png", 12)
	resp, body := carol.patch(location, 0, []byte("not an image"))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("refused content: status %d: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "type_mismatch")
	assertEmpty("after refused content")

	// Terminated by the visitor.
	location = carol.mustCreate("draft.txt", 100)
	if resp, _ := carol.request(http.MethodDelete, location, nil, tusHeader()); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
	assertEmpty("after DELETE")

	// Expired.
	location = carol.mustCreate("later.txt", 100)
	id := strings.TrimPrefix(location, d.path(t)+"/uploads/")
	old := time.Now().Add(-25 * time.Hour)
	for _, name := range []string{id, id + ".info"} {
		if err := os.Chtimes(filepath.Join(e.DataDir, "uploads", name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Server.ExpireUploads(); err != nil {
		t.Fatal(err)
	}
	assertEmpty("after expiry")
	e.assertNothingStored(before)
}

func TestResumableDropUploadRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	const password = "drop upload password"
	full := e.createDrop(e.AliceToken, `{"label":"full","max_files":1}`)
	small := e.createDrop(e.AliceToken, `{"label":"small","max_bytes":10}`)
	locked := e.createDrop(e.AliceToken, `{"label":"locked","password":"`+password+`"}`)
	first := e.newVisitor(full.path(t))
	first.mustCreate("first.txt", 5)

	cases := []struct {
		name   string
		v      *visitor
		size   int
		header []string
		status int
		code   string
	}{
		{"drop full", e.newVisitor(full.path(t)), 5, nil, 404, "not_found"},
		{"larger than the drop's room", e.newVisitor(small.path(t)), 11, nil, 413, "too_large"},
		{"no password", e.newVisitor(locked.path(t)), 5, nil, 401, "unauthorized"},
		{"wrong password", e.newVisitor(locked.path(t)), 5, []string{"X-Share-Password", "wrong"}, 401, "unauthorized"},
		{"unknown link", &visitor{e: e, client: e.browser(), drop: "/d/" + strings.Repeat("A", 43)}, 5, nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := tc.v.create("x.txt", tc.size, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			assertErrorCode(t, body, tc.code)
			e.assertNothingStored(before)
		})
	}

	if got := e.getDrop(e.AliceToken, small.ID); got.Files != 0 || got.Bytes != 0 {
		t.Errorf("the refused upload kept %d files, %d bytes of the small drop", got.Files, got.Bytes)
	}
	withPassword := e.newVisitor(locked.path(t))
	if resp, body := withPassword.create("ok.txt", 5, "X-Share-Password", password); resp.StatusCode != http.StatusCreated {
		t.Errorf("right password: status %d: %s", resp.StatusCode, body)
	}
}
