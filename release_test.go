package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseReproducible runs "go tool task release" for linux/amd64 from
// two copies of the source tree at different paths and checks that the
// binaries and SHA256SUMS are byte-identical. On a 2-core machine it takes
// about 5 seconds with a warm build cache, and a few minutes when the
// -trimpath build of the dependencies is not cached yet.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary twice; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}

	snapshot := filepath.Join(t.TempDir(), "snapshot")
	copyTree(t, ".", snapshot)
	other := filepath.Join(t.TempDir(), "a", "longer", "path")
	copyTree(t, snapshot, other)

	first := buildRelease(t, snapshot)
	second := buildRelease(t, other)

	const name = "vaultdrop-v0.0.0-test-linux-amd64"
	binA := readFile(t, filepath.Join(first, name))
	binB := readFile(t, filepath.Join(second, name))
	if !bytes.Equal(binA, binB) {
		t.Errorf("the two builds differ: %d and %d bytes", len(binA), len(binB))
	}
	sumsA := readFile(t, filepath.Join(first, "SHA256SUMS"))
	sumsB := readFile(t, filepath.Join(second, "SHA256SUMS"))
	if !bytes.Equal(sumsA, sumsB) {
		t.Errorf("SHA256SUMS differ:\n%s\n%s", sumsA, sumsB)
	}

	sum := sha256.Sum256(binA)
	if want := hex.EncodeToString(sum[:]) + "  " + name + "\n"; string(sumsA) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sumsA, want)
	}

	out, err := exec.Command(filepath.Join(first, name), "version").Output()
	if err != nil {
		t.Fatalf("run the release binary: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "vaultdrop v0.0.0-test (commit 0123456789ab)" {
		t.Errorf("version output = %q, want the stamped version and commit", got)
	}
}

// buildRelease runs the release task in src for linux/amd64 with a fixed
// version and commit, and returns the output folder.
func buildRelease(t *testing.T, src string) string {
	t.Helper()
	dist := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("go", "tool", "task", "release",
		"DIST="+dist, "PLATFORMS=linux/amd64", "VERSION=v0.0.0-test", "COMMIT=0123456789ab")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool task release in %s: %v\n%s", src, err, out)
	}
	return dist
}

// copyTree copies the regular files of a source tree, leaving out version
// control, build output and test results.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	skip := map[string]bool{".git": true, "dist": true, "node_modules": true, "results": true}
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() && skip[d.Name()] {
			return filepath.SkipDir
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || rel == "vaultdrop" {
			return nil
		}
		return copyFile(path, target)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", from, to, err)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
