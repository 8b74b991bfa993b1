package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vaultdrop/vaultdrop/app/config"
)

func TestResumableUploadChunkNeedsDiskSpace(t *testing.T) {
	dataDisk := t.TempDir() // on the same file system as the test's data directory
	var st syscall.Statfs_t
	if err := syscall.Statfs(dataDisk, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < 2<<30 {
		t.Skipf("needs 2 GiB free on %s, has %d bytes", dataDisk, free)
	}
	// The reserve leaves 256 MiB for uploads, so creating a 1 MiB upload
	// passes, and a 1 GiB file written afterwards takes the room away.
	e := newEnv(t, envOptions{configure: func(c *config.Config) { c.MinFreeSpace = config.Size(free - 256<<20) }})
	resp, body := e.createUpload(e.AliceToken, "notes.txt", 1<<20)
	if resp.StatusCode == http.StatusInsufficientStorage {
		t.Skip("other processes filled the disk by more than 254 MiB while the test started; run it on a quieter disk")
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create upload: status %d, want 201: %s", resp.StatusCode, body)
	}
	location := resp.Header.Get("Location")
	before := e.snapshot()

	filler, err := os.Create(filepath.Join(dataDisk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	if err := unix.Fallocate(int(filler.Fd()), 0, 0, 1<<30); err != nil {
		t.Skipf("fallocate: %v", err)
	}

	resp, body = e.patchUpload(e.AliceToken, location, 0, []byte(strings.Repeat("a", 1<<20)))
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("status %d, want 507: %s", resp.StatusCode, body)
	}
	if code := errorCode(t, body); code != "insufficient_storage" {
		t.Errorf("code %q, want insufficient_storage", code)
	}
	e.assertNothingStored(before)
	if resp, _ := e.request(http.MethodHead, location, e.AliceToken, nil, tusHeader()); resp.Header.Get("Upload-Offset") != "0" {
		t.Errorf("offset after the refused chunk = %q, want 0", resp.Header.Get("Upload-Offset"))
	}

	// With the room back the same chunk finishes the upload.
	filler.Close()
	if err := os.Remove(filler.Name()); err != nil {
		t.Fatal(err)
	}
	resp, body = e.patchUpload(e.AliceToken, location, 0, []byte(strings.Repeat("a", 1<<20)))
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("after freeing space: status %d, want 204: %s", resp.StatusCode, body)
	}
}

// TestResumableUploadMovedNotCopied checks that a finished resumable
// upload becomes the stored file by a rename: the vault file is the same
// inode that tusd wrote, so the upload never needs its size twice on disk.
func TestResumableUploadMovedNotCopied(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := []byte(strings.Repeat("resumable line of text\n", 20_000))
	half := int64(len(content) / 2)
	location := e.mustCreateUpload(e.AliceToken, "moved.txt", int64(len(content)))

	if resp, body := e.patchUpload(e.AliceToken, location, 0, content[:half]); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first chunk: status %d, want 204: %s", resp.StatusCode, body)
	}
	partial := filepath.Join(e.DataDir, "uploads", filepath.Base(location))
	var before syscall.Stat_t
	if err := syscall.Stat(partial, &before); err != nil {
		t.Fatalf("partial file of the upload: %v", err)
	}

	resp, body := e.patchUpload(e.AliceToken, location, half, content[half:])
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("last chunk: status %d, want 204: %s", resp.StatusCode, body)
	}
	fileID := resp.Header.Get("X-Vaultdrop-File-Id")
	if fileID == "" {
		t.Fatal("last chunk: no X-Vaultdrop-File-Id")
	}

	var stored syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.Vault.Dir(), fileID[:2], fileID), &stored); err != nil {
		t.Fatalf("stored file: %v", err)
	}
	if stored.Ino != before.Ino || stored.Dev != before.Dev {
		t.Errorf("stored file is inode %d, the upload's partial file was %d: the upload was copied, not moved", stored.Ino, before.Ino)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("partial file still exists after the upload finished: %v", err)
	}
	if resp, got := e.request(http.MethodGet, "/api/v1/files/"+fileID+"/content", e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK || string(got) != string(content) {
		t.Errorf("download: status %d, %d bytes; want 200 and the %d bytes sent", resp.StatusCode, len(got), len(content))
	}
}
