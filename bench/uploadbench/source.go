package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// source is the code the benchmark builds.
type source struct {
	repo      string // this repository, which has the reference server
	vaultdrop string // the vaultdrop module to build
	version   string // which code vaultdrop is, for the report
}

// prepareSource picks the vaultdrop code to build: the folder given with
// --source, the commit given with --commit exported into work, or else the
// work tree of this repository.
func prepareSource(ctx context.Context, opts options, repo, work string) (source, error) {
	switch {
	case opts.source != "":
		dir, err := filepath.Abs(opts.source)
		if err != nil {
			return source{}, fmt.Errorf("resolve --source %q: %w", opts.source, err)
		}
		return source{repo: repo, vaultdrop: dir, version: "from " + dir + ", " + describeFolder(ctx, dir)}, nil
	case opts.commit == "":
		return source{repo: repo, vaultdrop: repo, version: describeFolder(ctx, repo)}, nil
	}

	dir := filepath.Join(work, "source")
	commit, err := exportCommit(ctx, repo, opts.commit, dir)
	if err != nil {
		return source{}, err
	}
	return source{repo: repo, vaultdrop: dir, version: "commit " + commit}, nil
}

// describeFolder names the code in dir by its short commit, with "-dirty"
// when the work tree has uncommitted changes.
func describeFolder(ctx context.Context, dir string) string {
	out, err := runCommand(ctx, dir, "", "git", "describe", "--always", "--dirty")
	if err != nil {
		return "not a git work tree"
	}
	return "commit " + strings.TrimSpace(out)
}

// exportCommit writes the files of commit rev into dir with git archive
// and returns the commit's short hash. Building from the export measures
// that commit whatever uncommitted changes the work tree has.
func exportCommit(ctx context.Context, repo, rev, dir string) (string, error) {
	out, err := runCommand(ctx, repo, "", "git", "rev-parse", "--short", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve --commit %q: %w", rev, err)
	}
	commit := strings.TrimSpace(out)

	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", commit)
	cmd.Dir = repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	archive, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("export commit %s: %w", commit, err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("export commit %s: start git archive: %w", commit, err)
	}

	extractErr := extractTar(archive, dir)
	io.Copy(io.Discard, archive) // let git finish writing if extraction stopped early
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("export commit %s: git archive: %w\n%s", commit, err, strings.TrimSpace(stderr.String()))
	}
	if extractErr != nil {
		return "", fmt.Errorf("export commit %s: %w", commit, extractErr)
	}
	return commit, nil
}

// extractTar writes the folders and regular files of a tar stream under
// dir. It skips links, which a Go module does not need to build, and
// rejects names that would land outside dir.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if !filepath.IsLocal(hdr.Name) {
			return fmt.Errorf("archive entry %q points outside the export folder", hdr.Name)
		}

		path := filepath.Join(dir, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeEntry(path, tr, hdr.FileInfo().Mode().Perm())
		}
		if err != nil {
			return err
		}
	}
}

func writeEntry(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = io.Copy(f, r)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
