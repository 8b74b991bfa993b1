package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// runBackup runs "vaultdrop backup DEST": a consistent copy of a data
// directory while its server runs. The database is copied with VACUUM
// INTO, which reads it as of one moment. Then the bytes of every file in
// that copy are copied and checked against their SHA-256. DEST is itself a
// data directory: "vaultdrop restore DEST" puts it back, and
// "vaultdrop serve --data-dir DEST" would serve it.
//
// Quarantine: bytes of pending files (waiting for a scan) are copied into
// DEST's quarantine, so they are scanned after a restore. Bytes of infected
// files are never copied: their rows stay as the record of what was found.
// Files being received (vault/incoming) are not part of a backup.
func runBackup(ctx context.Context, args []string, e env) error {
	fs, dataDir := newCommandFlags("backup", "vaultdrop backup DEST [flags]", e)
	dest, err := parseOneArg(fs, args, e, "DEST: the new folder to write the backup to")
	if err != nil {
		return err
	}

	if err := prepareBackupDir(dest); err != nil {
		return err
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	vault, err := store.OpenVault(*dataDir)
	if err != nil {
		return err
	}
	defer vault.Close()

	dbCopy := filepath.Join(dest, store.DatabaseFile)
	if err := st.VacuumInto(ctx, dbCopy); err != nil {
		return err
	}
	// SQLite creates the copy with the process umask; it holds password hashes.
	if err := os.Chmod(dbCopy, 0o600); err != nil {
		return fmt.Errorf("restrict %s to its owner: %w", dbCopy, err)
	}
	sum, err := copyFiles(ctx, st, vault, dest, e.stdout)
	if err != nil {
		return err
	}

	fmt.Fprintf(e.stdout, "backed up %d files (%s) and the database to %s\n", sum.copied, config.FormatBytes(sum.bytes), dest)
	if sum.deleted > 0 {
		fmt.Fprintf(e.stdout, "%d files deleted while the backup ran were left out\n", sum.deleted)
	}
	if sum.problems > 0 {
		return fmt.Errorf("the backup in %s is incomplete: %d files could not be copied intact; see the lines above, and run vaultdrop verify --data-dir %s", dest, sum.problems, *dataDir)
	}
	fmt.Fprintf(e.stdout, "restore it with: vaultdrop restore %s --data-dir DIR\n", dest)
	return nil
}

// prepareBackupDir creates dest with mode 0700. An existing dest must be
// an empty folder, so a backup never mixes with another.
func prepareBackupDir(dest string) error {
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return fmt.Errorf("create backup folder %s: %w", dest, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("check backup folder %s: %w", dest, err)
	case len(entries) > 0:
		return fmt.Errorf("backup folder %s is not empty; give a new folder", dest)
	}
	return os.Chmod(dest, 0o700)
}

// copySummary counts what copyFiles did.
type copySummary struct {
	copied   int
	bytes    int64
	deleted  int // deleted from the source since the database copy; row dropped from the copy
	problems int // missing or mismatched; marked missing in the copy
}

// copyFiles copies the bytes of every file in the database copy at dest
// from the source vault, checking each against its SHA-256.
func copyFiles(ctx context.Context, source *store.Store, from *store.Vault, dest string, out io.Writer) (copySummary, error) {
	var sum copySummary

	copyDB, err := store.Open(ctx, dest, nil)
	if err != nil {
		return sum, err
	}
	defer copyDB.Close()
	to, err := store.OpenVault(dest)
	if err != nil {
		return sum, err
	}
	defer to.Close()

	files, err := copyDB.AllFiles(ctx)
	if err != nil {
		return sum, err
	}
	for _, f := range files {
		if !needsBytes(f.Status) {
			continue
		}
		err := copyStored(from, to, f)
		switch {
		case err == nil:
			sum.copied++
			sum.bytes += f.Size
		case errors.Is(err, store.ErrNotFound) && deletedAtSource(ctx, source, f.ID):
			sum.deleted++
			if err := copyDB.DeleteFileRow(ctx, f.ID); err != nil {
				return sum, err
			}
		default:
			sum.problems++
			fmt.Fprintf(out, "FAILED    %s %q: %v; marked missing in the backup\n", f.ID, f.Name, err)
			ev := store.AuditEvent{Actor: "system", ClientAddr: "local", Action: "backup", Outcome: store.OutcomeFailure,
				Detail: "bytes could not be copied intact: " + err.Error()}
			if err := copyDB.MarkMissing(ctx, f.ID, ev); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

// deletedAtSource reports whether the file's row is gone from the source.
func deletedAtSource(ctx context.Context, source *store.Store, id string) bool {
	_, err := source.FileByID(ctx, id)
	return errors.Is(err, store.ErrNotFound)
}

// copyStored copies the bytes of f from one vault to another, wherever
// they are in the source, into the place its status calls for: the served
// vault, or quarantine for a pending file. The copy is synced to disk and
// renamed into place only when its size and SHA-256 match the row.
func copyStored(from, to *store.Vault, f store.File) error {
	src, _, err := from.OpenAny(f.ID)
	if err != nil {
		return err
	}
	defer src.Close()

	dst, err := to.CreateIncoming()
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), src)
	if err != nil {
		dst.Discard()
		return fmt.Errorf("copy stored file %s: %w", f.ID, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 || n != f.Size {
		dst.Discard()
		return fmt.Errorf("the source bytes have sha256 %s and %d bytes, but the row records %s and %d bytes", sum, n, f.SHA256, f.Size)
	}

	if f.Status == store.StatusPending {
		return dst.CommitToQuarantine(f.ID)
	}
	return dst.Commit(f.ID)
}

// parseOneArg parses flags around one positional argument, which may come
// before or after the flags; description names it when it is missing.
func parseOneArg(fs *config.FlagSet, args []string, e env, description string) (string, error) {
	var arg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		arg, args = args[0], args[1:]
	}
	if err := fs.Parse(args, e.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", errHelpShown
		}
		return "", errUsage
	}

	rest := fs.Args()
	if arg == "" && len(rest) > 0 {
		arg, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		fmt.Fprintf(e.stderr, "unexpected argument %q\n", rest[0])
		return "", errUsage
	}
	if arg == "" {
		fmt.Fprintf(e.stderr, "missing %s\n", description)
		return "", errUsage
	}
	return arg, nil
}
