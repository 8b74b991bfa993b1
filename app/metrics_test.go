package app_test

import (
	"bytes"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// requirePromtoolEnv makes a missing promtool a test failure, for CI.
const requirePromtoolEnv = "VAULTDROP_TEST_REQUIRE_PROMTOOL"

func metricsOn(c *config.Config) { c.Metrics = true }

// scrape fetches /metrics as a local Prometheus would and fails the test
// unless the status is 200.
func (e *testEnv) scrape() string {
	e.t.Helper()
	resp, body := e.request(http.MethodGet, "/metrics", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics from loopback: status %d, want 200: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		e.t.Errorf("Content-Type = %q, want the Prometheus text format", ct)
	}
	return string(body)
}

// metricValue returns the value of the sample written exactly as series,
// such as `vaultdrop_scans_total{verdict="clean"}`.
func metricValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		value, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("%s: value %q: %v", series, value, err)
		}
		return v
	}
	t.Fatalf("the scrape has no series %s", series)
	return 0
}

func TestMetricsOffByDefault(t *testing.T) {
	e := newEnv(t, envOptions{})

	resp, body := e.request(http.MethodGet, "/metrics", e.AliceToken, nil, http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics without --metrics: status %d, want 404", resp.StatusCode)
	}
	assertErrorCode(t, body, "not_found")
}

func TestMetricsCountUploadsAndRejections(t *testing.T) {
	e := newEnv(t, envOptions{configure: metricsOn})

	resp, body := e.upload(e.AliceToken, "note.txt", []byte("hello metrics\n"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %d, want 201: %s", resp.StatusCode, body)
	}
	before := e.snapshot()
	resp, body = e.upload(e.AliceToken, "setup.exe", []byte("MZ not welcome"))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("refused upload: status %d, want 415: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "type_not_allowed")
	e.assertNothingStored(before)

	scrape := e.scrape()
	checks := []struct {
		series string
		want   float64
	}{
		{`vaultdrop_uploads_accepted_total{status="unscanned"}`, 1},
		{`vaultdrop_uploads_accepted_total{status="clean"}`, 0},
		{`vaultdrop_uploads_rejected_total{reason="type_not_allowed"}`, 1},
		{`vaultdrop_uploads_rejected_total{reason="too_large"}`, 0},
		{`vaultdrop_upload_size_bytes_count`, 1},
		{`vaultdrop_upload_size_bytes_sum`, float64(len("hello metrics\n"))},
		{`vaultdrop_active_uploads`, 0},
		{`vaultdrop_pending_scans`, 0},
		{`vaultdrop_build_info{version="test"}`, 1},
	}
	for _, c := range checks {
		if got := metricValue(t, scrape, c.series); got != c.want {
			t.Errorf("%s = %g, want %g", c.series, got, c.want)
		}
	}
	if got := metricValue(t, scrape, "vaultdrop_http_received_bytes_total"); got < float64(len("hello metrics\n")) {
		t.Errorf("vaultdrop_http_received_bytes_total = %g, want at least the upload's size", got)
	}
	if got := metricValue(t, scrape, "vaultdrop_http_sent_bytes_total"); got <= 0 {
		t.Errorf("vaultdrop_http_sent_bytes_total = %g, want the answers' bytes", got)
	}

	t.Run("promtool", func(t *testing.T) { checkWithPromtool(t, scrape) })
}

func TestMetricsCountScanVerdicts(t *testing.T) {
	d := sharedClamd.Daemon(t)
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d), configure: metricsOn})

	if resp, body := e.upload(e.AliceToken, "report.pdf", samplePDF); resp.StatusCode != http.StatusCreated {
		t.Fatalf("clean upload: status %d, want 201: %s", resp.StatusCode, body)
	}
	before := e.snapshot()
	resp, body := e.upload(e.AliceToken, "eicar.txt", clamavtest.EICAR())
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("infected upload: status %d, want 422: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "infected")
	e.assertNothingStored(before)

	scrape := e.scrape()
	checks := []struct {
		series string
		want   float64
	}{
		{`vaultdrop_scans_total{verdict="clean"}`, 1},
		{`vaultdrop_scans_total{verdict="infected"}`, 1},
		{`vaultdrop_scans_total{verdict="error"}`, 0},
		{`vaultdrop_scan_duration_seconds_count`, 2},
		{`vaultdrop_uploads_accepted_total{status="clean"}`, 1},
		{`vaultdrop_uploads_rejected_total{reason="infected"}`, 1},
	}
	for _, c := range checks {
		if got := metricValue(t, scrape, c.series); got != c.want {
			t.Errorf("%s = %g, want %g", c.series, got, c.want)
		}
	}
}

func TestMetricsAccess(t *testing.T) {
	e := newEnv(t, envOptions{configure: metricsOn})
	viaProxy := http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Accept": {"application/json"}}

	tests := []struct {
		name   string
		token  string
		header http.Header
		host   string
		want   int
	}{
		{"loopback without token", "", nil, "", http.StatusOK},
		{"through a proxy without token", "", viaProxy, "", http.StatusNotFound},
		{"through a proxy with a user token", e.BobToken, viaProxy, "", http.StatusNotFound},
		{"through a proxy with an admin token", e.AliceToken, viaProxy, "", http.StatusOK},
		{"public host name without token", "", http.Header{"Accept": {"application/json"}}, "files.example.test", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			copyLimited(&body, resp)
			resp.Body.Close()

			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body.String())
			}
			if tt.want == http.StatusNotFound {
				assertErrorCode(t, body.Bytes(), "not_found")
			}
		})
	}
}

func TestMetricsBehindProxyNeedAdminToken(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.Metrics = true
		c.BehindProxy = true
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.BaseURL = "https://files.example.test"
	}})

	resp, _ := e.request(http.MethodGet, "/metrics", "", nil, http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("behind a proxy without token: status %d, want 404", resp.StatusCode)
	}
	resp, _ = e.request(http.MethodGet, "/metrics", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("behind a proxy with an admin token: status %d, want 200", resp.StatusCode)
	}
}

// checkWithPromtool lints a scrape with "promtool check metrics" (Debian
// package prometheus). Without promtool the test skips, unless
// VAULTDROP_TEST_REQUIRE_PROMTOOL=1 makes it fail.
func checkWithPromtool(t *testing.T, scrape string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(requirePromtoolEnv) == "1" {
			t.Fatalf("promtool is not installed and %s=1: install Debian's prometheus package", requirePromtoolEnv)
		}
		t.Skipf("promtool is not installed: install Debian's prometheus package, or set %s=1 to fail instead", requirePromtoolEnv)
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
