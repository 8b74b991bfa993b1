package app_test

import (
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestUploadOnFullDiskAnswers507(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	kept := e.uploadText("kept.txt", "stored before the disk filled\n")
	e.Vault.FailWrites(func([]byte) error { return syscall.ENOSPC })
	before := e.snapshot()

	for _, send := range []struct {
		name   string
		upload func() (*http.Response, []byte)
	}{
		{"multipart", func() (*http.Response, []byte) { return e.upload(e.AliceToken, "new.txt", []byte("no room\n")) }},
		{"put", func() (*http.Response, []byte) { return e.putFile(e.BobToken, "new.txt", []byte("no room\n")) }},
	} {
		resp, body := send.upload()
		if resp.StatusCode != http.StatusInsufficientStorage {
			t.Errorf("%s: status = %d, want 507: %s", send.name, resp.StatusCode, body)
		}
		assertErrorCode(t, body, "insufficient_storage")
	}
	e.assertNothingStored(before)
	e.assertServing(kept, "stored before the disk filled\n")

	e.Vault.FailWrites(nil)
	if resp, body := e.upload(e.AliceToken, "after.txt", []byte("room again\n")); resp.StatusCode != http.StatusCreated {
		t.Errorf("upload once the disk has room: status = %d, want 201: %s", resp.StatusCode, body)
	}
}

func TestDiskFullMidUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	kept := e.uploadText("kept.txt", "stored before the disk filled\n")
	before := e.snapshot()

	// The disk fills after the first 1 MiB chunk is on it.
	var written atomic.Int64
	e.Vault.FailWrites(func(chunk []byte) error {
		if written.Add(int64(len(chunk))) > 1<<20 {
			return syscall.ENOSPC
		}
		return nil
	})
	resp, body := e.upload(e.AliceToken, "large.txt", plainText(3<<20))

	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("status = %d, want 507: %s", resp.StatusCode, body)
	}
	assertErrorCode(t, body, "insufficient_storage")
	e.assertNothingStored(before)
	e.assertServing(kept, "stored before the disk filled\n")
}

// assertServing checks that the server still responds: its health check,
// the file list, and the bytes of a stored file.
func (e *testEnv) assertServing(f fileObject, content string) {
	e.t.Helper()
	if resp, body := e.request(http.MethodGet, "/healthz", "", nil, nil); resp.StatusCode != http.StatusOK {
		e.t.Errorf("healthz: status = %d: %s", resp.StatusCode, body)
	}
	if resp, body := e.request(http.MethodGet, "/api/v1/files", e.AliceToken, nil, nil); resp.StatusCode != http.StatusOK {
		e.t.Errorf("file list: status = %d: %s", resp.StatusCode, body)
	}
	resp, body := e.request(http.MethodGet, "/api/v1/files/"+f.ID+"/content", e.AliceToken, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, []byte(content)) {
		e.t.Errorf("download of %s: status = %d, %d bytes, want %d bytes as stored", f.Name, resp.StatusCode, len(body), len(content))
	}
	if err := e.Store.IntegrityCheck(context.Background()); err != nil {
		e.t.Errorf("database: %v", err)
	}
}
