package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"
)

// writeUploadFiles fakes an upload as tusd leaves it on disk: the bytes
// (when bytes >= 0) and the .info state (when size >= 0).
func writeUploadFiles(t *testing.T, dir, id string, bytes int, size int64, modified time.Time) {
	t.Helper()
	if bytes >= 0 {
		writeAged(t, filepath.Join(dir, id), make([]byte, bytes), modified)
	}
	if size >= 0 {
		info, err := json.Marshal(tushandler.FileInfo{ID: id, Size: size, MetaData: tushandler.MetaData{metaOwner: "user:1"}})
		if err != nil {
			t.Fatal(err)
		}
		writeAged(t, filepath.Join(dir, id+infoSuffix), info, modified)
	}
}

func writeAged(t *testing.T, path string, data []byte, modified time.Time) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, modified, modified); err != nil {
		t.Fatal(err)
	}
}

func TestUploadsClearedAtStart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	recent, old := now.Add(-time.Hour), now.Add(-48*time.Hour)
	const (
		resumable     = "00000000000000000000000000000001"
		expired       = "00000000000000000000000000000002"
		complete      = "00000000000000000000000000000003"
		noInfo        = "00000000000000000000000000000004"
		noBytes       = "00000000000000000000000000000005"
		result        = "00000000000000000000000000000006"
		halfFinished  = "00000000000000000000000000000007"
		expiredResult = "00000000000000000000000000000008"
	)
	writeUploadFiles(t, dir, resumable, 10, 100, recent)
	writeUploadFiles(t, dir, expired, 10, 100, old)
	writeUploadFiles(t, dir, complete, 100, 100, recent)
	writeUploadFiles(t, dir, noInfo, 10, -1, recent)
	writeUploadFiles(t, dir, noBytes, -1, 100, recent)
	writeAged(t, filepath.Join(dir, result+resultSuffix), []byte(`{"owner":"user:1"}`), recent)
	writeUploadFiles(t, dir, halfFinished, 100, 100, recent)
	writeAged(t, filepath.Join(dir, halfFinished+resultSuffix), []byte(`{"owner":"user:1"}`), recent)
	writeAged(t, filepath.Join(dir, expiredResult+resultSuffix), []byte(`{"owner":"user:1"}`), old)
	writeAged(t, filepath.Join(dir, "stray.tmp"), nil, recent)
	writeAged(t, filepath.Join(dir, result+resultSuffix+".tmp"), nil, recent)

	u := &resumableUploads{dir: dir}
	removed, err := u.clearStale(now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 5 {
		t.Errorf("removed %d uploads, want 5 (expired, complete, no info, no bytes, expired result)", removed)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{resumable, resumable + infoSuffix, result + resultSuffix, halfFinished + resultSuffix}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

func TestTranslateTusError(t *testing.T) {
	cases := []struct {
		tusCode  string
		status   int
		want     string
		wantHTTP int
	}{
		{"ERR_UPLOAD_NOT_FOUND", 404, "not_found", 404},
		{"ERR_MISMATCHED_OFFSET", 409, "offset_mismatch", 409},
		{"ERR_UPLOAD_LOCKED", 423, "upload_busy", 423},
		{"ERR_LOCK_TIMEOUT", 500, "upload_busy", 423},
		{"ERR_READ_TIMEOUT", 500, "interrupted", 500},
		{"ERR_INTERNAL_SERVER_ERROR", 500, "internal", 500},
		{"ERR_SOMETHING_NEW", 400, "invalid_request", 400},
	}
	for _, tc := range cases {
		e := translateTusError(tc.status, tc.tusCode)
		if e.Code != tc.want || e.Status != tc.wantHTTP {
			t.Errorf("%s: %d %q, want %d %q", tc.tusCode, e.Status, e.Code, tc.wantHTTP, tc.want)
		}
	}
}
