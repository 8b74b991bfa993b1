package hostile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverOptions are the flags a test server differs in. The zero value is
// a server with scanning off and a 20 MB file limit.
type serverOptions struct {
	maxFileSize string   // --max-file-size; "" means 20MB
	scanner     string   // --scanner; "" means off
	args        []string // further flags, such as --clamd-address
}

// server is a running "vaultdrop serve" process on 127.0.0.1, started from
// a copy of the template data directory and with TMPDIR set to a folder of
// its own, so that leftover temporary files can be found.
type server struct {
	URL     string
	DataDir string
	TempDir string // the server's TMPDIR

	cmd    *exec.Cmd
	exited chan struct{}
	log    *logBuffer

	// sharedDir is the folder of a shared server, removed after the tests.
	sharedDir string

	// browsers are signed-in browsers by username, kept because sign-ins
	// are rate-limited.
	browsers   map[string]*browser
	browsersMu sync.Mutex

	// mu serialises the tests that share this server, because each one
	// compares the whole server's state before and after.
	mu sync.Mutex
}

// startServer starts a server for one test and stops it when the test ends.
func startServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	s, err := launchServer(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// sharedServer returns the server registered under key, starting it on the
// first call. Shared servers live until every test has run. The caller
// holds the server's lock until the test ends.
func sharedServer(t *testing.T, key string, opts serverOptions) *server {
	t.Helper()
	sharedServersMu.Lock()
	s, ok := sharedServers[key]
	if !ok {
		dir, err := os.MkdirTemp("", "vaultdrop-hostile-"+key)
		if err != nil {
			sharedServersMu.Unlock()
			t.Fatal(err)
		}
		s, err = launchServer(dir, opts)
		if err != nil {
			sharedServersMu.Unlock()
			os.RemoveAll(dir)
			t.Fatal(err)
		}
		s.sharedDir = dir
		sharedServers[key] = s
	}
	sharedServersMu.Unlock()

	s.mu.Lock()
	t.Cleanup(s.mu.Unlock)
	return s
}

// offServer is the shared server with scanning off and a 20 MB limit that
// most name, content and access tests use.
func offServer(t *testing.T) *server {
	t.Helper()
	return sharedServer(t, "off", serverOptions{})
}

// launchServer starts a server on a copy of the template data directory
// in dir.
func launchServer(dir string, opts serverOptions) (*server, error) {
	dataDir, tempDir := filepath.Join(dir, "data"), filepath.Join(dir, "tmp")
	if err := copyDataDir(dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tempDir, 0o700); err != nil {
		return nil, err
	}
	return launchOn(dataDir, tempDir, opts)
}

// restart stops the server and starts a new one on the same data
// directory and TMPDIR with opts, as an operator restarting it would.
func (s *server) restart(t *testing.T, opts serverOptions) *server {
	t.Helper()
	s.stop()
	next, err := launchOn(s.DataDir, s.TempDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.stop)
	return next
}

func launchOn(dataDir, tempDir string, opts serverOptions) (*server, error) {
	s := &server{DataDir: dataDir, TempDir: tempDir, exited: make(chan struct{}), log: &logBuffer{}}
	if opts.maxFileSize == "" {
		opts.maxFileSize = "20MB"
	}
	if opts.scanner == "" {
		opts.scanner = "off"
	}
	args := []string{
		"serve", "--data-dir", s.DataDir, "--addr", "127.0.0.1:0",
		"--max-file-size", opts.maxFileSize, "--scanner", opts.scanner,
		"--min-free-space", "1MB", "--log-format", "json", "--log-level", "debug",
	}
	if knownFlags["api-rate"] {
		// The suite sends hundreds of API requests from one address; the
		// test of the rate limit turns it back on.
		args = append(args, "--api-rate", "0")
	}
	args = append(args, opts.args...)

	s.cmd = exec.Command(programPath, args...)
	s.cmd.Env = append(cleanEnv(), "TMPDIR="+s.TempDir)
	s.cmd.Stderr = s.log
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start vaultdrop serve: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()

	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("server printed no URL: %v; log:\n%s", err, s.log.String())
	}
	go io.Copy(io.Discard, lines)
	s.URL = strings.TrimSpace(strings.TrimPrefix(line, "vaultdrop is listening on "))
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		s.stop()
		return nil, fmt.Errorf("server URL %q is not on 127.0.0.1", s.URL)
	}
	return s, nil
}

// stop sends SIGINT, as a service manager would, and kills the process if
// it has not exited within 10 seconds.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// PID returns the server's process id, for /proc measurements.
func (s *server) PID() int {
	return s.cmd.Process.Pid
}

// logBuffer collects the server's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records written so far, decoded.
func (b *logBuffer) records() []map[string]any {
	var records []map[string]any
	for _, line := range strings.Split(b.String(), "\n") {
		var record map[string]any
		if json.Unmarshal([]byte(line), &record) == nil {
			records = append(records, record)
		}
	}
	return records
}

// response is one HTTP response from the server, with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorCode returns the code of a JSON error response, or "" when the
// body is not one.
func (r response) errorCode() string {
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &body)
	return body.Error.Code
}

// errorMessage returns the message of a JSON error response.
func (r response) errorMessage() string {
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &body)
	return body.Error.Message
}

// request is one request to a test server. Path is sent byte for byte as
// the request target, so it may hold encoded slashes, dot segments and
// invalid escapes that url.Parse would refuse or rewrite.
type request struct {
	Method string
	Path   string
	Token  string // sent as "Authorization: Bearer TOKEN" when not empty
	Header http.Header
	Body   io.Reader
	// ContentLength is sent when positive; -1 sends the body chunked.
	ContentLength int64
	Client        *http.Client // nil means a client that follows no redirect
}

// do sends req and returns the answer. Any 5xx other than 507 Insufficient
// Storage fails the test, because the server must answer hostile input with
// a client error.
func (s *server) do(t *testing.T, req request) response {
	t.Helper()
	resp, err := s.send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(resp.Body)
	if err != nil {
		// The server refused the request while its body was still being
		// sent and closed the connection, and the reset cut its answer.
		t.Logf("%s %s: status %d, answer cut short: %v", req.Method, req.Path, resp.StatusCode, err)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("%s %s: status %d, a server error: %.300s", req.Method, req.Path, resp.StatusCode, body)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// send sends req and returns the response with its body unread.
func (s *server) send(req request) (*http.Response, error) {
	r, err := s.newRequest(req)
	if err != nil {
		return nil, err
	}
	client := req.Client
	if client == nil {
		client = plainClient
	}
	if req.Body != nil {
		return sendEarly(client, r)
	}
	return client.Do(r)
}

func (s *server) newRequest(req request) (*http.Request, error) {
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	r, err := http.NewRequest(req.Method, s.URL, req.Body)
	if err != nil {
		return nil, err
	}
	// Opaque is written to the request line as it is.
	r.URL.Opaque = req.Path
	for key, values := range req.Header {
		r.Header[key] = values
	}
	if req.Token != "" {
		r.Header.Set("Authorization", "Bearer "+req.Token)
	}
	switch {
	case req.ContentLength > 0:
		r.ContentLength = req.ContentLength
	case req.ContentLength < 0:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
	}
	return r, nil
}

// sendEarly sends a request with a body on a connection of its own and
// reads the response while the body is still being written, as browsers
// and curl do. A server that refuses a body part-way answers and closes
// the connection; http.Client would then report the failed write instead
// of the answer. The client's cookie jar is used as http.Client would.
func sendEarly(client *http.Client, r *http.Request) (*http.Response, error) {
	if client.Jar != nil {
		for _, c := range client.Jar.Cookies(r.URL) {
			r.AddCookie(c)
		}
	}
	r.Close = true

	conn, err := net.DialTimeout("tcp", r.URL.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(2 * time.Minute))

	written := make(chan error, 1)
	go func() { written <- r.Write(conn) }()

	resp, err := http.ReadResponse(bufio.NewReader(conn), r)
	if err != nil {
		conn.Close()
		if writeErr := <-written; writeErr != nil {
			return nil, fmt.Errorf("%w (while writing the body: %v)", err, writeErr)
		}
		return nil, err
	}
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn}
	if client.Jar != nil {
		client.Jar.SetCookies(r.URL, resp.Cookies())
	}
	return resp, nil
}

// connBody closes the connection of a sendEarly response with its body.
type connBody struct {
	io.ReadCloser
	conn net.Conn
}

func (b *connBody) Close() error {
	b.ReadCloser.Close()
	return b.conn.Close()
}

// plainClient follows no redirect, so tests see each answer as sent.
var plainClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       2 * time.Minute,
}

// jsonBody is the header set of a JSON request.
var jsonBody = http.Header{"Content-Type": {"application/json"}}

// formBoundary is the boundary of the multipart bodies built here.
const formBoundary = "vaultdrop-hostile-boundary"

// multipartHeader is the Content-Type of a body from multipartPart.
var multipartHeader = http.Header{"Content-Type": {"multipart/form-data; boundary=" + formBoundary}}

// multipartFile returns a form with one part named "file" whose filename
// parameter is written byte for byte between double quotes, so a name may
// hold a raw quote, CR, LF or NUL that an HTTP client library would
// escape.
func multipartFile(name string, content []byte) []byte {
	return multipartPart(`name="file"; filename="`+name+`"`, content)
}

// multipartPart returns a form with one part whose Content-Disposition is
// "form-data; " followed by params.
func multipartPart(params string, content []byte) []byte {
	var b bytes.Buffer
	b.WriteString("--" + formBoundary + "\r\nContent-Disposition: form-data; " + params + "\r\n")
	b.WriteString("Content-Type: application/octet-stream\r\n\r\n")
	b.Write(content)
	b.WriteString("\r\n--" + formBoundary + "--\r\n")
	return b.Bytes()
}

// upload posts one file to the multipart API as alice.
func (s *server) upload(t *testing.T, name string, content []byte) response {
	t.Helper()
	return s.uploadAs(t, aliceToken, name, content)
}

func (s *server) uploadAs(t *testing.T, token, name string, content []byte) response {
	t.Helper()
	return s.do(t, request{
		Method: http.MethodPost, Path: "/api/v1/files", Token: token,
		Header: multipartHeader, Body: bytes.NewReader(multipartFile(name, content)),
	})
}

// put uploads content through the raw-body route as alice. encodedName
// goes into the path as given.
func (s *server) put(t *testing.T, encodedName string, content []byte) response {
	t.Helper()
	return s.do(t, request{
		Method: http.MethodPut, Path: "/api/v1/files/" + encodedName, Token: aliceToken,
		Body: bytes.NewReader(content),
	})
}

// browser is a signed-in browser: a cookie jar with a session and the
// headers a browser sends for a same-origin form post.
type browser struct {
	client *http.Client
	origin string
}

// browserFor returns a browser signed in as username, signing in through
// the form on the first call.
func (s *server) browserFor(t *testing.T, username, password string) *browser {
	t.Helper()
	s.browsersMu.Lock()
	defer s.browsersMu.Unlock()
	if b, ok := s.browsers[username]; ok {
		return b
	}
	b := s.login(t, username, password)
	if s.browsers == nil {
		s.browsers = map[string]*browser{}
	}
	s.browsers[username] = b
	return b
}

// alice returns a browser signed in as alice.
func (s *server) alice(t *testing.T) *browser {
	t.Helper()
	return s.browserFor(t, "alice", alicePassword)
}

// login signs username in through the sign-in form.
func (s *server) login(t *testing.T, username, password string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       2 * time.Minute,
	}
	form := url.Values{"username": {username}, "password": {password}}
	resp := s.do(t, request{
		Method: http.MethodPost, Path: "/login", Client: client,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {s.URL}, "Sec-Fetch-Site": {"same-origin"}},
		Body:   strings.NewReader(form.Encode()),
	})
	if resp.Status != http.StatusSeeOther {
		t.Fatalf("sign in %s: status %d, want 303", username, resp.Status)
	}
	return &browser{client: client, origin: s.URL}
}

// sameOrigin returns the headers a browser adds to a request from the
// app's own pages.
func (b *browser) sameOrigin(extra http.Header) http.Header {
	h := http.Header{"Origin": {b.origin}, "Sec-Fetch-Site": {"same-origin"}}
	for key, values := range extra {
		h[key] = values
	}
	return h
}

// fileObject is the API's file object.
type fileObject struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	Status      string `json:"status"`
}

func decodeFile(t *testing.T, resp response) fileObject {
	t.Helper()
	var f fileObject
	if err := json.Unmarshal(resp.Body, &f); err != nil || f.ID == "" {
		t.Fatalf("status %d: not a file object: %.300s", resp.Status, resp.Body)
	}
	return f
}

// mustStore checks that an upload answered 201 and returns its file.
func mustStore(t *testing.T, resp response) fileObject {
	t.Helper()
	if resp.Status != http.StatusCreated {
		t.Fatalf("upload: status %d, want 201: %.300s", resp.Status, resp.Body)
	}
	return decodeFile(t, resp)
}

// listFiles returns the files the API lists for token's user.
func (s *server) listFiles(t *testing.T, token string) []fileObject {
	t.Helper()
	resp := s.do(t, request{Path: "/api/v1/files", Token: token})
	if resp.Status != http.StatusOK {
		t.Fatalf("list files: status %d: %.300s", resp.Status, resp.Body)
	}
	var list struct {
		Files []fileObject `json:"files"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatalf("list files: %v", err)
	}
	return list.Files
}

// fileStatus returns the status the API reports for one of alice's files.
func (s *server) fileStatus(t *testing.T, id string) string {
	t.Helper()
	resp := s.do(t, request{Path: "/api/v1/files/" + id, Token: aliceToken})
	if resp.Status != http.StatusOK {
		t.Fatalf("get file %s: status %d: %.300s", id, resp.Status, resp.Body)
	}
	return decodeFile(t, resp).Status
}

// download fetches one of alice's files.
func (s *server) download(t *testing.T, id string) response {
	t.Helper()
	return s.do(t, request{Path: "/api/v1/files/" + id + "/content", Token: aliceToken})
}

// waitFor polls check every 200 ms until it returns true or limit passes,
// and reports whether it did.
func waitFor(limit time.Duration, check func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dialRaw opens a TCP connection to the server for hand-written requests.
func (s *server) dialRaw(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// browserUpload posts a multipart body to the Files page, as its
// no-JavaScript form does.
func (s *server) browserUpload(t *testing.T, b *browser, body []byte) response {
	t.Helper()
	return s.do(t, request{
		Method: http.MethodPost, Path: "/files", Client: b.client,
		Header: b.sameOrigin(multipartHeader), Body: bytes.NewReader(body),
	})
}

// expectBrowserRejected posts body to the browser form and checks the
// answer to a refused file: 200 with a result line marked rejected that
// carries the API's message for the same file, and nothing stored.
func (s *server) expectBrowserRejected(t *testing.T, b *browser, body []byte, apiMessage string) response {
	t.Helper()
	before := s.snapshot(t)
	resp := s.browserUpload(t, b, body)
	if resp.Status != http.StatusOK {
		t.Errorf("browser form: status %d, want 200 with a rejected result", resp.Status)
	}
	if !bytes.Contains(resp.Body, []byte(`class="status rejected"`)) {
		t.Errorf("browser form: no result marked rejected")
	}
	if apiMessage != "" && !bytes.Contains(resp.Body, []byte(html.EscapeString(apiMessage))) {
		t.Errorf("browser form: page lacks the API's message %q", apiMessage)
	}
	s.assertNothingStored(t, before)
	return resp
}

func newJar(t *testing.T) *cookiejar.Jar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}
