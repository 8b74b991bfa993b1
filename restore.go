package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// runRestore runs "vaultdrop restore SRC": it puts a backup made by
// "vaultdrop backup" into a data directory whose server is stopped. It
// holds the data directory's lock throughout, so a server cannot start on
// a half-restored directory. A data directory that already holds a
// database is replaced only with --force, and its database and vault are
// then moved aside into a "replaced-TIME" folder, never deleted. The
// restored directory is verified at the end.
func runRestore(ctx context.Context, args []string, e env) error {
	fs, dataDir := newCommandFlags("restore", "vaultdrop restore SRC [--force] [flags]", e)
	force := fs.Bool("force", false, "replace the data directory's database and vault; the old ones are moved aside, not deleted")
	src, err := parseOneArg(fs, args, e, "SRC: the backup folder to restore")
	if err != nil {
		return err
	}
	if err := checkBackup(src); err != nil {
		return err
	}

	if err := config.PrepareDataDir(*dataDir); err != nil {
		return err
	}
	lock, err := store.LockDataDir(*dataDir)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("a vaultdrop server is running on %s; stop it before restoring, because a restore replaces the files it serves", *dataDir)
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()

	if err := clearForRestore(*dataDir, *force, e.stdout); err != nil {
		return err
	}
	if err := restoreInto(ctx, src, *dataDir, e.stdout); err != nil {
		return err
	}
	return nil
}

// checkBackup checks that src looks like a backup folder.
func checkBackup(src string) error {
	info, err := os.Stat(filepath.Join(src, store.DatabaseFile))
	if err != nil || !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a vaultdrop backup: it has no %s; give the folder that vaultdrop backup wrote", src, store.DatabaseFile)
	}
	return nil
}

// dataDirEntries are the entries of a data directory that a restore
// replaces.
var dataDirEntries = []string{store.DatabaseFile, store.DatabaseFile + "-wal", store.DatabaseFile + "-shm", "vault"}

// clearForRestore makes room in dataDir. Without force it rejects a data
// directory that already has a database. With force it moves the database
// and the vault into dataDir/replaced-TIME.
func clearForRestore(dataDir string, force bool, out io.Writer) error {
	if _, err := os.Stat(filepath.Join(dataDir, store.DatabaseFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if !force {
		return fmt.Errorf("%s already contains a vaultdrop database; give --force to replace it (its database and vault are moved aside, not deleted)", dataDir)
	}

	aside := filepath.Join(dataDir, "replaced-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Mkdir(aside, 0o700); err != nil {
		return fmt.Errorf("create folder for the replaced data %s: %w", aside, err)
	}
	for _, name := range dataDirEntries {
		err := os.Rename(filepath.Join(dataDir, name), filepath.Join(aside, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("move %s aside: %w", name, err)
		}
	}
	fmt.Fprintf(out, "moved the replaced database and vault to %s\n", aside)
	return nil
}

// restoreInto copies the backup's database, checks it, copies the bytes of
// every file with their hashes checked, and verifies the result.
func restoreInto(ctx context.Context, src, dataDir string, out io.Writer) error {
	for _, name := range []string{store.DatabaseFile, store.DatabaseFile + "-wal"} {
		err := copyFileSynced(filepath.Join(src, name), filepath.Join(dataDir, name))
		if err != nil && !(errors.Is(err, os.ErrNotExist) && name != store.DatabaseFile) {
			return err
		}
	}

	st, err := store.Open(ctx, dataDir, nil)
	if err != nil {
		return fmt.Errorf("open the restored database: %w", err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		return fmt.Errorf("the backup's database in %s is damaged, so nothing more was restored: %w", src, err)
	}

	from, err := store.OpenVault(src)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := store.OpenVault(dataDir)
	if err != nil {
		return err
	}
	defer to.Close()

	restored, problems, err := restoreFiles(ctx, st, from, to, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %d files from %s into %s\n", restored, src, dataDir)

	report, err := verifyData(ctx, st, to, out)
	if err != nil {
		return err
	}
	if n := problems + report.problems(); n > 0 {
		return fmt.Errorf("the restore finished with %d problems; see the lines above", n)
	}
	return nil
}

// restoreFiles copies the bytes of every file row from the backup's vault.
// A file whose bytes are missing or damaged in the backup is marked
// missing, with an audit event, and counted as a problem.
func restoreFiles(ctx context.Context, st *store.Store, from, to *store.Vault, out io.Writer) (restored, problems int, err error) {
	files, err := st.AllFiles(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range files {
		if !needsBytes(f.Status) {
			continue
		}
		copyErr := copyStored(from, to, f)
		if copyErr == nil {
			restored++
			continue
		}

		problems++
		fmt.Fprintf(out, "FAILED    %s %q: %v; marked missing\n", f.ID, f.Name, copyErr)
		ev := store.AuditEvent{Actor: "system", ClientAddr: "local", Action: "restore", Outcome: store.OutcomeFailure,
			Detail: "bytes not restored intact from the backup: " + copyErr.Error()}
		if err := st.MarkMissing(ctx, f.ID, ev); err != nil {
			return restored, problems, err
		}
	}
	return restored, problems, nil
}

// copyFileSynced copies one file with mode 0600 and syncs it to disk.
func copyFileSynced(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("open %s: %w", from, err)
	}
	defer src.Close()

	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", to, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return fmt.Errorf("sync %s: %w", to, err)
	}
	return dst.Close()
}
