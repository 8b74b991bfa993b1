package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/vaultdrop/vaultdrop/scanner"
)

// screenshotsEnv names a folder. When it is set, TestScreenshots saves
// screenshots of the Files page there, during and after an upload, on a
// phone-sized and a desktop window, for people to look at.
const screenshotsEnv = "VAULTDROP_TEST_SCREENSHOTS"

func TestScreenshots(t *testing.T) {
	out := os.Getenv(screenshotsEnv)
	if out == "" {
		t.Skip("set " + screenshotsEnv + " to a folder to save screenshots of the Files page")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, size := range []struct {
		name          string
		width, height int
		dark          bool
	}{
		{"phone", 390, 844, false},
		{"phone-dark", 390, 844, true},
		{"desktop", 1280, 800, false},
	} {
		t.Run(size.name, func(t *testing.T) {
			s := startServer(t, serverOptions{throttle: 1 << 20})
			tab := newBrowser(t, size.width, size.height, 90*time.Second)
			dir := t.TempDir()
			signIn(t, tab, s.URL, "alice", alicePassword)
			do(t, tab, chromedp.EmulateViewport(int64(size.width), int64(size.height)))
			if size.dark {
				scheme := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}
				if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: scheme}); err != nil {
					t.Fatal(err)
				}
			}

			files := []string{
				writeFile(t, dir, "quarterly report with a rather long name, final version (2).txt", textOfSize(5*chunkSize)),
				writeFile(t, dir, "photo.png", samplePNG(t)),
				writeFile(t, dir, "eicar.txt", scanner.EICAR()),
				writeFile(t, dir, "setup.exe", []byte("MZ")),
			}
			do(t, tab, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), files))
			waitForReceived(t, s, 2*chunkSize, 30*time.Second)
			save(t, tab, filepath.Join(out, size.name+"-uploading.png"))

			waitForItems(t, tab, 60*time.Second, "every file settled", allSettled("photo.png", "eicar.txt", "setup.exe",
				"quarterly report with a rather long name, final version (2).txt"))
			time.Sleep(time.Second) // the file list refreshes after the last verdict
			save(t, tab, filepath.Join(out, size.name+"-done.png"))
		})
	}
}

func save(t *testing.T, tab context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("saved", path)
}
