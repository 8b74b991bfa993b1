package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// dial opens a raw TCP connection to the test server, so a test can send
// a request as slowly, or as wrongly, as an attacker would.
func (e *testEnv) dial() net.Conn {
	e.t.Helper()
	return dialURL(e.t, e.URL)
}

func dialURL(t *testing.T, url string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readResponse reads one response from a raw connection, waiting at most
// 10 seconds so that a server that never responds fails the test instead
// of hanging it.
func readResponse(t *testing.T, conn net.Conn) (*http.Response, []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// startRawPut sends the headers of a PUT upload of size bytes and the first
// bytes of its body, and leaves the rest to the caller.
func (e *testEnv) startRawPut(token, name string, size int, first []byte) net.Conn {
	e.t.Helper()
	conn := e.dial()
	fmt.Fprintf(conn, "PUT /api/v1/files/%s HTTP/1.1\r\nHost: vaultdrop.test\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
		name, token, size)
	conn.Write(first)
	return conn
}

// waitIncoming waits until n uploads are being received, which shows that
// their requests reached the upload handler.
func (e *testEnv) waitIncoming(n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.Vault.CountIncoming()
		if err != nil {
			e.t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("vault/incoming holds %d files after 10s, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertNoNewRows checks that no file row was added since before, for
// tests where another upload is still in progress in vault/incoming.
func (e *testEnv) assertNoNewRows(before snapshot) {
	e.t.Helper()
	if after := e.snapshot(); after.rows != before.rows {
		e.t.Errorf("file rows: %d before, %d after; want no new row", before.rows, after.rows)
	}
}

func TestBodyIdleTimeoutEndsStalledUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.BodyIdleTimeout = 300 * time.Millisecond }})
	before := e.snapshot()

	conn := e.startRawPut(e.AliceToken, "stalled.txt", 1000, []byte("only the start of the body"))
	resp, body := readResponse(t, conn)

	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "request_timeout")
	e.assertNothingStored(before)
}

func TestBodyIdleTimeoutInMultipartForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.BodyIdleTimeout = 300 * time.Millisecond }})
	before := e.snapshot()

	conn := e.dial()
	const boundary = "stall"
	start := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"stalled.txt\"\r\n\r\nsome text"
	fmt.Fprintf(conn, "POST /api/v1/files HTTP/1.1\r\nHost: vaultdrop.test\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: 100000\r\n\r\n%s", e.AliceToken, boundary, start)
	resp, body := readResponse(t, conn)

	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "request_timeout")
	e.assertNothingStored(before)
}

func TestSlowBodyBelowMinimumRateEnded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.BodyIdleTimeout = 5 * time.Second
		c.MinUploadRate = 64 << 10
		c.MinUploadRateWindow = time.Second
	}})
	before := e.snapshot()

	// 100 bytes every 50 ms is 2 KB/s: never idle, far below 64 KiB/s.
	conn := e.startRawPut(e.AliceToken, "crawl.txt", 1<<20, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("a"), 100)
		for i := 0; i < 200; i++ {
			if _, err := conn.Write(chunk); err != nil {
				return // the server gave up on the body, as it should
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	resp, body := readResponse(t, conn)
	conn.Close()
	<-done

	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "request_timeout")
	if !strings.Contains(string(body), "minimum") {
		t.Errorf("message does not name the minimum rate: %s", body)
	}
	e.assertNothingStored(before)
}

func TestSlowHonestUploadFinishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.BodyIdleTimeout = time.Second
		c.MinUploadRate = 1 << 10
		c.MinUploadRateWindow = time.Second
	}})

	// 1 KiB every 100 ms for 2 seconds: slow, steady and above the minimum.
	const chunks, chunkSize = 20, 1 << 10
	conn := e.startRawPut(e.AliceToken, "steady.txt", chunks*chunkSize, nil)
	for i := 0; i < chunks; i++ {
		if _, err := conn.Write(bytes.Repeat([]byte("b"), chunkSize)); err != nil {
			t.Fatalf("write chunk %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, body := readResponse(t, conn)

	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %s", resp.StatusCode, body)
	}
	if f := decodeFile(t, body); f.Size != chunks*chunkSize {
		t.Errorf("size = %d, want %d", f.Size, chunks*chunkSize)
	}
}

func TestSlowHeadersCutByHeaderTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.HeaderTimeout = 300 * time.Millisecond }})
	url := e.serveOwnListener()

	conn := dialURL(t, url)
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: vaultdrop.test\r\nX-Slow: ")

	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open for 10s")
	}

	// Other clients are still served.
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz status = %d, want 200", resp.StatusCode)
	}
}

// serveOwnListener serves the test server through Server.Serve, which sets
// the http.Server timeouts that httptest does not, and returns its URL.
func (e *testEnv) serveOwnListener() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Server.Serve(ctx, ln) }()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String()
}

func TestUploadConcurrencyCaps(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		configure func(*config.Config)
		// otherUserAllowed is whether bob may upload while alice's
		// upload holds the only slot of the cap.
		otherUserAllowed bool
		reason           string
	}{
		{"per user", func(c *config.Config) { c.MaxUploadsPerUser = 1 }, true, "You already have 1 uploads"},
		{"per client", func(c *config.Config) { c.MaxUploadsPerClient = 1 }, false, "Your address already has 1 uploads"},
		{"whole server", func(c *config.Config) { c.MaxUploads = 1 }, false, "The server is already receiving 1 uploads"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{configure: tc.configure})
			held := e.startRawPut(e.AliceToken, "held.txt", 10, []byte("12345"))
			e.waitIncoming(1)
			before := e.snapshot()

			resp, body := e.upload(e.AliceToken, "second.txt", []byte("second\n"))
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("second upload: status = %d, want 429: %s", resp.StatusCode, body)
			}
			assertErrorCode(t, body, "too_many_requests")
			if got := resp.Header.Get("Retry-After"); got == "" {
				t.Error("429 without Retry-After")
			}
			if !strings.Contains(string(body), tc.reason) {
				t.Errorf("message does not say %q: %s", tc.reason, body)
			}
			e.assertNoNewRows(before)

			resp, body = e.upload(e.BobToken, "bob.txt", []byte("bob\n"))
			switch {
			case tc.otherUserAllowed && resp.StatusCode != http.StatusCreated:
				t.Errorf("bob's upload: status = %d, want 201: %s", resp.StatusCode, body)
			case !tc.otherUserAllowed && resp.StatusCode != http.StatusTooManyRequests:
				t.Errorf("bob's upload: status = %d, want 429: %s", resp.StatusCode, body)
			}

			held.Write([]byte("67890"))
			resp, body = readResponse(t, held)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("held upload: status = %d, want 201: %s", resp.StatusCode, body)
			}
			resp, body = e.upload(e.AliceToken, "third.txt", []byte("after the slot is free\n"))
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("upload after the slot was freed: status = %d, want 201: %s", resp.StatusCode, body)
			}
		})
	}
}

func TestBrowserUploadConcurrencyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MaxUploadsPerUser = 1 }})
	b := e.browser()
	e.login(b, "alice", alicePassword)
	held := e.startRawPut(e.AliceToken, "held.txt", 10, []byte("12345"))
	defer held.Close()
	e.waitIncoming(1)
	before := e.snapshot()

	body, contentType := multipartBody("file", "form.txt", []byte("from the form\n"))
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/files", body)
	req.Header.Set("Content-Type", contentType)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status = %d, want 429", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if !strings.Contains(string(page), "uploads in progress") {
		t.Errorf("page does not explain the cap: %.300s", page)
	}
	e.assertNoNewRows(before)
}

func TestAPIRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.APIRate = 0.1 // one request every 10 s once the burst is spent
		c.APIBurst = 3
	}})

	for i := 0; i < 3; i++ {
		if resp, body := e.request(http.MethodGet, "/api/v1/files", e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status = %d, want 200: %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := e.request(http.MethodGet, "/api/v1/files", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request past the burst: status = %d, want 429: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "too_many_requests")
	wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || wait < 1 {
		t.Errorf("Retry-After = %q, want a number of seconds", resp.Header.Get("Retry-After"))
	}

	// Pages and the health check are not API requests.
	for _, path := range []string{"/healthz", "/login"} {
		if resp, _ := e.request(http.MethodGet, path, "", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status = %d, want 200", path, resp.StatusCode)
		}
	}
}

func TestForwardedForBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	limit := func(c *config.Config) {
		c.APIRate = 0.1
		c.APIBurst = 1
	}
	get := func(e *testEnv, forwardedFor string) int {
		t.Helper()
		resp, _ := e.request(http.MethodGet, "/api/v1/files", e.AliceToken, nil, http.Header{"X-Forwarded-For": {forwardedFor}})
		return resp.StatusCode
	}

	t.Run("trusted", func(t *testing.T) {
		e := newEnv(t, envOptions{configure: func(c *config.Config) {
			limit(c)
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}})
		if got := get(e, "203.0.113.5"); got != http.StatusOK {
			t.Errorf("first request from 203.0.113.5: status = %d, want 200", got)
		}
		if got := get(e, "198.51.100.9, 203.0.113.5"); got != http.StatusTooManyRequests {
			t.Errorf("second request from 203.0.113.5 with a spoofed hop before it: status = %d, want 429", got)
		}
		if got := get(e, "203.0.113.6"); got != http.StatusOK {
			t.Errorf("request from 203.0.113.6: status = %d, want 200", got)
		}
	})

	t.Run("untrusted", func(t *testing.T) {
		e := newEnv(t, envOptions{configure: limit})
		if got := get(e, "203.0.113.5"); got != http.StatusOK {
			t.Errorf("first request: status = %d, want 200", got)
		}
		if got := get(e, "203.0.113.6"); got != http.StatusTooManyRequests {
			t.Errorf("request claiming another address: status = %d, want 429 (the header must be ignored)", got)
		}
	})
}

func TestLoginFloodAuditedOncePerMinute(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	e := newEnv(t, envOptions{now: clock.Now})
	client := e.browser()
	attempt := func(n int) {
		for i := 0; i < n; i++ {
			resp, err := client.PostForm(e.URL+"/login", map[string][]string{"username": {"alice"}, "password": {"wrong password"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	rateLimited := func() []string {
		events, err := e.Store.AuditEvents(context.Background(), 200)
		if err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, ev := range events {
			if ev.Action == "login" && strings.HasPrefix(ev.Detail, "rate limited") {
				details = append(details, ev.Detail)
			}
		}
		return details
	}

	attempt(10)
	if got := rateLimited(); len(got) != 1 {
		t.Fatalf("rate-limited sign-ins in the audit log: %d, want 1 per minute", len(got))
	}

	clock.Advance(61 * time.Second)
	attempt(6)
	got := rateLimited()
	if len(got) != 2 {
		t.Fatalf("rate-limited sign-ins in the audit log after a minute: %d, want 2", len(got))
	}
	if !strings.Contains(got[0], "more in the minute before") {
		t.Errorf("second record does not count the ones held back: %q", got[0])
	}
}
