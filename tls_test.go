package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/vaultdrop/vaultdrop/app"
)

// tlsServer is a running "vaultdrop serve --tls-self-signed" and the
// fingerprint its log reported.
type tlsServer struct {
	URL         string
	Fingerprint string
	process     *server
}

var fingerprintPattern = regexp.MustCompile(`sha256_fingerprint=((?:[0-9A-F]{2}:){31}[0-9A-F]{2})`)

// startTLSServer starts the binary with a self-signed certificate and
// reads the fingerprint from its log and the URL from its output.
func startTLSServer(t *testing.T, dataDir string, extra ...string) tlsServer {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--scanner", "off", "--tls-self-signed"}, extra...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ts := tlsServer{process: &server{cmd: cmd}}
	t.Cleanup(func() { ts.process.stop(t) })

	logs := bufio.NewScanner(stderr)
	for ts.Fingerprint == "" && logs.Scan() {
		if m := fingerprintPattern.FindStringSubmatch(logs.Text()); m != nil {
			ts.Fingerprint = m[1]
		}
	}
	if ts.Fingerprint == "" {
		t.Fatal("the log has no sha256_fingerprint")
	}
	go io.Copy(io.Discard, stderr)

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server printed no URL: %v", err)
	}
	ts.URL = strings.TrimSpace(strings.TrimPrefix(line, "vaultdrop is listening on "))
	go io.Copy(io.Discard, stdout)
	return ts
}

// servedFingerprint connects and returns the fingerprint of the
// certificate the server presents.
func servedFingerprint(t *testing.T, url string) string {
	t.Helper()
	addr := strings.TrimPrefix(url, "https://")
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // self-signed on purpose
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return app.CertFingerprint(conn.ConnectionState().PeerCertificates[0].Raw)
}

func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

func TestSelfSignedCertificateReused(t *testing.T) {
	dataDir := t.TempDir()

	first := startTLSServer(t, dataDir)
	if !strings.HasPrefix(first.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %q, want https on 127.0.0.1", first.URL)
	}
	if got := servedFingerprint(t, first.URL); got != first.Fingerprint {
		t.Errorf("served fingerprint %s, logged %s", got, first.Fingerprint)
	}
	resp, err := insecureClient().Get(first.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security over TLS = %q, want max-age=31536000", got)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS state = %+v, want TLS 1.2 or newer", resp.TLS)
	}

	if err := first.process.stop(t); err != nil {
		t.Fatalf("stop the first server: %v", err)
	}
	second := startTLSServer(t, dataDir)
	if second.Fingerprint != first.Fingerprint {
		t.Errorf("after a restart the fingerprint changed: %s, before %s", second.Fingerprint, first.Fingerprint)
	}
	if got := servedFingerprint(t, second.URL); got != first.Fingerprint {
		t.Errorf("after a restart the server presents %s, want %s", got, first.Fingerprint)
	}

	if err := second.process.stop(t); err != nil {
		t.Fatalf("stop the second server: %v", err)
	}
	third := startTLSServer(t, dataDir, "--tls-hosts", "files.example.test,192.0.2.10")
	if third.Fingerprint == first.Fingerprint {
		t.Error("the certificate was reused although --tls-hosts changed")
	}
}

func TestPlainHTTPOnNetworkRejected(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{
			name:  "all interfaces without TLS",
			args:  []string{"--addr", "0.0.0.0:0"},
			wants: []string{"not a loopback address", "--tls-cert", "--tls-self-signed", "--behind-proxy"},
		},
		{
			name:  "behind proxy without proxies or base URL",
			args:  []string{"--addr", "0.0.0.0:0", "--behind-proxy"},
			wants: []string{"--behind-proxy needs --trusted-proxies", "--behind-proxy needs --base-url"},
		},
		{
			name:  "behind proxy with a bad base URL",
			args:  []string{"--addr", "0.0.0.0:0", "--behind-proxy", "--trusted-proxies", "127.0.0.1", "--base-url", "files.example.test"},
			wants: []string{"not an absolute http or https URL"},
		},
		{
			name:  "certificate without key",
			args:  []string{"--tls-cert", "/nonexistent/cert.pem"},
			wants: []string{"--tls-cert and --tls-key go together"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			args := append([]string{"serve", "--data-dir", dataDir, "--scanner", "off"}, tt.args...)
			_, stderr, err := command(t, "", args...)
			if err == nil {
				t.Fatal("the server started")
			}
			for _, want := range tt.wants {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

func TestBehindProxyStartsOnNetwork(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--behind-proxy",
		"--trusted-proxies", "127.0.0.1/32", "--base-url", "https://files.example.test")

	if s.URL != "https://files.example.test" {
		t.Errorf("announced URL = %q, want the base URL", s.URL)
	}
	rest, _ := s.Stdout.ReadString('\n')
	rest, _ = s.Stdout.ReadString('\n')
	if !strings.HasPrefix(strings.TrimSpace(rest), "https://files.example.test/setup?token=") {
		t.Errorf("setup URL = %q, want it under the base URL", rest)
	}
}
