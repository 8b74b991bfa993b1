package hostile

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// mountSmallDisk mounts a tmpfs of sizeMB megabytes on a new folder and
// unmounts it when the test ends. It skips the test where mounting is not
// allowed, as for users other than root.
func mountSmallDisk(t *testing.T, sizeMB int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm,mode=0700", sizeMB))
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		t.Skipf("a full disk is simulated with a tmpfs, which needs root: %v", err)
	}
	if err != nil {
		t.Fatalf("mount a %d MB tmpfs on %s: %v", sizeMB, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestFullDisk(t *testing.T) {
	t.Parallel()
	disk := mountSmallDisk(t, 48)
	s, err := launchServer(disk, serverOptions{maxFileSize: "40MB", args: []string{"--min-free-space", "16MB"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)

	pdf := func(size int) []byte { return append([]byte("%PDF-1.4\n"), make([]byte, size-9)...) }
	first := mustStore(t, s.upload(t, "first.pdf", pdf(4<<20)))

	// Uploads stop at the reserve with 507, before the disk is full.
	stored, refused := 1, false
	for i := range 12 {
		before := s.snapshot(t)
		resp := s.upload(t, fmt.Sprintf("fill%d.pdf", i), pdf(4<<20))
		if resp.Status == http.StatusCreated {
			stored++
			continue
		}
		s.assertRejected(t, resp, http.StatusInsufficientStorage, "insufficient_storage", before)
		refused = true
		break
	}
	if !refused {
		t.Fatalf("%d uploads of 4 MiB fit on a 48 MB disk with a 16 MB reserve", stored)
	}
	s.expectRejected(t, http.StatusInsufficientStorage, "insufficient_storage", func() response {
		return s.do(t, request{Method: http.MethodPut, Path: "/api/v1/files/declared.pdf", Token: aliceToken, Body: bytes.NewReader(pdf(4 << 20)), ContentLength: 4 << 20})
	})

	// An upload of unknown length that fills the disk part-way.
	s.expectRejected(t, http.StatusInsufficientStorage, "insufficient_storage", func() response {
		return s.do(t, request{Method: http.MethodPut, Path: "/api/v1/files/filler.pdf", Token: aliceToken, Body: largePDF(30 << 20), ContentLength: -1})
	})

	// The server keeps serving what it has.
	if list := s.listFiles(t, aliceToken); len(list) != stored {
		t.Errorf("the full server lists %d files, want %d", len(list), stored)
	}
	if dl := s.download(t, first.ID); dl.Status != http.StatusOK || len(dl.Body) != 4<<20 {
		t.Errorf("download from the full server: status %d, %d bytes", dl.Status, len(dl.Body))
	}
	if n := len(regularFiles(filepath.Join(s.DataDir, "vault", "incoming"))); n > 0 {
		t.Errorf("vault/incoming holds %d partial files", n)
	}
}
