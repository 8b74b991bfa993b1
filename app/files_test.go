package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vaultdrop/vaultdrop/app/config"
)

type fileObject struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	Status      string `json:"status"`
	CreatedAt   string `json:"created_at"`
}

func decodeFile(t *testing.T, body []byte) fileObject {
	t.Helper()
	var f fileObject
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatalf("file object: %v: %q", err, body)
	}
	return f
}

func samplePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sampleJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var samplePDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

var sampleHTML = []byte("<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>")

// numberedText is size bytes of numbered lines, so that every MiB of it
// differs from the others and a chunk hashed or written twice shows.
func numberedText(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %07d of a text that spans several read chunks\n", i)
	}
	return b.Bytes()[:size]
}

func TestUploadAndDownloadRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	jpg := sampleJPEG(t)
	longText := numberedText(3<<20 + 12345)

	cases := []struct {
		name        string
		send        func() (*http.Response, []byte)
		fileName    string
		content     []byte
		contentType string
	}{
		{
			name:     "multipart pdf",
			send:     func() (*http.Response, []byte) { return e.upload(e.AliceToken, "report.pdf", samplePDF) },
			fileName: "report.pdf", content: samplePDF, contentType: "application/pdf",
		},
		{
			name: "put photo",
			send: func() (*http.Response, []byte) {
				return e.request(http.MethodPut, "/api/v1/files/holiday%20photo.JPG", e.AliceToken, bytes.NewReader(jpg), nil)
			},
			fileName: "holiday photo.JPG", content: jpg, contentType: "image/jpeg",
		},
		{
			name: "put text of several chunks",
			send: func() (*http.Response, []byte) {
				return e.request(http.MethodPut, "/api/v1/files/long.txt", e.AliceToken, bytes.NewReader(longText), nil)
			},
			fileName: "long.txt", content: longText, contentType: "text/plain; charset=utf-8",
		},
		{
			name: "chunked put text of several chunks",
			send: func() (*http.Response, []byte) {
				// A reader without a length makes the client send the body
				// chunked, so the server cannot size its buffers in advance.
				body := io.MultiReader(bytes.NewReader(longText))
				return e.request(http.MethodPut, "/api/v1/files/chunked.txt", e.AliceToken, body, nil)
			},
			fileName: "chunked.txt", content: longText, contentType: "text/plain; charset=utf-8",
		},
		{
			name:     "multipart text of several chunks",
			send:     func() (*http.Response, []byte) { return e.upload(e.AliceToken, "form.txt", longText) },
			fileName: "form.txt", content: longText, contentType: "text/plain; charset=utf-8",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.send()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload status = %d, want 201: %s", resp.StatusCode, body)
			}
			f := decodeFile(t, body)
			sum := sha256.Sum256(tc.content)
			if f.Name != tc.fileName {
				t.Errorf("name = %q, want %q", f.Name, tc.fileName)
			}
			if f.Size != int64(len(tc.content)) {
				t.Errorf("size = %d, want %d", f.Size, len(tc.content))
			}
			if f.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 = %s, want %x", f.SHA256, sum)
			}
			if f.ContentType != tc.contentType {
				t.Errorf("content_type = %q, want %q", f.ContentType, tc.contentType)
			}
			if f.Status != "unscanned" {
				t.Errorf("status = %q, want unscanned (scanning off)", f.Status)
			}

			resp, got := e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("download status = %d", resp.StatusCode)
			}
			if !bytes.Equal(got, tc.content) {
				t.Error("downloaded bytes differ from the upload")
			}
			assertSafeDownload(t, resp.Header, tc.fileName, tc.contentType)
		})
	}
}

// assertSafeDownload checks the one safe header set of every download.
func assertSafeDownload(t *testing.T, h http.Header, name, contentType string) {
	t.Helper()
	if got := h.Values("Content-Disposition"); len(got) != 1 {
		t.Fatalf("Content-Disposition headers = %q, want exactly one", got)
	}
	disposition, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil {
		t.Fatalf("Content-Disposition %q: %v", h.Get("Content-Disposition"), err)
	}
	if disposition != "attachment" {
		t.Errorf("disposition = %q, want attachment", disposition)
	}
	if params["filename"] != name {
		t.Errorf("decoded filename = %q, want %q", params["filename"], name)
	}
	if !strings.Contains(h.Get("Content-Disposition"), "filename*=UTF-8''") {
		t.Errorf("Content-Disposition %q has no RFC 5987 filename*", h.Get("Content-Disposition"))
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if got := h.Get("Content-Security-Policy"); got != "default-src 'none'; sandbox" {
		t.Errorf("Content-Security-Policy = %q", got)
	}
	if got := h.Get("Cache-Control"); got != "private, no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if contentType != "" && h.Get("Content-Type") != contentType && !strings.HasPrefix(h.Get("Content-Type"), contentType+";") {
		t.Errorf("Content-Type = %q, want %q", h.Get("Content-Type"), contentType)
	}
}

func TestDownloadRangeAndConditional(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := []byte("0123456789abcdefghij")
	_, body := e.upload(e.AliceToken, "digits.txt", content)
	f := decodeFile(t, body)
	path := "/api/v1/files/" + f.ID + "/content"

	resp, got := e.request(http.MethodGet, path, e.AliceToken, nil, http.Header{"Range": {"bytes=5-9"}})
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("range status = %d, want 206", resp.StatusCode)
	}
	if string(got) != "56789" {
		t.Errorf("range body = %q, want 56789", got)
	}
	if etag := resp.Header.Get("ETag"); etag != `"`+f.SHA256+`"` {
		t.Errorf("ETag = %q, want the SHA-256", etag)
	}

	resp, _ = e.request(http.MethodGet, path, e.AliceToken, nil, http.Header{"If-None-Match": {`"` + f.SHA256 + `"`}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional status = %d, want 304", resp.StatusCode)
	}
}

func TestUploadRejections(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MaxFileSize = 1 << 20 }})
	jpg := sampleJPEG(t)

	cases := []struct {
		name     string
		fileName string
		content  []byte
		status   int
		code     string
	}{
		{name: "dot dot", fileName: "..", content: []byte("x"), status: 400, code: "invalid_name"},
		{name: "dot", fileName: ".", content: []byte("x"), status: 400, code: "invalid_name"},
		{name: "empty name", fileName: "", content: []byte("x"), status: 400, code: "invalid_name"},
		{name: "only invisible characters", fileName: "\u202e\u200b", content: []byte("x"), status: 400, code: "invalid_name"},
		{name: "executable", fileName: "setup.exe", content: []byte("MZ\x90\x00"), status: 415, code: "type_not_allowed"},
		{name: "no extension", fileName: "photo", content: jpg, status: 415, code: "type_not_allowed"},
		{name: "php inner extension", fileName: "evil.php.jpg", content: jpg, status: 415, code: "type_not_allowed"},
		{name: "inner extension upper case", fileName: "evil.PHP.jpg", content: jpg, status: 415, code: "type_not_allowed"},
		{name: "exe inner extension", fileName: "run.exe.pdf", content: samplePDF, status: 415, code: "type_not_allowed"},
		{name: "html", fileName: "page.html", content: sampleHTML, status: 415, code: "type_not_allowed"},
		{name: "svg", fileName: "x.svg", content: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), status: 415, code: "type_not_allowed"},
		{name: "script", fileName: "a.js", content: []byte("alert(1)"), status: 415, code: "type_not_allowed"},
		{name: "html as jpg", fileName: "cat.jpg", content: sampleHTML, status: 415, code: "type_mismatch"},
		{name: "html as pdf", fileName: "cv.pdf", content: sampleHTML, status: 415, code: "type_mismatch"},
		{name: "jpeg as png", fileName: "x.png", content: jpg, status: 415, code: "type_mismatch"},
		{name: "too large", fileName: "big.txt", content: bytes.Repeat([]byte("a"), 1<<20+1), status: 413, code: "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := e.upload(e.AliceToken, tc.fileName, tc.content)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			assertErrorCode(t, body, tc.code)
			e.assertNothingStored(before)
		})
	}
}

func TestUploadAtExactLimitAccepted(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MaxFileSize = 1 << 20 }})

	resp, body := e.upload(e.AliceToken, "exact.txt", bytes.Repeat([]byte("a"), 1<<20))
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201: %s", resp.StatusCode, body)
	}
}

func TestPutRejections(t *testing.T) {
	e := newEnv(t, envOptions{})

	cases := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{name: "encoded dot dot", path: "%2e%2e", status: 400, code: "invalid_name"},
		{name: "encoded traversal", path: "..%2f..%2f..", status: 400, code: "invalid_name"},
		{name: "rlo exe", path: "invoice%E2%80%AEfdp.exe", status: 415, code: "type_not_allowed"},
		{name: "nul inner php", path: "shell.php%00.jpg", status: 415, code: "type_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			req, _ := http.NewRequest(http.MethodPut, e.URL+"/api/v1/files/"+tc.path, strings.NewReader("plain text\n"))
			req.URL.RawPath = "/api/v1/files/" + tc.path
			req.URL.Path, _ = url.PathUnescape(req.URL.RawPath)
			req.Header.Set("Authorization", "Bearer "+e.AliceToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			assertErrorCode(t, body, tc.code)
			e.assertNothingStored(before)
		})
	}
}

func TestPutStripsControlCharacters(t *testing.T) {
	e := newEnv(t, envOptions{})

	resp, body := e.request(http.MethodPut, "/api/v1/files/a%0d%0aSet-Cookie:%20pwn=1%0d%0a.txt", e.AliceToken, strings.NewReader("hi\n"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)
	if f.Name != "aSet-Cookie: pwn=1.txt" {
		t.Errorf("name = %q", f.Name)
	}

	resp, _ = e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("download sets cookies: %q", resp.Header.Values("Set-Cookie"))
	}
	assertSafeDownload(t, resp.Header, f.Name, "text/plain")
}

func TestChunkedBodyOverRequestLimit(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.MaxFileSize = 1 << 20
		c.MaxRequestSize = 1<<20 + 4096
	}})
	before := e.snapshot()

	// An io.Reader without a length makes the client send chunked encoding.
	body := io.LimitReader(infiniteText{}, 3<<20)
	resp, data := e.request(http.MethodPut, "/api/v1/files/big.txt", e.AliceToken, io.NopCloser(body), nil)

	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413: %s", resp.StatusCode, data)
	}
	assertErrorCode(t, data, "too_large")
	if !strings.Contains(string(data), "1 MiB") {
		t.Errorf("message does not name the limit: %s", data)
	}
	e.assertNothingStored(before)
}

type infiniteText struct{}

func (infiniteText) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestMultipartPartRules(t *testing.T) {
	e := newEnv(t, envOptions{})
	const boundary = "b"
	two := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\none\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\ntwo\r\n--b--\r\n"
	none := "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--b--\r\n"
	crlfName := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\r\nSet-Cookie: x=1\r\nX: .txt\"\r\n\r\nhi\r\n--b--\r\n"

	cases := []struct {
		name string
		body string
	}{
		{name: "two file parts", body: two},
		{name: "no file part", body: none},
		{name: "raw CR LF in part header", body: crlfName},
		{name: "truncated body", body: "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhalf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := e.request(http.MethodPost, "/api/v1/files", e.AliceToken, strings.NewReader(tc.body),
				http.Header{"Content-Type": {"multipart/form-data; boundary=" + boundary}})
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status = %d, want 400: %s", resp.StatusCode, body)
			}
			assertErrorCode(t, body, "invalid_request")
			e.assertNothingStored(before)
		})
	}
}

func TestOtherUsersFilesAreNotFound(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, body := e.upload(e.BobToken, "bob.txt", []byte("bob's notes\n"))
	bobs := decodeFile(t, body)

	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/files/" + bobs.ID},
		{http.MethodGet, "/api/v1/files/" + bobs.ID + "/content"},
		{http.MethodDelete, "/api/v1/files/" + bobs.ID},
	} {
		t.Run(req.method+" "+strings.TrimPrefix(req.path, "/api/v1/files/"+bobs.ID), func(t *testing.T) {
			// A third user, neither owner nor admin.
			resp, body := e.request(req.method, req.path, e.thirdUserToken(), nil, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status = %d, want 404", resp.StatusCode)
			}
			assertErrorCode(t, body, "not_found")

			missing := strings.Replace(req.path, bobs.ID, "0123456789abcdef0123456789abcdef", 1)
			resp, missingBody := e.request(req.method, missing, e.thirdUserToken(), nil, nil)
			if resp.StatusCode != http.StatusNotFound || !bytes.Equal(body, missingBody) {
				t.Errorf("someone else's file and a missing id answer differently: %q vs %q", body, missingBody)
			}
		})
	}

	// The admin may fetch it; bob's file is still there.
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+bobs.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("admin GET: status = %d, want 200", resp.StatusCode)
	}
}

var thirdToken struct {
	sync.Mutex
	m map[*testEnv]string
}

// thirdUserToken returns the token of carol, an ordinary user created once
// per environment.
func (e *testEnv) thirdUserToken() string {
	thirdToken.Lock()
	defer thirdToken.Unlock()
	if thirdToken.m == nil {
		thirdToken.m = map[*testEnv]string{}
	}
	if tok, ok := thirdToken.m[e]; ok {
		return tok
	}
	_, tok := e.addUser("carol", "carol's long password", false)
	thirdToken.m[e] = tok
	return tok
}

func TestDeleteRemovesRowAndBytes(t *testing.T) {
	e := newEnv(t, envOptions{})
	before := e.snapshot()
	_, body := e.upload(e.AliceToken, "gone.txt", []byte("soon gone\n"))
	f := decodeFile(t, body)

	resp, _ := e.request(http.MethodDelete, "/api/v1/files/"+f.ID, e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status = %d, want 204", resp.StatusCode)
	}
	e.assertNothingStored(before)
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+f.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET after delete: status = %d, want 404", resp.StatusCode)
	}
}

func TestListFilesNewestFirst(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, name := range []string{"one.txt", "two.txt", "three.txt"} {
		if resp, body := e.upload(e.AliceToken, name, []byte(name)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload %s: %d %s", name, resp.StatusCode, body)
		}
	}
	e.upload(e.BobToken, "bobs.txt", []byte("bob"))

	_, body := e.request(http.MethodGet, "/api/v1/files", e.AliceToken, nil, nil)
	var list struct{ Files []fileObject }
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list.Files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "three.txt,two.txt,one.txt" {
		t.Errorf("files = %s, want three.txt,two.txt,one.txt", got)
	}
}

func TestInsufficientStorage(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MinFreeSpace = 1 << 62 }})
	before := e.snapshot()

	resp, body := e.upload(e.AliceToken, "note.txt", []byte("hello\n"))
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("status = %d, want 507: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "insufficient_storage")
	e.assertNothingStored(before)
}

func TestBrowserUploadSeveralFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	e.login(b, "alice", alicePassword)

	var body bytes.Buffer
	const boundary = "form-boundary"
	for _, part := range []struct{ name, content string }{
		{"notes.txt", "some notes\n"},
		{"evil.php.jpg", "<?php system($_GET['c']); ?>"},
		{"<img src=x onerror=alert(1)>.txt", "markup in the name\n"},
	} {
		fmt.Fprintf(&body, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n\r\n%s\r\n", boundary, part.name, part.content)
	}
	fmt.Fprintf(&body, "--%s--\r\n", boundary)

	req, _ := http.NewRequest(http.MethodPost, e.URL+"/files", &body)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	html := string(page)
	if strings.Contains(html, "<img src=x onerror") {
		t.Error("file name rendered as markup")
	}
	if !strings.Contains(html, "&lt;img src=x onerror=alert(1)&gt;.txt") {
		t.Error("escaped file name missing from the page")
	}
	if !strings.Contains(html, "rejected") {
		t.Error("rejected file has no result line")
	}

	files, err := e.Store.ListFiles(context.Background(), e.Alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Errorf("stored %d files, want 2 (the .php.jpg refused)", len(files))
	}
}
