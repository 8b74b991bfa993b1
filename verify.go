package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// runVerify runs "vaultdrop verify": it checks the database with PRAGMA
// integrity_check, hashes every stored file again and compares it with its
// row, and lists files without a row. It only reads, so it works while a
// server runs on the same data directory, and exits non-zero when anything
// is wrong.
func runVerify(ctx context.Context, args []string, e env) error {
	fs, dataDir := newCommandFlags("verify", "vaultdrop verify [flags]", e)
	if err := parseFlags(fs, args, e); err != nil {
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

	report, err := verifyData(ctx, st, vault, e.stdout)
	if err != nil {
		return err
	}
	if n := report.problems(); n > 0 {
		return fmt.Errorf("verify found %d problems in %s; see the lines above", n, *dataDir)
	}
	return nil
}

// verifyReport counts what verifyData found.
type verifyReport struct {
	Files      int   // rows checked
	Bytes      int64 // bytes hashed
	Corrupt    bool  // the database failed integrity_check
	Mismatched int   // bytes whose SHA-256 or size differs from the row
	Missing    int   // rows whose bytes are nowhere
	Orphans    int   // vault files without a row
	SetAside   int   // files in vault/orphans, moved there at an earlier start
	Unexpected int   // vault entries that vaultdrop does not write
}

func (r verifyReport) problems() int {
	n := r.Mismatched + r.Missing + r.Orphans
	if r.Corrupt {
		n++
	}
	return n
}

// verifyData checks a data directory and writes one line per problem and
// a summary to out. It returns an error only when it could not check.
func verifyData(ctx context.Context, st *store.Store, vault *store.Vault, out io.Writer) (verifyReport, error) {
	var report verifyReport

	if err := st.IntegrityCheck(ctx); err != nil {
		if !store.IsCorrupt(err) {
			return report, err
		}
		report.Corrupt = true
		fmt.Fprintf(out, "CORRUPT   database: %v\n", err)
	} else {
		fmt.Fprintln(out, "database: integrity_check ok")
	}

	// The vault is listed before the rows are read: a file committed in
	// between then has a row, and one without a row is checked again at
	// the end.
	contents, err := vault.List()
	if err != nil {
		return report, err
	}
	files, err := st.AllFiles(ctx)
	if err != nil {
		return report, err
	}

	rows := make(map[string]bool, len(files))
	for _, f := range files {
		rows[f.ID] = true
		if err := verifyFile(ctx, st, vault, f, &report, out); err != nil {
			return report, err
		}
	}
	if err := verifyOrphans(ctx, st, vault, contents, rows, &report, out); err != nil {
		return report, err
	}

	report.SetAside = len(contents.Orphans)
	if report.SetAside > 0 {
		fmt.Fprintf(out, "note: %d files without a row were set aside in %s at an earlier start; they are never served and can be deleted\n",
			report.SetAside, vault.OrphansDir())
	}
	report.Unexpected = len(contents.Unexpected)
	for _, p := range contents.Unexpected {
		fmt.Fprintf(out, "note: vault/%s is not something vaultdrop writes; left alone\n", p)
	}

	fmt.Fprintf(out, "checked %d files (%s): %d mismatched, %d missing, %d without a row\n",
		report.Files, config.FormatBytes(report.Bytes), report.Mismatched, report.Missing, report.Orphans)
	return report, nil
}

// verifyFile hashes the bytes of one row and compares them with it.
func verifyFile(ctx context.Context, st *store.Store, vault *store.Vault, f store.File, report *verifyReport, out io.Writer) error {
	report.Files++
	sum, size, err := hashStored(vault, f.ID)

	if errors.Is(err, store.ErrNotFound) {
		// The server may have moved the bytes (a settle), or deleted the file,
		// since the rows were read: look at the row as it is now.
		now, rowErr := st.FileByID(ctx, f.ID)
		if errors.Is(rowErr, store.ErrNotFound) {
			return nil
		}
		if rowErr != nil {
			return rowErr
		}
		f = now
		sum, size, err = hashStored(vault, f.ID)
	}

	switch {
	case errors.Is(err, store.ErrNotFound):
		if needsBytes(f.Status) {
			report.Missing++
			fmt.Fprintf(out, "MISSING   %s %q (%s): no bytes in the vault or quarantine\n", f.ID, f.Name, f.Status)
		}
		return nil
	case err != nil:
		return err
	}

	report.Bytes += size
	if sum != f.SHA256 || size != f.Size {
		report.Mismatched++
		fmt.Fprintf(out, "MISMATCH  %s %q (%s): the bytes have sha256 %s and %d bytes, but the row records %s and %d bytes\n",
			f.ID, f.Name, f.Status, sum, size, f.SHA256, f.Size)
	}
	return nil
}

// needsBytes reports whether a file in status must have bytes on disk.
// Infected files keep theirs only when a rescan quarantined them.
func needsBytes(status string) bool {
	switch status {
	case store.StatusClean, store.StatusUnscanned, store.StatusPending:
		return true
	}
	return false
}

// hashStored returns the SHA-256 and size of the bytes of id, from the
// served vault or from quarantine.
func hashStored(vault *store.Vault, id string) (string, int64, error) {
	f, _, err := vault.OpenAny(id)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()

	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read stored file %s: %w", id, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// verifyOrphans reports vault files without a row. Each is looked up once
// more, so an upload committed while verify ran is not reported.
func verifyOrphans(ctx context.Context, st *store.Store, vault *store.Vault, c store.VaultContents, rows map[string]bool, report *verifyReport, out io.Writer) error {
	for _, place := range []struct {
		ids    map[string]bool
		folder string
	}{{c.Stored, ""}, {c.Quarantined, "quarantine"}} {
		for id := range place.ids {
			if rows[id] {
				continue
			}
			_, err := st.FileByID(ctx, id)
			if err == nil {
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if !stillThere(vault, id) {
				continue // deleted while verify ran: its row went first
			}
			report.Orphans++
			fmt.Fprintf(out, "ORPHAN    vault/%s: a file without a row; the next server start moves it to vault/orphans\n",
				path.Join(place.folder, id[:2], id))
		}
	}
	return nil
}

// stillThere reports whether the bytes of id are in the vault or in
// quarantine.
func stillThere(vault *store.Vault, id string) bool {
	f, _, err := vault.OpenAny(id)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
