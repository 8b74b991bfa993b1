// Command sha256sums writes DIR/SHA256SUMS for the release files in DIR,
// in the format "sha256sum --check" reads: the hex digest, two spaces and
// the file name, one line per file, in file name order. It runs wherever Go
// does, so the release task needs no sha256sum or shasum program.
//
// Usage: go run ./internal/sha256sums DIR
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// sumsFile is the name of the checksum file inside DIR.
const sumsFile = "SHA256SUMS"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sha256sums DIR")
		os.Exit(2)
	}
	if err := writeSums(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// writeSums hashes every regular file in dir except SHA256SUMS itself.
func writeSums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}

	var lines []string
	for _, entry := range entries {
		if !entry.Type().IsRegular() || entry.Name() == sumsFile {
			continue
		}
		sum, err := hashFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			return err
		}
		lines = append(lines, sum+"  "+entry.Name()+"\n")
	}
	if len(lines) == 0 {
		return fmt.Errorf("no files to sum in %s", dir)
	}

	path := filepath.Join(dir, sumsFile)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()

	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
