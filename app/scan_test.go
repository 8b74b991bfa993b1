package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
	"github.com/vaultdrop/vaultdrop/store"
)

// sharedClamd is one real clamd for the scanning tests of this package;
// tests that kill or reconfigure clamd start their own.
var sharedClamd = &clamavtest.Shared{Options: clamavtest.Options{AlertEncrypted: true}}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedClamd.Stop()
	os.Exit(code)
}

func clamdScanner(d *clamavtest.Daemon) scanner.Scanner {
	return scanner.NewClamd(scanner.ClamdConfig{Address: d.SocketPath, ScanTimeout: 30 * time.Second})
}

// gifWithZip is a GIF header followed by a zip: a polyglot whose threat
// sits past the bytes the sniffer reads.
//
// NOTE: ClamAV 1.4 finds the zip after this minimal GIF, but not after a GIF
// with a full image block; the scan covers every byte, and what the engine
// recognises inside is ClamAV's part.
func gifWithZip(payload []byte) []byte {
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	return append(gif, clamavtest.Zip("inside.txt", payload)...)
}

func TestScanCleanFileStored(t *testing.T) {
	d := sharedClamd.Daemon(t)
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})

	resp, body := e.upload(e.AliceToken, "report.pdf", samplePDF)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)
	if f.Status != "clean" {
		t.Errorf("status = %q, want clean", f.Status)
	}
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("download status = %d, want 200", resp.StatusCode)
	}

	stored, err := e.Store.FileByID(context.Background(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Scan.Engine == "" || stored.Scan.ScannedAt.IsZero() {
		t.Errorf("verdict without engine version or time: %+v", stored.Scan)
	}
}

func TestScanInfectedRefused(t *testing.T) {
	d := sharedClamd.Daemon(t)
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})
	eicar := clamavtest.EICAR()

	cases := []struct {
		name      string
		fileName  string
		content   []byte
		signature string
	}{
		{name: "eicar", fileName: "eicar.txt", content: eicar, signature: clamavtest.EICARSignature},
		{name: "eicar in zip", fileName: "archive.zip", content: clamavtest.Zip("eicar.com", eicar), signature: clamavtest.EICARSignature},
		{name: "marker", fileName: "notes.txt", content: []byte("before " + clamavtest.Marker + " after\n"), signature: clamavtest.MarkerSignature},
		{name: "zip after gif", fileName: "holiday.gif", content: gifWithZip(eicar), signature: clamavtest.EICARSignature},
		{name: "eicar past the first chunk", fileName: "long.txt", content: append([]byte(strings.Repeat("padding line\n", 200000)), eicar...), signature: clamavtest.EICARSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := e.upload(e.AliceToken, tc.fileName, tc.content)

			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422: %s", resp.StatusCode, body)
			}
			assertErrorCode(t, body, "infected")
			if !strings.Contains(string(body), tc.signature) {
				t.Errorf("message does not name %s: %s", tc.signature, body)
			}
			e.assertNothingStored(before)
			assertAudited(t, e, "upload", tc.signature)
		})
	}
}

// assertAudited checks that the newest audit event of action mentions text.
func assertAudited(t *testing.T, e *testEnv, action, text string) {
	t.Helper()
	events, err := e.Store.AuditEvents(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Action == action && strings.Contains(ev.Detail, text) {
			return
		}
	}
	t.Errorf("no %s audit event mentions %q", action, text)
}

func TestScanUnscannableRefused(t *testing.T) {
	d := clamavtest.Start(t, clamavtest.Options{StreamMaxLength: 1 << 20, MaxFileSize: 1 << 20, AlertEncrypted: true})
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})

	cases := []struct {
		name     string
		fileName string
		content  []byte
		want     string
	}{
		{name: "over stream limit", fileName: "big.txt", content: []byte(strings.Repeat("a", 2<<20)), want: "StreamMaxLength"},
		{name: "encrypted zip", fileName: "secret.zip", content: clamavtest.EncryptedZip(), want: "encrypted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := e.upload(e.AliceToken, tc.fileName, tc.content)

			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422: %s", resp.StatusCode, body)
			}
			assertErrorCode(t, body, "unscannable")
			if !strings.Contains(strings.ToLower(string(body)), strings.ToLower(tc.want)) {
				t.Errorf("message does not say why (%s): %s", tc.want, body)
			}
			e.assertNothingStored(before)
		})
	}
}

func TestScannerOutageHoldsFilePending(t *testing.T) {
	d := clamavtest.Start(t, clamavtest.Options{})
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})
	d.Kill()

	resp, body := e.upload(e.AliceToken, "report.pdf", samplePDF)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload with clamd down: status = %d, want 202: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)
	if f.Status != "pending" {
		t.Errorf("status = %q, want pending", f.Status)
	}

	resp, body = e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("download of a pending file: status = %d, want 409", resp.StatusCode)
	}
	assertErrorCode(t, body, "not_scanned")
	if _, err := e.Vault.Open(f.ID); err == nil {
		t.Error("pending bytes are in the served vault, want quarantine")
	}

	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	left, err := e.Server.RetryPendingNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d files still pending after clamd came back", left)
	}

	resp, got := e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusOK || string(got) != string(samplePDF) {
		t.Errorf("download after the retry: status = %d", resp.StatusCode)
	}
	stored, _ := e.Store.FileByID(context.Background(), f.ID)
	if stored.Status != store.StatusClean {
		t.Errorf("status after retry = %q, want clean", stored.Status)
	}
}

func TestPendingInfectedSettledWithoutBytes(t *testing.T) {
	d := clamavtest.Start(t, clamavtest.Options{})
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})
	d.Kill()

	resp, body := e.upload(e.AliceToken, "eicar.txt", clamavtest.EICAR())
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)

	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Server.RetryPendingNow(context.Background()); err != nil {
		t.Fatal(err)
	}

	stored, _ := e.Store.FileByID(context.Background(), f.ID)
	if stored.Status != store.StatusInfected {
		t.Errorf("status = %q, want infected", stored.Status)
	}
	if stored.Scan.Signature != clamavtest.EICARSignature {
		t.Errorf("signature = %q", stored.Scan.Signature)
	}
	resp, body = e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("download of an infected file: status = %d, want 409", resp.StatusCode)
	}
	assertErrorCode(t, body, "infected")
	if n := len(e.snapshot().files); n != 0 {
		t.Errorf("vault holds %d files after an infected verdict, want 0", n)
	}
}

func TestNoScannerHoldsUploadsAndShowsBanner(t *testing.T) {
	e := newEnv(t, envOptions{scanOn: true})

	resp, body := e.upload(e.AliceToken, "notes.txt", []byte("hello\n"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)
	if resp, _ := e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("download: status = %d, want 409", resp.StatusCode)
	}

	b := e.browser()
	e.login(b, "alice", alicePassword)
	page, err := b.Get(e.URL + "/files")
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	buf := new(strings.Builder)
	if _, err := copyLimited(buf, page); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if !strings.Contains(html, "No virus scanner is available") {
		t.Error("Files page has no scanner banner")
	}
	if !strings.Contains(html, "waiting for virus scan") {
		t.Error("pending file is not labelled as waiting for virus scan")
	}

	_, health := e.request(http.MethodGet, "/healthz", "", nil, nil)
	if !strings.Contains(string(health), `"scanner":"unavailable"`) {
		t.Errorf("health = %s, want scanner unavailable", health)
	}
}

func TestClamscanVerdicts(t *testing.T) {
	d := sharedClamd.Daemon(t)
	cs := scanner.NewClamscan(scanner.ClamscanConfig{DatabaseDir: d.DatabaseDir, Timeout: time.Minute})
	e := newEnv(t, envOptions{scanOn: true, scanner: cs})

	resp, body := e.upload(e.AliceToken, "report.pdf", samplePDF)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("clean: status = %d, want 201: %s", resp.StatusCode, body)
	}

	before := e.snapshot()
	resp, body = e.upload(e.AliceToken, "eicar.txt", clamavtest.EICAR())
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("infected: status = %d, want 422: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "infected")
	e.assertNothingStored(before)

	broken := scanner.NewClamscan(scanner.ClamscanConfig{DatabaseDir: t.TempDir() + "/missing", Timeout: time.Minute})
	e.Scanning.Set(broken, scanner.Version{})
	resp, body = e.upload(e.AliceToken, "later.txt", []byte("scan me later\n"))
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("clamscan error: status = %d, want 202: %s", resp.StatusCode, body)
	}
}

func TestScanWaitExceededAnswersPending(t *testing.T) {
	d := sharedClamd.Daemon(t)
	slow := &slowScanner{Scanner: clamdScanner(d), delay: 600 * time.Millisecond}
	e := newEnv(t, envOptions{scanOn: true, scanner: slow, configure: func(c *config.Config) { c.ScanWait = 100 * time.Millisecond }})

	resp, body := e.upload(e.AliceToken, "report.pdf", samplePDF)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)

	// The scan goes on in the background and settles the file.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stored, _ := e.Store.FileByID(context.Background(), f.ID)
		if stored.Status == store.StatusClean {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("file did not turn clean after the late verdict")
}

// slowScanner delays a real scanner's verdict, which a real clamd cannot be
// made to do on demand.
type slowScanner struct {
	scanner.Scanner
	delay time.Duration
}

func (s *slowScanner) Scan(ctx context.Context, r ioReader) (scanner.Result, error) {
	res, err := s.Scanner.Scan(ctx, r)
	time.Sleep(s.delay)
	return res, err
}

func TestProbedLimitRefusesLargerFiles(t *testing.T) {
	// clamd reads streams up to 8 MiB but judges files only up to 1 MiB,
	// answering OK for larger ones without scanning them.
	d := clamavtest.Start(t, clamavtest.Options{StreamMaxLength: 8 << 20, MaxFileSize: 1 << 20, MaxScanSize: 1 << 20, QuietExceedsMax: true})
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d), unprobed: true,
		configure: func(c *config.Config) { c.MaxFileSize = 8 << 20 }})
	large := []byte(strings.Repeat("line of text\n", (2<<20)/13))

	resp, body := e.upload(e.AliceToken, "before-probe.txt", large)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("large upload before the probe: status = %d, want 202: %s", resp.StatusCode, body)
	}
	if resp, body := e.upload(e.AliceToken, "small.txt", []byte("small\n")); resp.StatusCode != http.StatusCreated {
		t.Errorf("small upload before the probe: status = %d, want 201: %s", resp.StatusCode, body)
	}

	if err := e.Server.ProbeScannerLimit(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Halving from 8 MiB gives a lower bound; clamd also counts the probe
	// archive's unpacked entries against MaxScanSize.
	if got := e.Scanning.Limit(); got < 256<<10 || got > 1<<20 {
		t.Errorf("measured limit = %d, want between 256 KiB and 1 MiB", got)
	}

	before := e.snapshot()
	resp, body = e.upload(e.AliceToken, "after-probe.txt", large)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("large upload after the probe: status = %d, want 422: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "unscannable")
	if !strings.Contains(string(body), "MaxFileSize") {
		t.Errorf("message does not name the clamd.conf setting: %s", body)
	}
	e.assertNothingStored(before)

	// The file held before the probe is settled as unscannable, not clean.
	if _, err := e.Server.RetryPendingNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := e.Store.ListFiles(context.Background(), e.Alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == "before-probe.txt" && f.Status != store.StatusUnscannable {
			t.Errorf("file held before the probe: status = %q, want unscannable", f.Status)
		}
	}
}

// blindScanner models signatures that do not know a threat yet: it reads
// the whole stream and calls everything clean.
type blindScanner struct{ scanner.Scanner }

func (blindScanner) Scan(_ context.Context, r ioReader) (scanner.Result, error) {
	_, err := io.Copy(io.Discard, r)
	return scanner.Result{Verdict: scanner.Clean}, err
}

func TestRescanQuarantinesNewlyDetectedFile(t *testing.T) {
	d := sharedClamd.Daemon(t)
	real := clamdScanner(d)
	e := newEnv(t, envOptions{scanOn: true, scanner: blindScanner{real}})

	resp, body := e.upload(e.AliceToken, "eicar.txt", clamavtest.EICAR())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload with old signatures: status = %d: %s", resp.StatusCode, body)
	}
	f := decodeFile(t, body)

	e.Scanning.Set(real, scanner.Version{Engine: "test"})
	e.Scanning.SetLimit(20 << 20)
	b := e.browser()
	e.login(b, "alice", alicePassword)
	resp2, err := b.Post(e.URL+"/admin/scanner/rescan", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusSeeOther {
		t.Fatalf("rescan: status = %d, want 303", resp2.StatusCode)
	}

	stored, _ := e.Store.FileByID(context.Background(), f.ID)
	if stored.Status != store.StatusInfected {
		t.Errorf("status after rescan = %q, want infected", stored.Status)
	}
	resp, body = e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("download after rescan: status = %d, want 409", resp.StatusCode)
	}
	assertErrorCode(t, body, "infected")
	if _, err := e.Vault.Open(f.ID); err == nil {
		t.Error("infected bytes are still in the served vault")
	}
	assertAudited(t, e, "rescan", clamavtest.EICARSignature)
}

func TestAdminScannerTest(t *testing.T) {
	d := sharedClamd.Daemon(t)
	e := newEnv(t, envOptions{scanOn: true, scanner: clamdScanner(d)})
	b := e.browser()
	e.login(b, "alice", alicePassword)

	resp, err := b.Post(e.URL+"/admin/scanner/test", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	page := new(strings.Builder)
	copyLimited(page, resp)
	resp.Body.Close()
	if !strings.Contains(page.String(), "The scanner works: it found "+clamavtest.EICARSignature) {
		t.Errorf("test result missing from the admin page")
	}

	// Admin pages are invisible to other users.
	bob := e.browser()
	e.login(bob, "bob", bobPassword)
	resp, err = bob.Get(e.URL + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("admin page for a non-admin: status = %d, want 404", resp.StatusCode)
	}
}
