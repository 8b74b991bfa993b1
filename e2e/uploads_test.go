package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/scanner/clamavtest"
	"github.com/vaultdrop/vaultdrop/store"
)

var samplePDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

func samplePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		img.Set(x, x, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBrowserUploadsFiles(t *testing.T) {
	s := startServer(t, serverOptions{})
	tab := newBrowser(t, 1280, 800, 90*time.Second)
	shots := captureOnFailure(t)
	dir := t.TempDir()

	signIn(t, tab, s.URL, "alice", alicePassword)
	shots.take(tab, "files-page")

	notes := textOfSize(3*chunkSize + 12345) // four chunks
	files := []string{
		writeFile(t, dir, "notes.txt", notes),
		writeFile(t, dir, "photo.png", samplePNG(t)),
		writeFile(t, dir, "report.pdf", samplePDF),
	}
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), files))
	shots.take(tab, "upload-in-progress")

	items := waitForItems(t, tab, 45*time.Second, "three files stored", allSettled("notes.txt", "photo.png", "report.pdf"))
	shots.take(tab, "files-page")
	for _, name := range []string{"notes.txt", "photo.png", "report.pdf"} {
		item := items[name]
		if item.State != "stored" || item.Label != "Stored" {
			t.Errorf("%s: state %q, label %q; want stored: %s", name, item.State, item.Label, item.Message)
		}
		if item.Progress != 100 {
			t.Errorf("%s: progress %d, want 100", name, item.Progress)
		}
		if !strings.Contains(item.Message, "clean") {
			t.Errorf("%s: message %q does not say it scanned clean", name, item.Message)
		}
	}

	stored := storedFiles(t, s)
	for _, name := range []string{"notes.txt", "photo.png", "report.pdf"} {
		if f, ok := stored[name]; !ok || f.Status != store.StatusClean {
			t.Errorf("server has %s as %+v, want it stored clean", name, f)
		}
	}
	if got := readStored(t, s, stored["notes.txt"].ID); !bytes.Equal(got, notes) {
		t.Errorf("notes.txt stored as %d bytes that differ from the %d sent", len(got), len(notes))
	}
	if n := len(s.patches.snapshot()); n < 6 {
		t.Errorf("the files went in %d chunk requests, want 6: four of at most %d bytes for notes.txt, one each for the others", n, chunkSize)
	}

	// The list below the form shows the new files without a reload.
	for _, name := range []string{"notes.txt", "photo.png", "report.pdf"} {
		waitForText(t, tab, `table.files`, name, 5*time.Second)
	}
}

func TestBrowserRefusesInfectedFile(t *testing.T) {
	s := startServer(t, serverOptions{})
	tab := newBrowser(t, 1280, 800, 60*time.Second)
	shots := captureOnFailure(t)
	dir := t.TempDir()

	signIn(t, tab, s.URL, "alice", alicePassword)
	path := writeFile(t, dir, "eicar.txt", scanner.EICAR())
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path}))

	items := waitForItems(t, tab, 30*time.Second, "the EICAR file refused", allSettled("eicar.txt"))
	shots.take(tab, "files-page")
	item := items["eicar.txt"]
	if item.State != "rejected" || item.Label != "Infected" {
		t.Errorf("state %q, label %q; want rejected and Infected", item.State, item.Label)
	}
	if !strings.Contains(item.Message, clamavtest.EICARSignature) {
		t.Errorf("message %q does not name %s", item.Message, clamavtest.EICARSignature)
	}
	if n := len(storedFiles(t, s)); n != 0 {
		t.Errorf("server stored %d files, want none", n)
	}
	if n, err := s.Vault.CountIncoming(); err != nil || n != 0 {
		t.Errorf("vault/incoming holds %d files (%v), want 0", n, err)
	}

	announced, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[aria-live]').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(announced, "eicar.txt") || !strings.Contains(announced, clamavtest.EICARSignature) {
		t.Errorf("screen readers were told %q, want the file and the signature", announced)
	}
}

func TestBrowserChecksBeforeSending(t *testing.T) {
	s := startServer(t, serverOptions{})
	tab := newBrowser(t, 1280, 800, 60*time.Second)
	dir := t.TempDir()

	signIn(t, tab, s.URL, "alice", alicePassword)
	path := writeFile(t, dir, "setup.exe", []byte("MZ not really a program"))
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path}))

	items := waitForItems(t, tab, 10*time.Second, "setup.exe refused by the page", allSettled("setup.exe"))
	if item := items["setup.exe"]; item.State != "rejected" || !strings.Contains(item.Message, ".exe") {
		t.Errorf("state %q, message %q; want rejected naming .exe", item.State, item.Message)
	}
	if n := len(s.patches.snapshot()); n != 0 {
		t.Errorf("the page sent %d chunks of a file it should not send", n)
	}
}

func TestBrowserUploadResumesAfterReload(t *testing.T) {
	// About 2 MiB/s, so the 6 MiB file takes 3 seconds.
	s := startServer(t, serverOptions{throttle: 2 << 20})
	tab := newBrowser(t, 1280, 800, 90*time.Second)
	shots := captureOnFailure(t)
	dir := t.TempDir()

	signIn(t, tab, s.URL, "alice", alicePassword)
	content := textOfSize(6*chunkSize + 777)
	path := writeFile(t, dir, "big.txt", content)
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path}))

	// Reload the page once the server holds about half of the file.
	waitForReceived(t, s, int64(len(content)/2), 30*time.Second)
	shots.take(tab, "upload-in-progress")
	do(t, tab, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`form.upload-form.enhanced`)))
	interrupted := len(s.patches.snapshot())

	waitForText(t, tab, `.upload-resume`, "big.txt", 5*time.Second)
	shots.take(tab, "files-page")

	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path}))
	if notes, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.upload-resume').length`)); err != nil || notes != 0 {
		t.Errorf("the note about the interrupted upload is still shown (%d, %v) after the file was chosen again", notes, err)
	}
	items := waitForItems(t, tab, 45*time.Second, "big.txt stored after resuming", allSettled("big.txt"))
	if item := items["big.txt"]; item.State != "stored" || item.Progress != 100 {
		t.Fatalf("state %q, progress %d; want stored at 100: %s", item.State, item.Progress, item.Message)
	}

	patches := s.patches.snapshot()
	if len(patches) <= interrupted {
		t.Fatal("no chunk arrived after the reload")
	}
	var readBefore int64
	for _, p := range patches[:interrupted] {
		readBefore += p.read
	}
	if resumed := patches[interrupted].offset; resumed == 0 || resumed != readBefore {
		t.Errorf("the first chunk after the reload started at byte %d, want %d, where the bytes read before the reload end", resumed, readBefore)
	}
	if total := s.patches.received(); total != int64(len(content)) {
		t.Errorf("the server read %d bytes in all, want each of the %d bytes once", total, len(content))
	}

	stored := storedFiles(t, s)
	if got := readStored(t, s, stored["big.txt"].ID); sha256.Sum256(got) != sha256.Sum256(content) {
		t.Errorf("stored file differs from the one sent: %d bytes, want %d", len(got), len(content))
	}
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`Object.keys(localStorage).filter(k => k.startsWith('tus::')).length`)); err != nil || n != 0 {
		t.Errorf("localStorage keeps %d resumable upload entries (%v) after the upload finished, want 0", n, err)
	}
}

// waitForReceived waits until the server read at least n bytes of chunks.
func waitForReceived(t *testing.T, s *server, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for s.patches.received() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server read %d bytes of chunks in %s, want %d", s.patches.received(), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForText waits until the element matching selector contains text.
func waitForText(t *testing.T, tab context.Context, selector, text string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, timeout)
	defer cancel()
	script := `(() => { const el = document.querySelector(` + jsString(selector) + `); return !!el && el.textContent.includes(` + jsString(text) + `); })()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](script, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		page, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		t.Fatalf("waited %s for %q in %s: %v; the page shows:\n%s", timeout, text, selector, err, page)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// storedFiles returns alice's files by name.
func storedFiles(t *testing.T, s *server) map[string]store.File {
	t.Helper()
	files, err := s.Store.ListFiles(context.Background(), s.Alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]store.File{}
	for _, f := range files {
		byName[f.Name] = f
	}
	return byName
}

func readStored(t *testing.T, s *server, id string) []byte {
	t.Helper()
	f, err := s.Vault.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
