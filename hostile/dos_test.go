package hostile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// zeroReader yields n zero bytes.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// countingReader counts the bytes the HTTP client took from it, which is
// how much of a body was sent before the server stopped reading.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// largePDF returns a reader of a PDF header followed by zeros, size bytes
// in all, without holding it in memory.
func largePDF(size int64) io.Reader {
	head := []byte("%PDF-1.4\n")
	return io.MultiReader(bytes.NewReader(head), &zeroReader{size - int64(len(head))})
}

// multipartStream returns a multipart form with one file part named name
// whose content is body, streamed.
func multipartStream(name string, body io.Reader) io.Reader {
	head := "--" + formBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name + "\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + formBoundary + "--\r\n"
	return io.MultiReader(strings.NewReader(head), body, strings.NewReader(tail))
}

func TestBodyLimitOnChunkedBodies(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	const size = 60 << 20
	limit := config.FormatBytes(20_000_000)

	check := func(label string, resp response, body *countingReader) {
		t.Helper()
		if resp.Status != http.StatusRequestEntityTooLarge || resp.errorCode() != "too_large" {
			t.Errorf("%s: status %d code %q, want 413 too_large", label, resp.Status, resp.errorCode())
		}
		if !strings.Contains(resp.errorMessage(), limit) && !strings.Contains(resp.errorMessage(), "20.1 MiB") {
			t.Errorf("%s: message %q does not name the %s limit", label, resp.errorMessage(), limit)
		}
		if sent := body.n.Load(); sent > 40<<20 {
			t.Errorf("%s: the server read %d MiB of a %d MiB body past its 20 MB limit", label, sent>>20, size>>20)
		}
	}

	b := s.alice(t) // signing in hashes with argon2id, which takes 64 MiB
	s.resetPeakRSS(t)
	base := s.rss(t)
	before := s.snapshot(t)

	body := &countingReader{r: multipartStream("big.pdf", largePDF(size))}
	check("chunked multipart", s.do(t, request{
		Method: http.MethodPost, Path: "/api/v1/files", Token: aliceToken, Header: multipartHeader, Body: body, ContentLength: -1,
	}), body)

	body = &countingReader{r: largePDF(size)}
	check("chunked PUT", s.do(t, request{Method: http.MethodPut, Path: "/api/v1/files/big.pdf", Token: aliceToken, Body: body, ContentLength: -1}), body)

	body = &countingReader{r: largePDF(size)}
	check("PUT with Content-Length", s.do(t, request{
		Method: http.MethodPut, Path: "/api/v1/files/big.pdf", Token: aliceToken, Body: body, ContentLength: size,
	}), body)

	body = &countingReader{r: multipartStream("big.pdf", largePDF(size))}
	resp := s.do(t, request{
		Method: http.MethodPost, Path: "/files", Client: b.client, Header: b.sameOrigin(multipartHeader), Body: body, ContentLength: -1,
	})
	if resp.Status != http.StatusRequestEntityTooLarge && resp.Status != http.StatusOK {
		t.Errorf("browser form: status %d, want 413 or 200 with a rejected result", resp.Status)
	}
	if sent := body.n.Load(); sent > 40<<20 {
		t.Errorf("browser form: the server read %d MiB of a %d MiB body", sent>>20, size>>20)
	}

	if grown := s.peakRSS(t) - base; grown > 64<<20 {
		t.Errorf("oversized bodies: peak RSS grew by %d MiB, want under 64 MiB", grown>>20)
	}
	waitFor(5*time.Second, func() bool { return len(regularFiles(filepath.Join(s.DataDir, "vault", "incoming"))) == 0 })
	s.assertNothingStored(t, before)

	t.Run("drop link", func(t *testing.T) {
		s.requireDrops(t)
		d := s.createDrop(t, `{"label":"h22"}`)
		before := s.snapshot(t)
		body := &countingReader{r: multipartStream("big.pdf", largePDF(size))}
		check("chunked drop upload", s.do(t, request{
			Method: http.MethodPost, Path: d.Path + "/files", Header: http.Header{"Content-Type": multipartHeader["Content-Type"], "Accept": {"application/json"}},
			Body: body, ContentLength: -1,
		}), body)
		s.assertNothingStored(t, before)
	})

	t.Run("JSON body", func(t *testing.T) {
		s.requireShares(t)
		before := s.snapshot(t)
		ids := io.MultiReader(strings.NewReader(`{"file_ids":[`), strings.NewReader(strings.Repeat(`"x",`, 5_000_000)), strings.NewReader(`"x"]}`))
		body := &countingReader{r: ids}
		resp := s.do(t, request{Method: http.MethodPost, Path: "/api/v1/shares", Token: aliceToken, Header: jsonBody, Body: body, ContentLength: -1})
		assertStatusIn(t, resp, http.StatusRequestEntityTooLarge, http.StatusBadRequest)
		if sent := body.n.Load(); sent > 8<<20 {
			t.Errorf("20 MB JSON body: the server read %d MiB of it", sent>>20)
		}
		s.assertNothingStored(t, before)
	})

	t.Run("resumable upload", func(t *testing.T) {
		s.requireTus(t)
		before := s.snapshot(t)
		assertError(t, s.tusCreate(t, "big.pdf", size), http.StatusRequestEntityTooLarge, "too_large")

		s.assertNothingStored(t, before)

		// More bytes than the upload declared: none of them is kept, and
		// the upload is still at offset 0.
		created := s.tusCreate(t, "small.pdf", 10)
		if created.Status != http.StatusCreated {
			t.Fatalf("create: status %d: %.300s", created.Status, created.Body)
		}
		before = s.snapshot(t)
		upload := s.tusPath(t, created)
		patch := s.tusPatch(t, upload, 0, jsPDF)
		assertError(t, patch, http.StatusRequestEntityTooLarge, "too_large")
		s.assertNothingStored(t, before)
		head := s.do(t, request{Method: http.MethodHead, Path: upload, Token: aliceToken, Header: tusHeader})
		if got := head.Header.Get("Upload-Offset"); got != "0" {
			t.Errorf("after the refused patch: Upload-Offset %q, want 0", got)
		}
		data := filepath.Join(s.DataDir, "uploads", upload[strings.LastIndexByte(upload, '/')+1:])
		if info, err := os.Stat(data); err == nil && info.Size() > 0 {
			t.Errorf("after the refused patch the upload holds %d bytes", info.Size())
		}
	})
}

// formPart is one part of a hand-built form with boundary B.
func formPart(name, filename string) string {
	if filename != "" {
		return "--B\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename + "\"\r\n\r\nx\r\n"
	}
	return "--B\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\nx\r\n"
}

// manyPartForms are forms whose part count is the attack: 100000 fields,
// 5000 file parts, and one good file followed by 10000 fields.
func manyPartForms() map[string][]byte {
	var fields, files, tail strings.Builder
	for i := range 100000 {
		fields.WriteString(formPart(fmt.Sprintf("f%d", i), ""))
	}
	for i := range 5000 {
		files.WriteString(formPart("file", fmt.Sprintf("f%d.txt", i)))
	}
	tail.WriteString(formPart("file", "first.txt"))
	for i := range 10000 {
		tail.WriteString(formPart(fmt.Sprintf("f%d", i), ""))
	}
	end := "--B--\r\n"
	return map[string][]byte{
		"fields": []byte(fields.String() + end),
		"files":  []byte(files.String() + end),
		"tail":   []byte(tail.String() + end),
	}
}

var boundaryB = http.Header{"Content-Type": {"multipart/form-data; boundary=B"}}

func TestMultipartWithManyParts(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	forms := manyPartForms()

	// Policy: a malformed or over-long form is 400 invalid_request; an
	// oversized field or part header is 413 too_large.
	for name, body := range forms {
		s.expectRejected(t, http.StatusBadRequest, "invalid_request", func() response {
			return s.do(t, request{Method: http.MethodPost, Path: "/api/v1/files", Token: aliceToken, Header: boundaryB, Body: bytes.NewReader(body)})
		})
		if t.Failed() {
			t.Logf("form %s", name)
		}
	}

	t.Run("drop link", func(t *testing.T) {
		s.requireDrops(t)
		d := s.createDrop(t, `{"label":"h23"}`)
		for name, body := range forms {
			s.expectRejected(t, http.StatusBadRequest, "invalid_request", func() response {
				return s.do(t, request{
					Method: http.MethodPost, Path: d.Path + "/files", Body: bytes.NewReader(body),
					Header: http.Header{"Content-Type": boundaryB["Content-Type"], "Accept": {"application/json"}},
				})
			})
			if t.Failed() {
				t.Logf("form %s", name)
			}
		}
	})

	// The browser form takes several files, each stored on its own, but a
	// form refused for its part count must store none of them.
	t.Run("browser form", func(t *testing.T) {
		b := s.alice(t)
		for _, name := range []string{"files", "tail"} {
			before := s.snapshot(t)
			resp := s.do(t, request{Method: http.MethodPost, Path: "/files", Client: b.client, Header: b.sameOrigin(boundaryB), Body: bytes.NewReader(forms[name])})
			if resp.Status != http.StatusBadRequest {
				t.Errorf("browser form %s: status %d, want 400", name, resp.Status)
			}
			s.assertNothingStored(t, before)
		}
	})
}

func TestNoTemporaryFilesLeftBehind(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	const size = 10 << 20
	incoming := filepath.Join(s.DataDir, "vault", "incoming")
	left := func() int { return len(regularFiles(s.TempDir)) + len(regularFiles(incoming)) }
	start := left()

	upload := func(name, token string) response {
		return s.do(t, request{Method: http.MethodPost, Path: "/api/v1/files", Token: token, Header: multipartHeader, Body: multipartStream(name, largePDF(size))})
	}
	mustStore(t, upload("h24.pdf", aliceToken))
	assertError(t, upload("h24.exe", aliceToken), http.StatusUnsupportedMediaType, "type_not_allowed")
	assertError(t, upload("h24.pdf", "wrong"), http.StatusUnauthorized, "unauthorized")

	// An upload whose client goes away half-way.
	conn := s.dialRaw(t)
	head := "--" + formBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"aborted.pdf\"\r\n\r\n"
	fmt.Fprintf(conn, "POST /api/v1/files HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(s.URL, "http://"), aliceToken, multipartHeader.Get("Content-Type"), size+1000, head)
	io.Copy(conn, largePDF(3<<20))
	waitFor(5*time.Second, func() bool { return len(regularFiles(incoming)) > 0 })
	conn.Close()

	if !waitFor(10*time.Second, func() bool { return left() == start }) {
		t.Errorf("files left in TMPDIR and vault/incoming: %v %v", regularFiles(s.TempDir), regularFiles(incoming))
	}
}

func TestSlowHeadersAndSlowBodies(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"header-timeout", "body-idle-timeout"} {
		if !knownFlags[flag] {
			t.Skipf("body and header timeouts not built yet: serve --help lists no --%s", flag)
		}
	}
	checkDefaultDuration(t, "header-timeout", 30*time.Second)
	checkDefaultDuration(t, "body-idle-timeout", 90*time.Second)

	s := startServer(t, serverOptions{args: []string{"--header-timeout", "2s", "--body-idle-timeout", "3s"}})
	// Let the server settle before counting its descriptors.
	s.do(t, request{Path: "/login"})
	plainClient.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	fdsBefore := s.openFDs(t)

	const slowHeaders = 300
	heads := make([]net.Conn, 0, slowHeaders)
	for range slowHeaders {
		conn := s.dialRaw(t)
		fmt.Fprintf(conn, "GET /login HTTP/1.1\r\nHost: x\r\n")
		heads = append(heads, conn)
	}

	body := s.dialRaw(t)
	fmt.Fprintf(body, "POST /api/v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: 1000000\r\n\r\n"+
		"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.pdf\"\r\n\r\n%%PDF-1.4\n",
		aliceToken, multipartHeader.Get("Content-Type"), formBoundary)

	// Trickle: a header line every second on each slow-header connection,
	// a body byte every 5 seconds, while a normal client keeps working.
	incoming := filepath.Join(s.DataDir, "vault", "incoming")
	sawIncoming := false
	for tick := range 10 {
		for _, conn := range heads {
			conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			conn.Write([]byte("X-a: b\r\n"))
		}
		if tick%5 == 0 {
			body.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			body.Write([]byte("x"))
		}
		sawIncoming = sawIncoming || len(regularFiles(incoming)) > 0
		probe := s.do(t, request{Path: "/login"})
		if probe.Status != http.StatusOK {
			t.Errorf("probe during the attack: status %d, want 200", probe.Status)
		}
		time.Sleep(time.Second)
	}

	open := 0
	for _, conn := range heads {
		if !closedOrAnswered(conn) {
			open++
		}
	}
	if open > 0 {
		t.Errorf("%d of %d slow-header connections still open after --header-timeout 2s", open, slowHeaders)
	}
	if !closedOrAnswered(body) {
		t.Error("the stalled upload is still open after --body-idle-timeout 3s")
	}
	if !sawIncoming {
		t.Log("the stalled upload never reached vault/incoming")
	}
	if !waitFor(5*time.Second, func() bool { return len(regularFiles(incoming)) == 0 }) {
		t.Errorf("the stalled upload left %v in vault/incoming", regularFiles(incoming))
	}

	for _, conn := range heads {
		conn.Close()
	}
	body.Close()
	if !waitFor(5*time.Second, func() bool { return s.openFDs(t) <= fdsBefore+2 }) {
		t.Errorf("the server holds %d file descriptors, %d before the attack", s.openFDs(t), fdsBefore)
	}
}

// closedOrAnswered reports whether the server closed conn or wrote a
// response on it.
func closedOrAnswered(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := conn.Read(make([]byte, 1))
	if err == nil {
		return true
	}
	var netErr net.Error
	return !(errors.As(err, &netErr) && netErr.Timeout())
}

// checkDefaultDuration checks that serve --help documents a default for
// flag of at most limit.
func checkDefaultDuration(t *testing.T, flag string, limit time.Duration) {
	t.Helper()
	out, _ := exec.Command(programPath, "serve", "--help").CombinedOutput()
	m := regexp.MustCompile(`(?s)--` + flag + ` [^\n]*\n[^\n]*\(default ([0-9a-z.]+)\)`).FindSubmatch(out)
	if m == nil {
		t.Errorf("serve --help documents no default for --%s", flag)
		return
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil || d > limit {
		t.Errorf("--%s default %s, want a duration of at most %s", flag, m[1], limit)
	}
}

func TestMemoryStaysFlatForLargeBodies(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{maxFileSize: "300MB"})
	const size = 256 << 20

	s.resetPeakRSS(t)
	base := s.rss(t)
	mustStore(t, s.do(t, request{Method: http.MethodPut, Path: "/api/v1/files/big.pdf", Token: aliceToken, Body: largePDF(size), ContentLength: size}))
	mustStore(t, s.do(t, request{Method: http.MethodPost, Path: "/api/v1/files", Token: aliceToken, Header: multipartHeader, Body: multipartStream("big.pdf", largePDF(size))}))
	if grown := s.peakRSS(t) - base; grown > 64<<20 {
		t.Errorf("two 256 MiB uploads: peak RSS grew by %d MiB, want under 64 MiB", grown>>20)
	}

	small := offServer(t)
	small.resetPeakRSS(t)
	base = small.rss(t)
	before := small.snapshot(t)
	resp := small.do(t, request{Method: http.MethodPut, Path: "/api/v1/files/big.pdf", Token: aliceToken, Body: largePDF(size), ContentLength: -1})
	small.assertRejected(t, resp, http.StatusRequestEntityTooLarge, "too_large", before)
	if grown := small.peakRSS(t) - base; grown > 64<<20 {
		t.Errorf("refused 256 MiB upload: peak RSS grew by %d MiB, want under 64 MiB", grown>>20)
	}
}

// TestNoGlobalSniffLimit checks the source: mimetype.SetLimit changes
// detection for the whole process, and SetLimit(0) makes it read whole
// bodies into memory.
func TestNoGlobalSniffLimit(t *testing.T) {
	t.Parallel()
	call := regexp.MustCompile(`^\s*[^/\s].*mimetype\.SetLimit\(`)
	filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for i, line := range strings.Split(string(data), "\n") {
			if call.MatchString(line) {
				t.Errorf("%s:%d calls mimetype.SetLimit", p, i+1)
			}
		}
		return nil
	})
}

func TestUploadsWithoutCredentials(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	credentials := map[string]http.Header{
		"none":          {},
		"wrong token":   {"Authorization": {"Bearer wrong"}},
		"empty token":   {"Authorization": {"Bearer "}},
		"forged cookie": {"Cookie": {"vaultdrop_session=forged"}},
	}
	for label, header := range credentials {
		with := func(extra http.Header) http.Header {
			h := http.Header{}
			for key, values := range header {
				h[key] = values
			}
			for key, values := range extra {
				h[key] = values
			}
			return h
		}
		requests := map[string]request{
			"multipart": {Method: http.MethodPost, Path: "/api/v1/files", Header: with(multipartHeader), Body: bytes.NewReader(multipartFile("p.txt", plainText))},
			"PUT":       {Method: http.MethodPut, Path: "/api/v1/files/p.txt", Header: with(nil), Body: bytes.NewReader(plainText)},
			"tus": {Method: http.MethodPost, Path: "/api/v1/uploads/", Header: with(http.Header{
				"Tus-Resumable": {"1.0.0"}, "Upload-Length": {"6"}, "Upload-Metadata": {"filename cC50eHQ="},
			})},
			"list":  {Path: "/api/v1/files", Header: with(nil)},
			"share": {Method: http.MethodPost, Path: "/api/v1/shares", Header: with(jsonBody), Body: strings.NewReader(`{"file_ids":[]}`)},
			"drop":  {Method: http.MethodPost, Path: "/api/v1/drops", Header: with(jsonBody), Body: strings.NewReader(`{"label":"x"}`)},
		}
		for name, req := range requests {
			t.Run(name+" with "+label+" credentials", func(t *testing.T) {
				s.expectRejected(t, http.StatusUnauthorized, "unauthorized", func() response { return s.do(t, req) })
			})
		}

		before := s.snapshot(t)
		form := s.do(t, request{Method: http.MethodPost, Path: "/files", Header: with(multipartHeader), Body: bytes.NewReader(multipartFile("p.txt", plainText))})
		if form.Status != http.StatusUnauthorized {
			t.Errorf("browser form with %s credentials: status %d, want 401", label, form.Status)
		}
		s.assertNothingStored(t, before)

		page := s.do(t, request{Path: "/files", Header: with(nil)})
		toLogin := page.Status == http.StatusSeeOther && strings.HasPrefix(page.Header.Get("Location"), "/login")
		if page.Status != http.StatusUnauthorized && !toLogin {
			t.Errorf("Files page with %s credentials: status %d, want 401 or 303 to /login", label, page.Status)
		}
	}
}

func TestDropLimits(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	s.requireDrops(t)

	full := s.createDrop(t, `{"label":"h27","max_files":2}`)
	for i := range 2 {
		mustStore(t, s.dropUpload(t, full, fmt.Sprintf("d%d.txt", i), plainText, nil))
	}
	before := s.snapshot(t)
	third := s.dropUpload(t, full, "d3.txt", plainText, nil)
	if third.Status < 400 || third.Status >= 500 {
		t.Errorf("third upload to a drop for 2 files: status %d, want a refusal", third.Status)
	}
	s.assertNothingStored(t, before)

	small := s.createDrop(t, `{"label":"h27b","max_bytes":100}`)
	big := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{'x'}, 200)...)
	s.expectRejected(t, http.StatusRequestEntityTooLarge, "too_large", func() response { return s.dropUpload(t, small, "200b.pdf", big, nil) })

	// Rapid uploads from one address are throttled.
	busy := s.createDrop(t, `{"label":"h27c"}`)
	before = s.snapshot(t)
	stored, throttled := 0, 0
	for i := range 60 {
		resp := s.dropUpload(t, busy, fmt.Sprintf("r%d.txt", i), plainText, nil)
		switch resp.Status {
		case http.StatusCreated:
			stored++
		case http.StatusTooManyRequests:
			throttled++
			assertError(t, resp, http.StatusTooManyRequests, "too_many_requests")
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Errorf("rapid drop upload %d: status %d: %.300s", i, resp.Status, resp.Body)
		}
	}
	if throttled == 0 {
		t.Errorf("60 rapid drop uploads from one address: none throttled")
	}
	s.assertStoredOnly(t, before, stored)
}

func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	if !knownFlags["api-rate"] {
		t.Skip("API rate limit not built yet: serve --help lists no --api-rate")
	}
	s := startServer(t, serverOptions{args: []string{"--api-rate", "1", "--api-burst", "5"}})
	throttled := 0
	for range 20 {
		resp := s.do(t, request{Path: "/api/v1/files", Token: aliceToken})
		if resp.Status == http.StatusTooManyRequests {
			throttled++
			assertError(t, resp, http.StatusTooManyRequests, "too_many_requests")
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if throttled == 0 {
		t.Error("20 rapid API requests past --api-burst 5: none throttled")
	}
}

func TestUserQuota(t *testing.T) {
	t.Parallel()
	if !knownFlags["user-quota"] {
		t.Skip("storage quotas not built yet: serve --help lists no --user-quota")
	}
	s := startServer(t, serverOptions{args: []string{"--user-quota", "1MB"}})
	pdf := func(size int) []byte { return append([]byte("%PDF-1.4\n"), make([]byte, size-9)...) }

	mustStore(t, s.upload(t, "first.pdf", pdf(600_000)))
	resp := s.expectRejected(t, http.StatusInsufficientStorage, "insufficient_storage", func() response { return s.upload(t, "second.pdf", pdf(600_000)) })
	if msg := resp.errorMessage(); !strings.Contains(msg, config.FormatBytes(1_000_000)) {
		t.Errorf("over quota: message %q does not give the %s quota", msg, config.FormatBytes(1_000_000))
	}
	s.expectRejected(t, http.StatusInsufficientStorage, "insufficient_storage", func() response { return s.put(t, "second.pdf", pdf(600_000)) })
	s.expectRejected(t, http.StatusRequestEntityTooLarge, "too_large", func() response { return s.upload(t, "alone.pdf", pdf(2_000_000)) })

	// Quotas are per user, so bob can still upload.
	mustStore(t, s.uploadAs(t, bobToken, "bob.pdf", pdf(600_000)))

	t.Run("drop link", func(t *testing.T) {
		s.requireDrops(t)
		d := s.createDrop(t, `{"label":"quota"}`)
		s.expectRejected(t, http.StatusInsufficientStorage, "insufficient_storage", func() response { return s.dropUpload(t, d, "drop.pdf", pdf(600_000), nil) })
	})
}

// TestRefusalReachesGoClient sends refused uploads with Go's own HTTP
// client, which returns the failed body write instead of the response
// when the server closes the connection with the body unread. Every
// attempt must still get the server's error.
func TestRefusalReachesGoClient(t *testing.T) {
	t.Parallel()
	s := offServer(t)
	client := &http.Client{Timeout: time.Minute}
	form := multipartFile("refused.exe", bytes.Repeat([]byte{'x'}, 15<<20))

	failed := 0
	for i := range 10 {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/files", bytes.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		req.Header.Set("Content-Type", multipartHeader.Get("Content-Type"))
		resp, err := client.Do(req)
		if err != nil {
			failed++
			t.Logf("attempt %d: %v", i, err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("attempt %d: status %d, want 415", i, resp.StatusCode)
		}
	}
	if failed > 0 {
		t.Errorf("%d of 10 refused uploads reached Go's client as a connection reset instead of the 415 response", failed)
	}
}
