package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/config"
)

func TestHSTSOnlyOverTLS(t *testing.T) {
	e := newEnv(t, envOptions{})
	tlsServer := httptest.NewTLSServer(e.Server.Handler())
	t.Cleanup(tlsServer.Close)

	resp, _ := e.request(http.MethodGet, "/healthz", "", nil, nil)
	if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("plain HTTP: Strict-Transport-Security = %q, want none", got)
	}

	resp, err := tlsServer.Client().Get(tlsServer.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("TLS: Strict-Transport-Security = %q, want max-age=31536000", got)
	}
}

func TestHSTSBehindHTTPSProxy(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.BaseURL = "https://files.example.test" }})

	resp, _ := e.request(http.MethodGet, "/healthz", "", nil, nil)
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("https base URL: Strict-Transport-Security = %q, want max-age=31536000", got)
	}
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	e := newEnv(t, envOptions{})
	tlsServer := httptest.NewTLSServer(e.Server.Handler())
	t.Cleanup(tlsServer.Close)
	client := tlsServer.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := client.PostForm(tlsServer.URL+"/login", map[string][]string{"username": {"alice"}, "password": {alicePassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login over TLS: status %d, want 303", resp.StatusCode)
	}
	cookies := resp.Cookies()
	if len(cookies) == 0 || !cookies[0].Secure {
		t.Errorf("session cookie over TLS = %+v, want Secure", cookies)
	}
}

func TestSelfSignedCertificateLifecycle(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hosts := []string{"files.example.test", "localhost", "127.0.0.1", "::1"}

	first, created, err := app.LoadOrCreateSelfSigned(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first call: created = false, want a new certificate")
	}
	if key, ok := first.PrivateKey.(*ecdsa.PrivateKey); !ok || key.Curve != elliptic.P256() {
		t.Errorf("key = %T, want ECDSA P-256", first.PrivateKey)
	}
	if err := first.Leaf.VerifyHostname("files.example.test"); err != nil {
		t.Errorf("certificate does not cover files.example.test: %v", err)
	}
	if err := first.Leaf.VerifyHostname("::1"); err != nil {
		t.Errorf("certificate does not cover ::1: %v", err)
	}
	for _, name := range []string{app.SelfSignedCertFile, app.SelfSignedKeyFile} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode = %o, want 600", name, perm)
		}
	}

	certPEM := readCertFile(t, filepath.Join(dir, app.SelfSignedCertFile))
	keyPEM := readCertFile(t, filepath.Join(dir, app.SelfSignedKeyFile))

	tests := []struct {
		name        string
		hosts       []string
		now         time.Time
		wantCreated bool
	}{
		{"same hosts later", hosts, now.Add(24 * time.Hour), false},
		{"same hosts in another order and case", []string{"::1", "LOCALHOST", "127.0.0.1", "files.example.test"}, now, false},
		{"another host", []string{"other.example.test", "localhost"}, now, true},
		{"expiring within 30 days", hosts, now.Add(340 * 24 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case starts from the first certificate.
			writeCertFile(t, filepath.Join(dir, app.SelfSignedCertFile), certPEM)
			writeCertFile(t, filepath.Join(dir, app.SelfSignedKeyFile), keyPEM)

			cert, created, err := app.LoadOrCreateSelfSigned(dir, tt.hosts, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if created != tt.wantCreated {
				t.Errorf("created = %t, want %t", created, tt.wantCreated)
			}
			same := app.CertFingerprint(cert.Leaf.Raw) == app.CertFingerprint(first.Leaf.Raw)
			if same == tt.wantCreated {
				t.Errorf("fingerprint unchanged = %t, want %t", same, !tt.wantCreated)
			}
		})
	}
}

func TestSelfSignedCertificateDamagedReplaced(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := os.WriteFile(filepath.Join(dir, app.SelfSignedCertFile), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	cert, created, err := app.LoadOrCreateSelfSigned(dir, []string{"localhost"}, now)
	if err != nil {
		t.Fatalf("a damaged certificate file stopped the start: %v", err)
	}
	if !created || cert.Leaf == nil {
		t.Errorf("created = %t, leaf = %v; want a new certificate", created, cert.Leaf)
	}
}

func readCertFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeCertFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
