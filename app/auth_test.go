package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vaultdrop/vaultdrop/app/auth"
)

func TestLoginSetsSessionCookie(t *testing.T) {
	e := newEnv(t, envOptions{})

	resp, err := noRedirectClient().PostForm(e.URL+"/login", url.Values{"username": {"alice"}, "password": {alicePassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/files" {
		t.Errorf("Location = %q, want /files", loc)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "vaultdrop_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	if !cookie.HttpOnly {
		t.Error("session cookie is not HttpOnly")
	}
	if cookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("SameSite = %v, want Lax", cookie.SameSite)
	}
	if len(cookie.Value) < 43 {
		t.Errorf("session token has %d characters, want at least 43 (256 bits)", len(cookie.Value))
	}
}

func TestLoginFailureIsGeneric(t *testing.T) {
	e := newEnv(t, envOptions{})

	cases := []struct {
		name     string
		username string
		password string
	}{
		{name: "wrong password", username: "alice", password: "not the password"},
		{name: "unknown user", username: "mallory", password: "whatever password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.request(http.MethodPost, "/login", "", strings.NewReader(url.Values{
				"username": {tc.username}, "password": {tc.password},
			}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})

			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			if !strings.Contains(string(body), "Invalid username or password.") {
				t.Error("page does not show the generic message")
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("cookies set on a failed sign-in: %v", resp.Cookies())
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	form := url.Values{"username": {"bob"}, "password": {"wrong password here"}}.Encode()
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

	var last *http.Response
	for range 8 {
		last, _ = e.request(http.MethodPost, "/login", "", strings.NewReader(form), header)
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
	}

	if last.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status after repeated failures = %d, want 429", last.StatusCode)
	}
	if last.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	// The right password is refused too while the account is throttled.
	ok := url.Values{"username": {"bob"}, "password": {bobPassword}}.Encode()
	resp, _ := e.request(http.MethodPost, "/login", "", strings.NewReader(ok), header)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("correct password while throttled: status = %d, want 429", resp.StatusCode)
	}
}

func TestLogoutEndsSessionOnServer(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	e.login(b, "alice", alicePassword)

	u, _ := url.Parse(e.URL)
	stolen := b.Jar.Cookies(u)

	resp, err := b.Post(e.URL+"/logout", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout status = %d, want 303", resp.StatusCode)
	}

	// Replaying the old cookie must not work: the session row is gone.
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/files", nil)
	for _, c := range stolen {
		req.AddCookie(c)
	}
	resp, err = noRedirectClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old cookie after logout: status = %d, want 401", resp.StatusCode)
	}
}

func TestSetupCreatesFirstAdminOnce(t *testing.T) {
	e := newEmptyEnv(t)
	token := auth.NewToken(auth.PrefixSetup)
	if err := e.Store.SetSetupTokenHash(context.Background(), auth.HashTokenHex(token)); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/setup", "/setup?token=wrong"} {
		if resp, _ := e.request(http.MethodGet, path, "", nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status = %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := e.request(http.MethodGet, "/setup?token="+token, "", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /setup with token: status = %d, want 200", resp.StatusCode)
	}

	form := url.Values{"token": {token}, "username": {"admin"}, "password": {"a long enough password"}, "password_confirm": {"a long enough password"}}
	resp, err := noRedirectClient().PostForm(e.URL+"/setup", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /setup: status = %d, want 303", resp.StatusCode)
	}

	u, err := e.Store.UserByName(context.Background(), "admin")
	if err != nil {
		t.Fatalf("admin not created: %v", err)
	}
	if !u.IsAdmin {
		t.Error("first user is not an admin")
	}
	if resp, _ := e.request(http.MethodGet, "/setup?token="+token, "", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("setup page after setup: status = %d, want 404", resp.StatusCode)
	}
	resp, err = noRedirectClient().PostForm(e.URL+"/setup", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("second POST /setup: status = %d, want 404", resp.StatusCode)
	}
}

func TestCrossSiteRequestRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	e.login(b, "alice", alicePassword)

	cases := []struct {
		name   string
		header http.Header
	}{
		{name: "Sec-Fetch-Site cross-site", header: http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{name: "foreign Origin", header: http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			body, ct := multipartBody("file", "note.txt", []byte("hello"))
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/files", body)
			req.Header.Set("Content-Type", ct)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status = %d, want 403", resp.StatusCode)
			}
			e.assertNothingStored(before)
		})
	}

	// A cross-site sign-out must not end the session either.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site logout: status = %d, want 403", resp.StatusCode)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t, envOptions{})
	paths := []string{"/login", "/does-not-exist", "/api/v1/files", "/api/v1/files/does-not-exist", "/healthz", "/assets/app.css"}

	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			resp, _ := e.request(http.MethodGet, p, "", nil, nil)
			h := resp.Header
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := h.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy = %q", got)
			}
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
		})
	}
}

func TestAPIRequiresCredentials(t *testing.T) {
	e := newEnv(t, envOptions{})

	cases := []struct {
		name  string
		path  string
		token string
	}{
		{name: "none", path: "/api/v1/files"},
		{name: "wrong token", path: "/api/v1/files", token: "vdt_not-a-real-token"},
		{name: "token in query", path: "/api/v1/files?token=" + e.AliceToken},
		{name: "access_token in query", path: "/api/v1/files?access_token=" + e.AliceToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.request(http.MethodGet, tc.path, tc.token, nil, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			assertErrorCode(t, body, "unauthorized")
		})
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, envOptions{})

	resp, body := e.request(http.MethodGet, "/healthz", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var h map[string]string
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if h["status"] != "ok" || h["database"] != "ok" || h["scanner"] != "off" {
		t.Errorf("health = %v", h)
	}
}

// assertErrorCode checks the API's JSON error body.
func assertErrorCode(t *testing.T, body []byte, want string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, body)
	}
	if e.Error.Code != want {
		t.Errorf("error code = %q, want %q (message %q)", e.Error.Code, want, e.Error.Message)
	}
	if e.Error.Message == "" {
		t.Error("error message is empty")
	}
}

func TestLoginHugeUsernameRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	huge := strings.Repeat("a", 100000)

	resp, body := e.request(http.MethodPost, "/login", "", strings.NewReader(url.Values{
		"username": {huge}, "password": {"whatever password"},
	}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})

	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.StatusCode)
	}
	if strings.Contains(string(body), strings.Repeat("a", 65)) {
		t.Error("the page echoes more than 64 bytes of the username")
	}
	events, err := e.Store.AuditEvents(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if len(ev.Target) > 100 {
			t.Errorf("audit target holds %d bytes of the username", len(ev.Target))
		}
	}
}
