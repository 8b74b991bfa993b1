package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

type dropObject struct {
	ID                    string    `json:"id"`
	URL                   string    `json:"url"`
	Label                 string    `json:"label"`
	ExpiresAt             time.Time `json:"expires_at"`
	MaxFiles              *int64    `json:"max_files"`
	MaxBytes              *int64    `json:"max_bytes"`
	Files                 int64     `json:"files"`
	Bytes                 int64     `json:"bytes"`
	CloseAfterFirstUpload bool      `json:"close_after_first_upload"`
	HasPassword           bool      `json:"has_password"`
	State                 string    `json:"state"`
	CreatedAt             time.Time `json:"created_at"`
}

// path returns the link's path, /d/TOKEN.
func (d dropObject) path(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatalf("drop URL %q: %v", d.URL, err)
	}
	return u.Path
}

// createDrop creates a drop and fails the test unless the response is 201.
func (e *testEnv) createDrop(token, body string) dropObject {
	e.t.Helper()
	resp, data := e.postJSON("/api/v1/drops", token, body)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create drop %s: status %d: %s", body, resp.StatusCode, data)
	}
	var d dropObject
	if err := json.Unmarshal(data, &d); err != nil {
		e.t.Fatalf("drop object: %v: %s", err, data)
	}
	return d
}

// getDrop returns one of the token's user's drops as the API lists it.
func (e *testEnv) getDrop(token, id string) dropObject {
	e.t.Helper()
	_, data := e.request(http.MethodGet, "/api/v1/drops", token, nil, nil)
	var list struct{ Drops []dropObject }
	if err := json.Unmarshal(data, &list); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range list.Drops {
		if d.ID == id {
			return d
		}
	}
	e.t.Fatalf("drop %s not in the list", id)
	return dropObject{}
}

// dropForm builds a multipart form with text fields before one file part.
func dropForm(fields map[string]string, fileName string, content []byte) (*bytes.Buffer, string) {
	const boundary = "drop-test-boundary"
	body := &bytes.Buffer{}
	for _, name := range []string{"uploader_name", "note"} {
		if value, ok := fields[name]; ok {
			fmt.Fprintf(body, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, name, value)
		}
	}
	fmt.Fprintf(body, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
		boundary, fileName)
	body.Write(content)
	fmt.Fprintf(body, "\r\n--%s--\r\n", boundary)
	return body, "multipart/form-data; boundary=" + boundary
}

// dropUpload posts one file to a drop link as a script would.
func (e *testEnv) dropUpload(path, name string, content []byte, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	body, ct := dropForm(nil, name, content)
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", ct)
	return e.request(http.MethodPost, path+"/files", "", body, header)
}

func TestDropCreateAndUpload(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"Invoices","max_files":3,"max_bytes":100000,"expires_in_seconds":3600}`)

	if !strings.HasPrefix(d.URL, e.URL+"/d/") || len(d.path(t)) != len("/d/")+43 {
		t.Errorf("url = %q, want %s/d/ and a 43-character token", d.URL, e.URL)
	}
	if d.Label != "Invoices" || *d.MaxFiles != 3 || *d.MaxBytes != 100000 || d.Files != 0 || d.Bytes != 0 || d.State != "active" {
		t.Errorf("drop = %+v", d)
	}
	if got := d.ExpiresAt.Sub(d.CreatedAt); got != time.Hour {
		t.Errorf("expires_at - created_at = %v, want the hour asked for", got)
	}

	content := []byte("invoice 42\n")
	body, ct := dropForm(map[string]string{"uploader_name": "Carol \x1b[31mRed\u202e", "note": "line one\r\nline two"},
		"../../../tmp/h03_drop.txt", content)
	resp, data := e.request(http.MethodPost, d.path(t)+"/files", "", body, http.Header{"Content-Type": {ct}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("drop upload: status %d: %s", resp.StatusCode, data)
	}
	f := decodeFile(t, data)
	if f.Name != "h03_drop.txt" {
		t.Errorf("stored name = %q, want h03_drop.txt", f.Name)
	}

	owned, err := e.Store.FileForUser(context.Background(), e.Alice, f.ID)
	if err != nil || owned.OwnerID != e.Alice.ID {
		t.Errorf("the upload is not in alice's files: %v", err)
	}
	arrivals, err := e.Store.DropFiles(context.Background(), d.ID)
	if err != nil || len(arrivals) != 1 {
		t.Fatalf("drop files = %v, %v; want one", arrivals, err)
	}
	if got := arrivals[0].Upload.UploaderName; got != "Carol [31mRed" {
		t.Errorf("uploader name = %q, want control characters removed", got)
	}
	if got := arrivals[0].Upload.Note; got != "line one\nline two" {
		t.Errorf("note = %q", got)
	}

	if got := e.getDrop(e.AliceToken, d.ID); got.Files != 1 || got.Bytes != int64(len(content)) {
		t.Errorf("drop counts = %d files, %d bytes; want 1, %d", got.Files, got.Bytes, len(content))
	}
}

func TestDropUploadRejections(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MaxFileSize = 1 << 20 }})
	d := e.createDrop(e.AliceToken, `{"label":"rejections"}`)
	two := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\none\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\ntwo\r\n--b--\r\n"
	none := "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--b--\r\n"

	cases := []struct {
		name   string
		body   io.Reader
		ct     string
		status int
		code   string
	}{
		{name: "html as jpg", status: 415, code: "type_mismatch"},
		{name: "inner php extension", status: 415, code: "type_not_allowed"},
		{name: "dot dot", status: 400, code: "invalid_name"},
		{name: "too large", status: 413, code: "too_large"},
		{name: "two file parts", body: strings.NewReader(two), ct: "multipart/form-data; boundary=b", status: 400, code: "invalid_request"},
		{name: "no file part", body: strings.NewReader(none), ct: "multipart/form-data; boundary=b", status: 400, code: "invalid_request"},
		{name: "not multipart", body: strings.NewReader("raw"), ct: "text/plain", status: 400, code: "invalid_request"},
	}
	files := map[string]struct {
		name    string
		content []byte
	}{
		"html as jpg":         {"x.jpg", sampleHTML},
		"inner php extension": {"evil.php.jpg", sampleJPEG(t)},
		"dot dot":             {"..", []byte("x")},
		"too large":           {"big.txt", bytes.Repeat([]byte("a"), 1<<20+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			body, ct := tc.body, tc.ct
			if f, ok := files[tc.name]; ok {
				body, ct = dropForm(nil, f.name, f.content)
			}
			resp, data := e.request(http.MethodPost, d.path(t)+"/files", "", body, http.Header{"Content-Type": {ct}})

			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d: %s", resp.StatusCode, tc.status, data)
			}
			assertErrorCode(t, data, tc.code)
			e.assertNothingStored(before)
			if got := e.getDrop(e.AliceToken, d.ID); got.Files != 0 || got.Bytes != 0 {
				t.Errorf("drop counts after a refusal = %d files, %d bytes; want the slot released", got.Files, got.Bytes)
			}
		})
	}
	assertAuditOutcome(t, e, "drop_upload", "failure")
}

func TestDropDeadLinksAnswerAlike(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, envOptions{now: clock.Now})
	expired := e.createDrop(e.AliceToken, `{"label":"expired","expires_in_seconds":60}`)
	revoked := e.createDrop(e.AliceToken, `{"label":"revoked"}`)
	if resp, _ := e.request(http.MethodDelete, "/api/v1/drops/"+revoked.ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
	clock.Advance(61 * time.Second)
	unknown := "/d/" + strings.Repeat("C", 43)

	_, wantPage := e.get(unknown, nil)
	_, wantUpload := e.dropUpload(unknown, "late.txt", []byte("late\n"), nil)
	for _, tc := range []struct{ name, path string }{
		{"expired", expired.path(t)},
		{"revoked", revoked.path(t)},
		{"unknown", unknown},
		{"traversal token", "/d/..%2f..%2f..%2ftmp%2fh41"},
		{"dot dot token", "/d/%2e%2e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, page := e.get(tc.path, nil)
			if resp.StatusCode != http.StatusNotFound || !bytes.Equal(page, wantPage) {
				t.Errorf("page: status %d, want 404 with the unknown link's page", resp.StatusCode)
			}
			resp, body := e.dropUpload(tc.path, "late.txt", []byte("late\n"), nil)
			if resp.StatusCode != http.StatusNotFound || !bytes.Equal(body, wantUpload) {
				t.Errorf("upload: status %d, body %s; want 404 like an unknown link", resp.StatusCode, body)
			}
			assertErrorCode(t, body, "not_found")
			e.assertNothingStored(before)
		})
	}
}

func TestDropLimits(t *testing.T) {
	e := newEnv(t, envOptions{})

	t.Run("max files", func(t *testing.T) {
		d := e.createDrop(e.AliceToken, `{"label":"h34","max_files":1}`)
		if resp, body := e.dropUpload(d.path(t), "first.txt", []byte("first\n"), nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("first upload: status %d: %s", resp.StatusCode, body)
		}
		before := e.snapshot()
		for i := range 3 {
			resp, body := e.dropUpload(d.path(t), fmt.Sprintf("late%d.txt", i), []byte("late\n"), nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("upload past max_files: status %d, want 404", resp.StatusCode)
			}
			assertErrorCode(t, body, "not_found")
		}
		e.assertNothingStored(before)
		if got := e.getDrop(e.AliceToken, d.ID); got.State != "full" || got.Files != 1 {
			t.Errorf("drop = %+v, want full with 1 file", got)
		}
	})

	t.Run("close after first upload", func(t *testing.T) {
		d := e.createDrop(e.AliceToken, `{"label":"once","close_after_first_upload":true}`)
		resp, page := e.dropUpload(d.path(t), "only.txt", []byte("only\n"), http.Header{"Accept": {"text/html"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first upload from a browser: status %d", resp.StatusCode)
		}
		if !strings.Contains(string(page), "This link takes no more files.") || strings.Contains(string(page), `enctype="multipart/form-data"`) {
			t.Error("result page of the closing upload still offers the upload form")
		}
		before := e.snapshot()
		resp, body := e.dropUpload(d.path(t), "second.txt", []byte("second\n"), nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("second upload: status %d, want 404", resp.StatusCode)
		}
		assertErrorCode(t, body, "not_found")
		e.assertNothingStored(before)
	})

	t.Run("max bytes", func(t *testing.T) {
		d := e.createDrop(e.AliceToken, `{"label":"small","max_bytes":1000}`)
		if resp, _ := e.dropUpload(d.path(t), "fits.txt", bytes.Repeat([]byte("a"), 600), nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("first upload: status %d", resp.StatusCode)
		}
		before := e.snapshot()
		resp, body := e.dropUpload(d.path(t), "too-much.txt", bytes.Repeat([]byte("b"), 600), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("upload past max_bytes: status %d, want 413", resp.StatusCode)
		}
		assertErrorCode(t, body, "too_large")
		e.assertNothingStored(before)
		if got := e.getDrop(e.AliceToken, d.ID); got.Bytes != 600 || got.Files != 1 {
			t.Errorf("drop counts = %d files, %d bytes; want 1 and 600", got.Files, got.Bytes)
		}
		if resp, _ := e.dropUpload(d.path(t), "rest.txt", bytes.Repeat([]byte("c"), 400), nil); resp.StatusCode != http.StatusCreated {
			t.Errorf("upload that fills the drop exactly: status %d, want 201", resp.StatusCode)
		}
	})
}

func TestDropConcurrentUploadsRespectLimits(t *testing.T) {
	// All requests come from one address, whose concurrent uploads are
	// capped by default; the drop's own limits are under test here.
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.Limits.MaxUploadsPerClient = 0 }})

	t.Run("max files", func(t *testing.T) {
		d := e.createDrop(e.AliceToken, `{"label":"race","max_files":5}`)
		statuses, stored := raceDropUploads(t, e, d, 20, 100)
		if statuses[http.StatusCreated] != 5 || statuses[http.StatusNotFound] != 15 {
			t.Errorf("statuses = %v, want five 201 and fifteen 404", statuses)
		}
		if stored != 5 {
			t.Errorf("stored %d files through the drop, want 5", stored)
		}
	})

	t.Run("max bytes", func(t *testing.T) {
		d := e.createDrop(e.AliceToken, `{"label":"race bytes","max_bytes":2000}`)
		raceDropUploads(t, e, d, 10, 700)
		arrivals, err := e.Store.DropFiles(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, f := range arrivals {
			total += f.Size
		}
		if total > 2000 || len(arrivals) == 0 {
			t.Errorf("stored %d bytes in %d files, want some and at most 2000", total, len(arrivals))
		}
	})

	n, err := e.Vault.CountIncoming()
	if err != nil || n != 0 {
		t.Errorf("vault/incoming holds %d files (%v), want 0", n, err)
	}
}

// raceDropUploads sends n concurrent uploads of size bytes to a drop and
// returns the responses by status and the number of files the drop
// contains.
func raceDropUploads(t *testing.T, e *testEnv, d dropObject, n, size int) (map[int]int, int) {
	t.Helper()
	path := d.path(t)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := dropForm(nil, fmt.Sprintf("race%d.txt", i), bytes.Repeat([]byte("r"), size))
			req, _ := http.NewRequest(http.MethodPost, e.URL+path+"/files", body)
			req.Header.Set("Content-Type", ct)
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()

	arrivals, err := e.Store.DropFiles(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return statuses, len(arrivals)
}

func TestDropPassword(t *testing.T) {
	e := newEnv(t, envOptions{})
	const password = "h34 drop password"
	d := e.createDrop(e.AliceToken, `{"label":"locked","password":"`+password+`"}`)

	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"no password", nil},
		{"wrong password", http.Header{"X-Share-Password": {"wrong"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := e.dropUpload(d.path(t), "nopass.txt", []byte("x\n"), tc.header)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			assertErrorCode(t, body, "unauthorized")
			e.assertNothingStored(before)
		})
	}

	before := e.snapshot()
	resp, body := e.dropUpload(d.path(t), "x.jpg", sampleHTML, http.Header{"X-Share-Password": {password}})
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("HTML as .jpg with the password: status %d, want 415", resp.StatusCode)
	}
	assertErrorCode(t, body, "type_mismatch")
	e.assertNothingStored(before)

	if resp, body := e.dropUpload(d.path(t), "ok.txt", []byte("ok\n"), http.Header{"X-Share-Password": {password}}); resp.StatusCode != http.StatusCreated {
		t.Errorf("right password: status %d: %s", resp.StatusCode, body)
	}
	if resp, page := e.get(d.path(t), nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Password required") {
		t.Errorf("page without password: status %d, want the password form", resp.StatusCode)
	}
}

func TestDropVisitorSeesOnlyOwnUploads(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.storeFile(e.AliceToken, "alices-private.txt", []byte("private\n"))
	d := e.createDrop(e.AliceToken, `{"label":"Team <b>uploads</b>"}`)

	send := func(b *http.Client, name string) string {
		t.Helper()
		if resp, err := b.Get(e.URL + d.path(t)); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		body, ct := dropForm(map[string]string{"uploader_name": "<script>x</script>"}, name, []byte(name+"\n"))
		req, _ := http.NewRequest(http.MethodPost, e.URL+d.path(t)+"/files", body)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", "text/html")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("browser upload: status %d", resp.StatusCode)
		}
		return string(page)
	}

	first, second := e.browser(), e.browser()
	send(first, "from-first.txt")
	page := send(second, "from-second.txt")

	if !strings.Contains(page, "from-second.txt") || !strings.Contains(page, "Received. Thank you.") {
		t.Error("result page does not show the visitor's upload")
	}
	for _, hidden := range []string{"from-first.txt", "alices-private.txt", "<b>uploads", "<script>x"} {
		if strings.Contains(page, hidden) {
			t.Errorf("second visitor's page shows %q", hidden)
		}
	}

	resp, err := first.Get(e.URL + d.path(t))
	if err != nil {
		t.Fatal(err)
	}
	firstPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(firstPage), "from-first.txt") || strings.Contains(string(firstPage), "from-second.txt") {
		t.Error("first visitor's page should list only from-first.txt")
	}
	if !strings.Contains(string(firstPage), "Team &lt;b&gt;uploads&lt;/b&gt;") {
		t.Error("drop label is not shown escaped")
	}
}

func TestDropArrivalsOnFilesPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"arrivals"}`)
	for _, name := range []string{"one.txt", "two.txt"} {
		if resp, _ := e.dropUpload(d.path(t), name, []byte(name), nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("drop upload %s: status %d", name, resp.StatusCode)
		}
	}
	b := e.browser()
	e.login(b, "alice", alicePassword)

	filesPage := func() string {
		resp, err := b.Get(e.URL + "/files")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		return string(page)
	}
	if page := filesPage(); !strings.Contains(page, "2 new files arrived through your drop links") {
		t.Error("Files page does not announce the two arrivals")
	}
	if page := filesPage(); strings.Contains(page, "arrived through your drop links") {
		t.Error("Files page announces the same arrivals twice")
	}

	resp, err := b.Get(e.URL + "/drops")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "one.txt") || !strings.Contains(string(page), "2 files") {
		t.Error("Drops page does not list the arrivals")
	}
}

func TestDropWebhook(t *testing.T) {
	e := newEnv(t, envOptions{})
	type received struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var calls []received
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, received{r.Header.Clone(), body})
		first := len(calls) == 1
		mu.Unlock()
		if first {
			http.Error(w, "try again", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(receiver.Close)

	b := e.browser()
	e.login(b, "alice", alicePassword)
	resp, err := b.PostForm(e.URL+"/admin/settings", url.Values{"drop_webhook_url": {"ftp://" + strings.TrimPrefix(receiver.URL, "http://")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("ftp webhook URL: status %d, want 400", resp.StatusCode)
	}
	resp, err = b.PostForm(e.URL+"/admin/settings", url.Values{"drop_webhook_url": {receiver.URL + "/hook?secret=s3"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save webhook URL: status %d, want 303", resp.StatusCode)
	}
	if resp, _ := e.request(http.MethodGet, "/admin/settings", e.BobToken, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("settings page for bob: status %d, want 404", resp.StatusCode)
	}

	d := e.createDrop(e.AliceToken, `{"label":"Hooked"}`)
	resp, data := e.dropUpload(d.path(t), "hooked.txt", []byte("hooked\n"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("drop upload: status %d", resp.StatusCode)
	}
	f := decodeFile(t, data)

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("webhook received %d calls, want 2 (one failure, one retry)", len(calls))
	}

	var ev map[string]any
	if err := json.Unmarshal(calls[1].body, &ev); err != nil {
		t.Fatalf("webhook body: %v: %s", err, calls[1].body)
	}
	want := map[string]any{
		"event": "drop.upload", "drop_id": d.ID, "drop_label": "Hooked", "file_id": f.ID,
		"file_name": "hooked.txt", "size": float64(7), "status": "unscanned",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("webhook %s = %v, want %v", k, ev[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(ev["uploaded_at"])); err != nil {
		t.Errorf("uploaded_at = %v: %v", ev["uploaded_at"], err)
	}
	if len(ev) != 8 {
		t.Errorf("webhook body has %d fields, want 8: %s", len(ev), calls[1].body)
	}
	token := strings.TrimPrefix(d.path(t), "/d/")
	if bytes.Contains(calls[1].body, []byte(token)) || bytes.Contains(calls[1].body, []byte("hooked\n")) {
		t.Error("webhook body carries the link token or the file content")
	}
	if ct := calls[1].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("webhook Content-Type = %q", ct)
	}

	secret, err := e.Store.DropWebhookSecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "vdwhsec_") {
		t.Fatalf("signing secret %q, want one made when the URL was saved", secret)
	}
	for i, call := range calls {
		assertNoticeSigned(t, call.header.Get("X-Vaultdrop-Signature"), secret, call.body)
		if t.Failed() {
			t.Fatalf("attempt %d: signature header %q", i+1, call.header.Get("X-Vaultdrop-Signature"))
		}
	}
}

// assertNoticeSigned checks a webhook signature header the way a receiver
// would: t=UNIX,v1=hex(HMAC-SHA256(secret, t + "." + body)), sent recently.
func assertNoticeSigned(t *testing.T, header, secret string, body []byte) {
	t.Helper()
	var sent, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			sent = v
		case "v1":
			sig = v
		}
	}
	unix, err := strconv.ParseInt(sent, 10, 64)
	if err != nil {
		t.Errorf("signature time %q: %v", sent, err)
		return
	}
	if age := time.Since(time.Unix(unix, 0)); age < -time.Minute || age > time.Minute {
		t.Errorf("signature time is %v old, want the time of sending", age)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sent + "."))
	mac.Write(body)
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("signature v1 = %q, want %q", sig, want)
	}
}

func TestWebhookWithoutSecretOffersOne(t *testing.T) {
	e := newEnv(t, envOptions{})
	// As on a server whose webhook was set before notices were signed.
	if err := e.Store.SetDropWebhookURL(context.Background(), "https://hooks.example/old", store.AuditEvent{Action: "settings"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	e.login(b, "alice", alicePassword)

	resp, err := b.Get(e.URL + "/admin/settings")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Make a signing secret") {
		t.Error("settings page does not offer a signing secret for a webhook without one")
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("settings page Cache-Control = %q, want no-store: it can show the signing secret", cc)
	}

	resp, err = b.PostForm(e.URL+"/admin/settings/webhook-secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if secret, _ := e.Store.DropWebhookSecret(context.Background()); secret == "" {
		t.Error("no signing secret after pressing the button")
	}
}

func TestWebhookSecretReplaced(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	e.login(b, "alice", alicePassword)

	page := func() string {
		t.Helper()
		resp, err := b.Get(e.URL + "/admin/settings")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if strings.Contains(page(), "Signing secret") {
		t.Error("settings page shows a signing secret before any webhook was set")
	}

	resp, err := b.PostForm(e.URL+"/admin/settings", url.Values{"drop_webhook_url": {"https://hooks.example/notify"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	first, err := e.Store.DropWebhookSecret(context.Background())
	if err != nil || first == "" {
		t.Fatalf("secret after saving the URL = %q, %v; want one", first, err)
	}
	if !strings.Contains(page(), first) {
		t.Error("settings page does not show the signing secret")
	}

	resp, err = b.PostForm(e.URL+"/admin/settings", url.Values{"drop_webhook_url": {"https://hooks.example/other"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if afterChange, _ := e.Store.DropWebhookSecret(context.Background()); afterChange != first {
		t.Error("changing the URL replaced the signing secret")
	}

	resp, err = b.PostForm(e.URL+"/admin/settings/webhook-secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("new secret: status %d, want 303", resp.StatusCode)
	}
	second, _ := e.Store.DropWebhookSecret(context.Background())
	if second == "" || second == first {
		t.Errorf("secret after replacing = %q, want a new one", second)
	}

	if resp, _ := e.request(http.MethodPost, "/admin/settings/webhook-secret", e.BobToken, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("new secret as bob: status %d, want 404", resp.StatusCode)
	}
	events, err := e.Store.AuditEvents(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	replaced := false
	for _, ev := range events {
		if strings.Contains(ev.Detail, second) || strings.Contains(ev.Detail, first) {
			t.Errorf("audit event %q holds the secret", ev.Detail)
		}
		replaced = replaced || ev.Detail == "drop webhook signing secret replaced"
	}
	if !replaced {
		t.Error("no audit event for the replaced secret")
	}
}

func TestDropCrossSitePosts(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"csrf"}`)
	b := e.browser()
	e.login(b, "alice", alicePassword)
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://attacker.invalid"}}

	t.Run("drop creation", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/drops", strings.NewReader(`{"label":"csrf"}`))
		req.Header = crossSite.Clone()
		req.Header.Set("Content-Type", "text/plain")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %d, want 403", resp.StatusCode)
		}
		assertErrorCode(t, body, "cross_origin")
	})

	t.Run("drop upload", func(t *testing.T) {
		before := e.snapshot()
		body, ct := dropForm(nil, "csrf.txt", []byte("csrf\n"))
		req, _ := http.NewRequest(http.MethodPost, e.URL+d.path(t)+"/files", body)
		req.Header = crossSite.Clone()
		req.Header.Set("Content-Type", ct)
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %d, want 403", resp.StatusCode)
		}
		assertErrorCode(t, data, "cross_origin")
		e.assertNothingStored(before)
	})

	if got := e.getDrop(e.AliceToken, d.ID); got.Files != 0 {
		t.Errorf("drop took %d files from cross-site posts", got.Files)
	}
	_, data := e.request(http.MethodGet, "/api/v1/drops", e.AliceToken, nil, nil)
	if strings.Count(string(data), `"id"`) != 1 {
		t.Errorf("drops after a cross-site create: %s", data)
	}
}

func TestDropOtherUsersAndRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createDrop(e.AliceToken, `{"label":"h35"}`)
	resp, data := e.dropUpload(d.path(t), "kept.txt", []byte("kept\n"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("drop upload: status %d", resp.StatusCode)
	}
	f := decodeFile(t, data)

	for _, tc := range []struct {
		name, method, path, token string
		want                      []int
	}{
		{"bob revokes alice's drop", http.MethodDelete, "/api/v1/drops/" + d.ID, e.BobToken, []int{404}},
		{"revoke unknown drop", http.MethodDelete, "/api/v1/drops/0123456789abcdef0123456789abcdef", e.AliceToken, []int{404}},
		{"delete through the drop route", http.MethodDelete, d.path(t) + "/files/" + f.ID, "", []int{404, 405}},
		{"delete through the drop route as bob", http.MethodDelete, d.path(t) + "/files/" + f.ID, e.BobToken, []int{404, 405}},
		{"bob deletes the arrival", http.MethodDelete, "/api/v1/files/" + f.ID, e.BobToken, []int{404}},
		{"revoke without credentials", http.MethodDelete, "/api/v1/drops/" + d.ID, "", []int{401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := e.request(tc.method, tc.path, tc.token, nil, nil)
			ok := false
			for _, status := range tc.want {
				ok = ok || resp.StatusCode == status
			}
			if !ok {
				t.Errorf("status = %d, want one of %v", resp.StatusCode, tc.want)
			}
		})
	}

	if got := e.getDrop(e.AliceToken, d.ID); got.State != "active" {
		t.Errorf("alice's drop state = %q after the refused attempts, want active", got.State)
	}
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("alice's arrival: status %d, want 200", resp.StatusCode)
	}
	_, data = e.request(http.MethodGet, "/api/v1/drops", e.BobToken, nil, nil)
	if strings.Contains(string(data), d.ID) {
		t.Error("bob's drop list shows alice's drop")
	}
	assertAuditOutcome(t, e, "drop_revoke", "failure")
}

func TestDropUploadRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	unknown := "/d/" + strings.Repeat("D", 43)

	var last *http.Response
	var body []byte
	for range 40 {
		last, body = e.dropUpload(unknown, "flood.txt", []byte("x"), nil)
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
		if last.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown drop: status %d, want 404", last.StatusCode)
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after 40 uploads: status %d, Retry-After %q; want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
	}
	assertErrorCode(t, body, "too_many_requests")
}
