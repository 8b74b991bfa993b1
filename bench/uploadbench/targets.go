package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
)

// The account the benchmark creates in each vaultdrop data folder.
const (
	benchUser     = "bench"
	benchPassword = "uploadbench-password"
)

// referenceToken is sent to the reference server, which ignores it, so
// that both servers receive the same headers.
const referenceToken = "vd_reference_server_ignores_this_token"

// target is one server under test.
type target struct {
	name    string // as the report names it
	server  server
	proc    *process
	scanned bool // uploads are virus-scanned, so a download waits for "clean"
	// scanLimit is the largest file the scanner checks, as vaultdrop
	// measured it at start; empty when scanning is off.
	scanLimit string
}

// targets are the servers of one run. Every vaultdrop figure is reported
// as a ratio to the reference's.
type targets struct {
	reference *target
	vaultdrop []*target
	clamd     string // clamd's version, or why there is no clamd run
}

func (t targets) all() []*target {
	return append([]*target{t.reference}, t.vaultdrop...)
}

// startTargets builds and starts every server. The returned function stops
// them all and is safe to call when startTargets failed halfway.
func startTargets(ctx context.Context, c *client, opts options, src source, work string, progress *progress) (targets, func(), error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	var t targets

	progress.log("building vaultdrop and the reference server")
	vaultdropBin, refBin, err := buildBinaries(ctx, src.vaultdrop, src.repo, filepath.Join(work, "bin"))
	if err != nil {
		return t, stopAll, err
	}
	if err := os.Mkdir(filepath.Join(work, "logs"), 0o700); err != nil {
		return t, stopAll, fmt.Errorf("create log folder: %w", err)
	}

	t.reference, err = startReference(ctx, refBin, work)
	if err != nil {
		return t, stopAll, err
	}
	stops = append(stops, t.reference.proc.stop)

	plain, err := startVaultdrop(ctx, c, vaultdropBin, work, "vaultdrop", "")
	if err != nil {
		return t, stopAll, err
	}
	stops = append(stops, plain.proc.stop)
	t.vaultdrop = append(t.vaultdrop, plain)

	daemon, version, err := startClamd(ctx, opts.clamd, progress)
	if err != nil || daemon == nil {
		t.clamd = version
		return t, stopAll, err
	}
	stops = append(stops, daemon.Stop)
	t.clamd = version

	scanned, err := startVaultdrop(ctx, c, vaultdropBin, work, "vaultdrop + clamd", daemon.SocketPath)
	if err != nil {
		return t, stopAll, err
	}
	stops = append(stops, scanned.proc.stop)
	t.vaultdrop = append(t.vaultdrop, scanned)

	return t, stopAll, nil
}

func startReference(ctx context.Context, bin, work string) (*target, error) {
	proc, url, err := startServer(ctx, "reference server", bin, filepath.Join(work, "logs", "refserver.log"), "listening on ",
		"--addr", "127.0.0.1:0", "--dir", filepath.Join(work, "refserver"))
	if err != nil {
		return nil, err
	}
	return &target{name: "reference", server: server{baseURL: url, token: referenceToken}, proc: proc}, nil
}

// startVaultdrop creates a data folder with a user and an API token through
// vaultdrop's CLI, and serves it on a free loopback port. It scans uploads
// with the clamd at clamdSocket, or not at all when clamdSocket is empty.
func startVaultdrop(ctx context.Context, c *client, bin, work, name, clamdSocket string) (*target, error) {
	slug := strings.NewReplacer(" ", "", "+", "-").Replace(name)
	dataDir := filepath.Join(work, slug)

	if _, err := runCommand(ctx, "", benchPassword+"\n", bin, "user", "add", benchUser, "--password-stdin", "--data-dir", dataDir); err != nil {
		return nil, err
	}
	out, err := runCommand(ctx, "", "", bin, "token", "create", "--user", benchUser, "--data-dir", dataDir)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(out)
	if token == "" || strings.ContainsAny(token, " \t\n") {
		return nil, fmt.Errorf("vaultdrop token create printed %q, want the token alone on one line", out)
	}

	scanArgs := []string{"--scanner", "off"}
	if clamdSocket != "" {
		scanArgs = []string{"--scanner", "clamd", "--clamd-address", clamdSocket}
	}
	// One user sends all 8 concurrent small uploads, past the default cap of
	// 4 uploads in flight per user, so the caps are raised: the benchmark
	// measures the pipeline, not the abuse limits. The API rate limit is
	// raised for the same reason.
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0",
		"--max-file-size", "2GiB", "--min-free-space", "1GiB",
		"--max-uploads-per-user", "16", "--max-uploads-per-client", "16",
		"--api-rate", "10000", "--api-burst", "10000"}, scanArgs...)
	proc, url, err := startServer(ctx, name, bin, filepath.Join(work, "logs", slug+".log"), "listening on ", args...)
	if err != nil {
		return nil, err
	}

	t := &target{name: name, server: server{baseURL: url, token: token}, proc: proc, scanned: clamdSocket != ""}
	if err := waitHealthy(ctx, c, t); err != nil {
		proc.stop()
		return nil, err
	}
	if t.scanned {
		if t.scanLimit, err = waitForProbe(ctx, proc); err != nil {
			proc.stop()
			return nil, err
		}
	}
	return t, nil
}

// probeTimeout bounds the wait for vaultdrop's measurement of the
// scanner's size limit, which streams up to --max-file-size and then half
// of it to clamd.
const probeTimeout = 3 * time.Minute

// probeLogKey starts the limit in the log line that vaultdrop writes when it
// has measured the scanner's size limit.
const probeLogKey = "scannable_limit="

// waitForProbe waits until vaultdrop has measured the largest file that
// clamd still scans, and returns that limit. The probe keeps both CPUs busy
// while it runs, and until it ends vaultdrop holds uploads over 1 MiB as
// pending, so no measurement may start before it.
//
// NOTE: vaultdrop reports the end of the probe only in its log, so this
// looks for the scannable_limit key of that line. If the line changes, the
// wait times out with an error that names the key.
func waitForProbe(ctx context.Context, p *process) (string, error) {
	deadline := time.Now().Add(probeTimeout)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(p.logPath)
		if err != nil {
			return "", fmt.Errorf("read the log of %s: %w", p.name, err)
		}
		if limit, ok := logValue(string(data), probeLogKey); ok {
			return limit, nil
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("%s logged no %s within %s, so its measurement of the scanner's size limit did not end\n%s",
		p.name, probeLogKey, probeTimeout, p.logTail())
}

// logValue returns the value after key in a slog text line, without the
// quotes slog puts around values with spaces.
func logValue(log, key string) (string, bool) {
	_, rest, found := strings.Cut(log, key)
	if !found {
		return "", false
	}
	if unquoted, ok := strings.CutPrefix(rest, `"`); ok {
		value, _, _ := strings.Cut(unquoted, `"`)
		return value, true
	}
	value, _, _ := strings.Cut(rest, " ")
	return strings.TrimSpace(value), true
}

// waitHealthy polls /healthz until the server reports itself healthy and,
// when it scans uploads, its scanner reachable.
func waitHealthy(ctx context.Context, c *client, t *target) error {
	deadline := time.Now().Add(startTimeout)
	var last string
	for time.Now().Before(deadline) {
		h, err := c.readHealth(ctx, t.server)
		if err == nil && h.Status == "ok" && (!t.scanned || h.Scanner == "ok") {
			return nil
		}
		last = fmt.Sprintf("status %q, scanner %q, error %v", h.Status, h.Scanner, err)
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s did not become healthy within %s; last /healthz: %s\n%s", t.name, startTimeout, last, t.proc.logTail())
}

// healthStatus has the fields of GET /healthz that waitHealthy checks.
type healthStatus struct {
	Status  string `json:"status"`
	Scanner string `json:"scanner"`
}

func (c *client) readHealth(ctx context.Context, s server) (healthStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := s.newRequest(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return healthStatus{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return healthStatus{}, err
	}
	defer resp.Body.Close()

	var h healthStatus
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return healthStatus{}, fmt.Errorf("decode /healthz: %w", err)
	}
	return h, nil
}

// startClamd starts a clamd for the scanned vaultdrop run, loaded with the
// two-signature test database of the clamavtest package. It returns a nil
// daemon and the reason when the run is skipped.
func startClamd(ctx context.Context, mode string, progress *progress) (*clamavtest.Daemon, string, error) {
	if mode == "off" {
		return nil, "skipped: --clamd off", nil
	}

	progress.log("starting clamd")
	// The limits match vaultdrop's --max-file-size here. According to
	// clamd.conf(5) of ClamAV 1.4, ClamAV cannot scan files over 2 GB
	// whatever MaxFileSize is set to, so vaultdrop's probe settles on 1 GiB,
	// which still covers a 1 GiB upload.
	const limit = 2 << 30
	daemon, err := clamavtest.Launch(clamavtest.Options{StreamMaxLength: limit, MaxFileSize: limit, MaxScanSize: limit})
	if errors.Is(err, clamavtest.ErrNotInstalled) && mode == "auto" {
		return nil, "skipped: clamd is not installed", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("start clamd: %w", err)
	}
	return daemon, clamdVersion(ctx), nil
}

// clamdVersion returns what clamd --version prints, such as "ClamAV 1.4.6".
func clamdVersion(ctx context.Context) string {
	path, err := exec.LookPath("clamd")
	if err != nil {
		path = "/usr/sbin/clamd" // Debian installs it outside most users' PATH
	}
	out, err := runCommand(ctx, "", "", path, "--version")
	if err != nil {
		return "clamd (version unknown)"
	}
	return strings.TrimSpace(out)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
