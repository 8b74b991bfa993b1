package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// account creates alice in dataDir with the CLI and returns an API token
// for her.
func account(t *testing.T, dataDir string) string {
	t.Helper()
	if _, stderr, err := command(t, "correct horse battery staple\n", "user", "add", "alice", "--admin", "--password-stdin", "--data-dir", dataDir); err != nil {
		t.Fatalf("user add: %v: %s", err, stderr)
	}
	token, stderr, err := command(t, "", "token", "create", "--user", "alice", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("token create: %v: %s", err, stderr)
	}
	return strings.TrimSpace(token)
}

// storedFile is an upload the server acknowledged, with what was sent.
type storedFile struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Status string `json:"status"`
}

// randomText returns n bytes of lowercase letters and newlines, which the
// type policy accepts as a .txt file.
func randomText(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if i%64 == 63 {
			b[i] = '\n'
		} else {
			b[i] = byte('a' + rng.IntN(26))
		}
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// put uploads content as name and returns the status and, on 201, the file.
func put(client *http.Client, baseURL, token, name string, content []byte) (int, storedFile, error) {
	req, err := http.NewRequest(http.MethodPut, baseURL+"/api/v1/files/"+name, bytes.NewReader(content))
	if err != nil {
		return 0, storedFile{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, storedFile{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, storedFile{}, err
	}

	var f storedFile
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(body, &f); err != nil {
			return resp.StatusCode, f, fmt.Errorf("decode file: %w: %q", err, body)
		}
	}
	return resp.StatusCode, f, nil
}

// download returns the status and the bytes of a stored file.
func download(t *testing.T, baseURL, token, id string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/api/v1/files/"+id+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	return resp.StatusCode, body
}

// listFiles returns the files the API lists for the token's user.
func listFiles(t *testing.T, baseURL, token string) []storedFile {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/api/v1/files", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Files []storedFile `json:"files"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("decode file list: %v", err)
	}
	return list.Files
}

// uploadSome stores n text files and returns them with their contents.
func uploadSome(t *testing.T, baseURL, token string, rng *rand.Rand, n int) map[string][]byte {
	t.Helper()
	stored := map[string][]byte{}
	for i := 0; i < n; i++ {
		content := randomText(rng, 1+rng.IntN(200<<10))
		status, f, err := put(http.DefaultClient, baseURL, token, fmt.Sprintf("file%d.txt", i), content)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("upload %d: status %d, %v", i, status, err)
		}
		stored[f.ID] = content
	}
	return stored
}

func TestBackupRestoreAndVerify(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	token := account(t, dir)
	s := startServer(t, dir)
	stored := uploadSome(t, s.URL, token, rng, 6)

	out, stderr, err := command(t, "", "verify", "--data-dir", dir)
	if err != nil {
		t.Fatalf("verify while serving: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "checked 6 files") {
		t.Errorf("verify output lacks the count: %s", out)
	}

	backup := filepath.Join(t.TempDir(), "backup")
	if out, stderr, err := command(t, "", "backup", backup, "--data-dir", dir); err != nil {
		t.Fatalf("backup while serving: %v\n%s%s", err, out, stderr)
	}
	info, err := os.Stat(filepath.Join(backup, "vaultdrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup database mode = %o, want 600", perm)
	}
	later := uploadSome(t, s.URL, token, rng, 1)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	restored := t.TempDir()
	if out, stderr, err := command(t, "", "restore", backup, "--data-dir", restored); err != nil {
		t.Fatalf("restore: %v\n%s%s", err, out, stderr)
	}
	if out, stderr, err := command(t, "", "verify", "--data-dir", restored); err != nil {
		t.Fatalf("verify the restored directory: %v\n%s%s", err, out, stderr)
	}

	s2 := startServer(t, restored)
	for id, content := range stored {
		status, body := download(t, s2.URL, token, id)
		if status != http.StatusOK || !bytes.Equal(body, content) {
			t.Errorf("restored file %s: status %d, %d bytes, want %d bytes as uploaded", id, status, len(body), len(content))
		}
	}
	for id := range later {
		if status, _ := download(t, s2.URL, token, id); status != http.StatusNotFound {
			t.Errorf("file uploaded after the backup: status %d, want 404", status)
		}
	}
}

func TestVerifyFindsDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	token := account(t, dir)
	s := startServer(t, dir)
	stored := uploadSome(t, s.URL, token, rng, 3)
	var ids []string
	for id := range stored {
		ids = append(ids, id)
	}

	vaultPath := func(id string) string { return filepath.Join(dir, "vault", id[:2], id) }
	damaged, err := os.OpenFile(vaultPath(ids[0]), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	damaged.WriteAt([]byte("X"), 0)
	damaged.Close()
	os.Remove(vaultPath(ids[1]))
	orphan := strings.Repeat("ab", 16)
	os.MkdirAll(filepath.Dir(vaultPath(orphan)), 0o700)
	os.WriteFile(vaultPath(orphan), []byte("no row\n"), 0o600)

	out, _, err := command(t, "", "verify", "--data-dir", dir)
	if err == nil {
		t.Fatalf("verify passed a damaged vault:\n%s", out)
	}
	for _, want := range []string{"MISMATCH  " + ids[0], "MISSING   " + ids[1], "ORPHAN    vault/ab/" + orphan, "1 mismatched, 1 missing, 1 without a row"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
}

func TestRestoreRefusals(t *testing.T) {
	dir := t.TempDir()
	account(t, dir)
	backup := filepath.Join(t.TempDir(), "backup")
	if out, stderr, err := command(t, "", "backup", backup, "--data-dir", dir); err != nil {
		t.Fatalf("backup: %v\n%s%s", err, out, stderr)
	}

	t.Run("server running", func(t *testing.T) {
		running := t.TempDir()
		startServer(t, running)
		_, stderr, err := command(t, "", "restore", backup, "--data-dir", running)
		if err == nil || !strings.Contains(stderr, "a vaultdrop server is running") {
			t.Errorf("restore under a running server: err = %v, stderr = %q", err, stderr)
		}
	})

	t.Run("existing data", func(t *testing.T) {
		target := t.TempDir()
		account(t, target)
		_, stderr, err := command(t, "", "restore", backup, "--data-dir", target)
		if err == nil || !strings.Contains(stderr, "give --force") {
			t.Errorf("restore over existing data: err = %v, stderr = %q", err, stderr)
		}

		out, stderr, err := command(t, "", "restore", backup, "--data-dir", target, "--force")
		if err != nil {
			t.Fatalf("restore --force: %v\n%s%s", err, out, stderr)
		}
		aside, _ := filepath.Glob(filepath.Join(target, "replaced-*", "vaultdrop.db"))
		if len(aside) != 1 {
			t.Errorf("the replaced database was not kept aside: %v", aside)
		}
	})

	t.Run("not a backup", func(t *testing.T) {
		_, stderr, err := command(t, "", "restore", t.TempDir(), "--data-dir", t.TempDir())
		if err == nil || !strings.Contains(stderr, "is not a vaultdrop backup") {
			t.Errorf("restore from an empty folder: err = %v, stderr = %q", err, stderr)
		}
	})
}

func TestCorruptDatabaseRefusedAtStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	token := account(t, dir)
	s := startServer(t, dir)
	uploadSome(t, s.URL, token, rng, 20)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	// Overwrite every page but the first (the header and the schema) with
	// noise, as a failing disk would.
	db := filepath.Join(dir, "vaultdrop.db")
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 3*4096 {
		t.Fatalf("database is only %d bytes; the test needs several pages", len(data))
	}
	for i := 4096; i < len(data); i++ {
		data[i] = byte(rng.IntN(256))
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--scanner", "off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()

	if err == nil || ctx.Err() != nil {
		t.Fatalf("server started on a damaged database: err = %v", err)
	}
	for _, want := range []string{"is damaged", "vaultdrop restore"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, stderr.String())
		}
	}
}

func TestUserQuotaCommand(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	token := account(t, dir)
	s := startServer(t, dir)

	out, stderr, err := command(t, "", "user", "quota", "alice", "100KiB", "--data-dir", dir)
	if err != nil {
		t.Fatalf("user quota: %v: %s", err, stderr)
	}
	if !strings.Contains(out, "quota of alice: 100 KiB") {
		t.Errorf("output = %q", out)
	}
	if status, _, _ := put(http.DefaultClient, s.URL, token, "big.txt", randomText(rng, 200<<10)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("upload over the quota set from the command line: status %d, want 413", status)
	}

	if _, stderr, err := command(t, "", "user", "quota", "alice", "default", "--data-dir", dir); err != nil {
		t.Fatalf("user quota default: %v: %s", err, stderr)
	}
	if status, _, _ := put(http.DefaultClient, s.URL, token, "big.txt", randomText(rng, 200<<10)); status != http.StatusCreated {
		t.Errorf("upload after the reset: status %d, want 201", status)
	}

	if _, stderr, err := command(t, "", "user", "quota", "nobody", "1GiB", "--data-dir", dir); err == nil || !strings.Contains(stderr, "not found") {
		t.Errorf("unknown user: err = %v, stderr = %q", err, stderr)
	}
	if _, stderr, err := command(t, "", "user", "quota", "alice", "lots", "--data-dir", dir); err == nil || !strings.Contains(stderr, "invalid size") {
		t.Errorf("bad size: err = %v, stderr = %q", err, stderr)
	}
}
