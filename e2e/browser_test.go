package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// requireBrowserEnv makes a missing Chromium a test failure instead of a
// skip, for CI machines that must run these tests.
const requireBrowserEnv = "VAULTDROP_TEST_REQUIRE_BROWSER"

// chromiumPath finds Chromium, or skips the test (fails it under
// requireBrowserEnv) when it is not installed.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "Chromium is not installed: install Debian's chromium package (apt-get install chromium) to run the browser tests"
	if os.Getenv(requireBrowserEnv) == "1" {
		t.Fatal(msg + "; " + requireBrowserEnv + "=1 requires them")
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and a window
// of width by height, and returns a tab in it. Everything stops when the
// test ends or after timeout.
func newBrowser(t *testing.T, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(width, height),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancelTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)

	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tab
}

// newIncognito opens a tab in a second browser context of the same
// Chromium: no cookies or storage shared with the first.
func newIncognito(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a second browser context: %v", err)
	}
	return tab
}

func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
}

// signIn signs in through the login form and waits for the Files page.
func signIn(t *testing.T, tab context.Context, baseURL, username, password string) {
	t.Helper()
	do(t, tab,
		chromedp.Navigate(baseURL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`#username`), username),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.upload-form.enhanced`)),
	)
}

// uploadItem is one row of upload.js's list as the page shows it.
type uploadItem struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Progress int    `json:"progress"`
	Label    string `json:"label"`
	Message  string `json:"message"`
	Numbers  string `json:"numbers"`
	FileID   string `json:"fileID"`
}

const readItems = `Array.from(document.querySelectorAll('.upload-item')).map(li => ({
	name: li.dataset.fileName,
	state: li.dataset.state,
	progress: li.querySelector('progress').value,
	label: li.querySelector('.status').textContent,
	message: li.querySelector('.why').textContent,
	numbers: li.querySelector('.upload-numbers').textContent,
	fileID: li.dataset.fileId || ''
}))`

func uploadItems(t *testing.T, tab context.Context) map[string]uploadItem {
	t.Helper()
	list, err := chromedp.Run(tab, chromedp.Evaluate[[]uploadItem](readItems))
	if err != nil {
		t.Fatalf("read the upload list: %v", err)
	}
	items := map[string]uploadItem{}
	for _, item := range list {
		items[item.Name] = item
	}
	return items
}

// waitForItems polls the upload list until done returns true, and fails
// with the list as it was after timeout.
func waitForItems(t *testing.T, tab context.Context, timeout time.Duration, what string, done func(map[string]uploadItem) bool) map[string]uploadItem {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		items := uploadItems(t, tab)
		if done(items) {
			return items
		}
		if time.Now().After(deadline) {
			state, _ := json.MarshalIndent(items, "", "  ")
			t.Fatalf("waited %s for %s; the upload list shows:\n%s", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allSettled reports whether every named file reached a final state.
func allSettled(names ...string) func(map[string]uploadItem) bool {
	return func(items map[string]uploadItem) bool {
		for _, name := range names {
			switch items[name].State {
			case "stored", "rejected":
			default:
				return false
			}
		}
		return true
	}
}

// screenshots saves pages as PNG files when the test fails. take captures
// a page at the moment the test calls it, because a failure may leave the
// tab elsewhere, and save writes the captures after a failure.
type screenshots struct {
	t     *testing.T
	shots map[string][]byte
}

func captureOnFailure(t *testing.T) *screenshots {
	s := &screenshots{t: t, shots: map[string][]byte{}}
	t.Cleanup(s.save)
	return s
}

// take captures the tab now under name, such as "files-page".
func (s *screenshots) take(tab context.Context, name string) {
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return
	}
	s.shots[name] = png
}

func (s *screenshots) save() {
	if !s.t.Failed() || len(s.shots) == 0 {
		return
	}
	dir := s.t.ArtifactDir()
	var names []string
	for name, png := range s.shots {
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			s.t.Logf("save screenshot: %v", err)
			continue
		}
		names = append(names, path)
	}
	s.t.Logf("screenshots (kept after the run with go test -artifacts): %s", strings.Join(names, ", "))
}

// writeFile writes content to a new file named name in dir and returns
// its path.
func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// textOfSize returns n bytes of readable text.
func textOfSize(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %07d of a plain text file sent through the browser\n", i)
	}
	return []byte(b.String()[:n])
}
