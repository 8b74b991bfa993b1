//go:build linux

package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// mountSmallDisk mounts a tmpfs of size on a new temporary folder and
// unmounts it when the test ends. It skips the test where mounting is not
// permitted (not root, or a container without CAP_SYS_ADMIN).
func mountSmallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a %s tmpfs for the full-disk test: %v; run the tests as root to include it", size, err)
	}
	// Registered before the server's own cleanups, so it runs after them.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillWithUploads uploads 3 MiB files until one is refused, and returns
// the stored files with their contents and the refusal.
func (e *testEnv) fillWithUploads() (stored []fileObject, contents [][]byte, status int, body []byte) {
	e.t.Helper()
	for i := 0; i < 20; i++ {
		content := bytes.Repeat([]byte(fmt.Sprintf("file %02d fills the disk\n", i)), (3<<20)/24)
		resp, respBody := e.upload(e.AliceToken, fmt.Sprintf("fill%02d.txt", i), content)
		if resp.StatusCode != http.StatusCreated {
			return stored, contents, resp.StatusCode, respBody
		}
		stored = append(stored, decodeFile(e.t, respBody))
		contents = append(contents, content)
	}
	e.t.Fatal("20 uploads of 3 MiB fitted on a 16 MiB disk")
	return nil, nil, 0, nil
}

func TestFullDiskWithoutReserve(t *testing.T) {
	t.Parallel()
	dir := mountSmallDisk(t, "16m")
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.DataDir = dir
		c.MinFreeSpace = 0
	}})

	stored, contents, status, body := e.fillWithUploads()
	if status != http.StatusInsufficientStorage {
		t.Errorf("upload on a full disk: status = %d, want 507: %s", status, body)
	}
	assertErrorCode(t, body, "insufficient_storage")
	if len(stored) == 0 {
		t.Fatal("no upload fitted on the 16 MiB disk")
	}
	if n, _ := e.Vault.CountIncoming(); n != 0 {
		t.Errorf("vault/incoming holds %d files after the refusal, want 0", n)
	}
	for i, f := range stored {
		e.assertServing(f, string(contents[i]))
	}
}

func TestFullDiskReserveKeepsServerWritable(t *testing.T) {
	t.Parallel()
	dir := mountSmallDisk(t, "16m")
	e := newEnv(t, envOptions{configure: func(c *config.Config) {
		c.DataDir = dir
		c.MinFreeSpace = 6 << 20
	}})

	stored, contents, status, body := e.fillWithUploads()
	if status != http.StatusInsufficientStorage {
		t.Fatalf("upload into the reserve: status = %d, want 507: %s", status, body)
	}
	assertErrorCode(t, body, "insufficient_storage")
	if !strings.Contains(string(body), "6 MiB") {
		t.Errorf("message does not name the 6 MiB reserve: %s", body)
	}
	for i, f := range stored {
		e.assertServing(f, string(contents[i]))
	}

	// The reserve leaves the database room to write: sign-ins and deletes
	// still work, and the deleted file's space takes a new upload.
	e.login(e.browser(), "bob", bobPassword)
	if resp, body := e.request(http.MethodDelete, "/api/v1/files/"+stored[0].ID, e.AliceToken, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete on a disk at its reserve: status = %d: %s", resp.StatusCode, body)
	}
	if resp, body := e.upload(e.AliceToken, "again.txt", contents[0]); resp.StatusCode != http.StatusCreated {
		t.Errorf("upload after freeing space: status = %d, want 201: %s", resp.StatusCode, body)
	}
}
