package hostile

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// requireBrowserEnv makes a missing Chromium a test failure instead of a
// skip, for CI machines that must run the browser tests.
const requireBrowserEnv = "VAULTDROP_TEST_REQUIRE_BROWSER"

// newChromium starts a headless Chromium with a fresh profile and returns
// a tab in it. It skips the test when Chromium is not installed, unless
// requireBrowserEnv is 1.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "Chromium is not installed: install Debian's chromium package (apt-get install chromium) to run the browser tests"
		if os.Getenv(requireBrowserEnv) == "1" {
			t.Fatal(msg + "; " + requireBrowserEnv + "=1 requires them")
		}
		t.Skip(msg)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 2*time.Minute)
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

// scriptWatch counts the JavaScript dialogs a tab opens, closing each, and
// the Content Security Policy violations it logs.
type scriptWatch struct {
	dialogs    atomic.Int64
	violations atomic.Int64
}

func watchScripts(t *testing.T, tab context.Context) *scriptWatch {
	t.Helper()
	w := &scriptWatch{}
	dialogs := chromedp.Events(tab, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			w.dialogs.Add(1)
			t.Logf("dialog opened: %q", ev.Message)
			chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	entries := chromedp.Events(tab, log.EntryAdded)
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				w.violations.Add(1)
				t.Logf("CSP violation: %s", ev.Entry.Text)
			}
		}
	}()
	return w
}

func browse(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
}

// signInChromium signs alice in through the sign-in form.
func signInChromium(t *testing.T, tab context.Context, s *server) {
	t.Helper()
	browse(t, tab,
		chromedp.Navigate(s.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), alicePassword),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.upload-form`)),
	)
}

func TestMarkupInNamesInChromium(t *testing.T) {
	t.Parallel()
	tab := newChromium(t)
	s := startServer(t, serverOptions{})
	var ids []string
	for _, name := range []string{
		"<img src=x onerror=alert(document.domain)>.txt", "<svg onload=alert(1)>.txt",
		`\"><img src=x onerror=alert(2)>.txt`, "'-alert(3)-'.txt",
	} {
		ids = append(ids, mustStore(t, s.upload(t, name, plainText)).ID)
	}
	s.upload(t, "<img src=x onerror=alert(4)>.exe", plainText)

	pages := []string{"/files", "/admin"}
	if s.apiBuilt(t, "/api/v1/shares") {
		pages = append(pages, s.createShare(t, shareFiles(ids...)).Path, "/shares")
	}
	if s.apiBuilt(t, "/api/v1/drops") {
		pages = append(pages, s.createDrop(t, `{"label":"<svg onload=alert(5)>"}`).Path, "/drops")
	}

	watch := watchScripts(t, tab)
	signInChromium(t, tab, s)
	for _, p := range pages {
		browse(t, tab, chromedp.Navigate(s.URL+p), chromedp.WaitReady(chromedp.CSS(`body`)))
		time.Sleep(300 * time.Millisecond)
	}
	if n := watch.dialogs.Load(); n > 0 {
		t.Errorf("%d dialogs opened on pages that show hostile names", n)
	}
	if n := watch.violations.Load(); n > 0 {
		t.Errorf("%d Content Security Policy violations on pages that show hostile names", n)
	}
}

// attackPage is a page on another origin that tries to change alice's data
// on the vaultdrop at %[1]s with her cookie, as a malicious site would.
// %[2]s is one of her file ids.
const attackPage = `<!DOCTYPE html><html><body><script>
const base = %[1]q, fileID = %[2]q;
const opts = {method: "POST", mode: "no-cors", credentials: "include"};
function form() {
	const fd = new FormData();
	fd.append("file", new Blob(["owned\n"]), "csrf.txt");
	return fd;
}
async function attack() {
	const sends = [
		[base + "/api/v1/files", {...opts, body: form()}],
		[base + "/files", {...opts, body: form()}],
		[base + "/api/v1/shares", {...opts, headers: {"Content-Type": "text/plain"}, body: JSON.stringify({file_ids: [fileID]})}],
		[base + "/api/v1/drops", {...opts, headers: {"Content-Type": "text/plain"}, body: JSON.stringify({label: "csrf"})}],
		[base + "/files/" + fileID + "/delete", {...opts, headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "x=1"}],
		[base + "/logout", {...opts, headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "x=1"}],
	];
	for (const [url, init] of sends) {
		await fetch(url, init).catch(() => {});
	}
	document.title = "done";
}
attack();
</script></body></html>`

func TestCrossSiteRequestsInChromium(t *testing.T) {
	t.Parallel()
	tab := newChromium(t)
	s := startServer(t, serverOptions{})
	f := mustStore(t, s.upload(t, "h33.pdf", minPDF))

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, attackPage, s.URL, f.ID)
	}))
	t.Cleanup(attacker.Close)
	port := attacker.URL[strings.LastIndexByte(attacker.URL, ':')+1:]

	signInChromium(t, tab, s)
	before := s.snapshot(t)
	// 127.0.0.1 on another port is the same site but another origin, so
	// the SameSite=Lax cookie is sent; localhost is another site.
	for _, origin := range []string{attacker.URL, "http://localhost:" + port} {
		var title string
		browse(t, tab, chromedp.Navigate(origin+"/attack"))
		ok := waitFor(20*time.Second, func() bool {
			title, _ = chromedp.Run(tab, chromedp.Title())
			return title == "done"
		})
		if !ok {
			t.Fatalf("the attack page from %s did not finish; title %q", origin, title)
		}
	}
	s.assertNothingStored(t, before)

	// The requests reached the server and were refused there.
	refused := 0
	for _, record := range s.log.records() {
		if record["msg"] == "request" && record["status"] == float64(http.StatusForbidden) {
			refused++
		}
	}
	if refused < 10 {
		t.Errorf("the server refused %d requests with 403, want the attack pages' 12", refused)
	}
	if dl := s.download(t, f.ID); dl.Status != http.StatusOK {
		t.Errorf("alice's file after the attack: status %d, want 200", dl.Status)
	}
	browse(t, tab, chromedp.Navigate(s.URL+"/files"))
	location, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(location, "/files") {
		t.Errorf("after the attack alice's browser lands on %s, so the attack signed her out", location)
	}
}
