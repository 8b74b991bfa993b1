package e2e

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

func TestBrowserShareAndDropLinks(t *testing.T) {
	s := startServer(t, serverOptions{})
	tab := newBrowser(t, 1280, 800, 120*time.Second)
	shots := captureOnFailure(t)
	dir := t.TempDir()

	signIn(t, tab, s.URL, "alice", alicePassword)
	notes := textOfSize(chunkSize + 100)
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{writeFile(t, dir, "notes.txt", notes)}))
	waitForItems(t, tab, 30*time.Second, "notes.txt stored", allSettled("notes.txt"))
	waitForText(t, tab, `table.files`, "notes.txt", 5*time.Second)
	shots.take(tab, "files-page")

	t.Run("share link", func(t *testing.T) {
		shareURL := createLink(t, tab,
			chromedp.Click(chromedp.CSS(`a[aria-label="Share notes.txt"]`)),
			chromedp.Click(chromedp.CSS(`form[action="/shares"] button[type="submit"]`)),
		)

		stranger := newIncognito(t, tab)
		downloads := t.TempDir()
		allow := true
		_, err := chromedp.CallBrowser(stranger, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &allow,
			BrowserContextID: chromedp.FromContext(stranger).BrowserContextID,
		})
		if err != nil {
			t.Fatal(err)
		}
		do(t, stranger, chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.CSS(`a[aria-label="Download notes.txt"]`)))
		shots.take(stranger, "share-page")
		do(t, stranger, chromedp.Click(chromedp.CSS(`a[aria-label="Download notes.txt"]`)))

		got := waitForDownload(t, filepath.Join(downloads, "notes.txt"), 20*time.Second)
		if !bytes.Equal(got, notes) {
			t.Errorf("downloaded %d bytes that differ from the %d uploaded", len(got), len(notes))
		}
	})

	t.Run("drop link", func(t *testing.T) {
		dropURL := createLink(t, tab,
			chromedp.Navigate(s.URL+"/drops"),
			chromedp.SendKeys(chromedp.CSS(`#drop-label`), "Invoices"),
			chromedp.Click(chromedp.CSS(`form[action="/drops"] button[type="submit"]`)),
		)

		stranger := newIncognito(t, tab)
		do(t, stranger,
			chromedp.Navigate(dropURL),
			chromedp.WaitVisible(chromedp.CSS(`form.upload-form.enhanced`)),
			chromedp.SendKeys(chromedp.CSS(`#uploader-name`), "Carol"),
			chromedp.SetUploadFiles(chromedp.CSS(`#drop-file`), []string{writeFile(t, dir, "invoice.pdf", samplePDF)}),
		)
		items := waitForItems(t, stranger, 30*time.Second, "invoice.pdf stored", allSettled("invoice.pdf"))
		shots.take(stranger, "drop-page")
		if item := items["invoice.pdf"]; item.State != "stored" {
			t.Fatalf("state %q, want stored: %s", item.State, item.Message)
		}
		waitForText(t, stranger, `section[aria-labelledby="sent-title"]`, "invoice.pdf", 5*time.Second)

		drops, err := s.Store.ListDrops(context.Background(), s.Alice.ID)
		if err != nil || len(drops) != 1 {
			t.Fatalf("alice's drops = %v, %v; want one", drops, err)
		}
		arrived, err := s.Store.DropFiles(context.Background(), drops[0].ID)
		if err != nil || len(arrived) != 1 {
			t.Fatalf("files of the drop = %v, %v; want one", arrived, err)
		}
		if f := arrived[0]; f.Name != "invoice.pdf" || f.Upload.UploaderName != "Carol" || f.OwnerID != s.Alice.ID {
			t.Errorf("drop file = %+v, want invoice.pdf from Carol in alice's files", f)
		}
	})
}

// createLink runs steps that end on the "link created" page and returns
// the link shown there.
func createLink(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) string {
	t.Helper()
	do(t, tab, append(steps, chromedp.WaitVisible(chromedp.CSS(`#link-url`)))...)
	link, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#link-url`)))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// waitForDownload waits until Chromium finished writing path and returns
// its content.
func waitForDownload(t *testing.T, path string, timeout time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			return data
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			t.Fatalf("no %s after %s; the download folder holds %v", filepath.Base(path), timeout, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
