package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/vaultdrop/vaultdrop/store"
)

// RecoverAtStart checks and repairs the data directory before the server
// takes requests, while the caller holds the data directory's lock:
//
//  1. PRAGMA quick_check: a damaged database stops the start with a message
//     that explains how to restore a backup;
//  2. files left in vault/incoming by an upload that never finished are
//     deleted (unfinished resumable uploads expire on their own schedule,
//     when the server builds their handler);
//  3. rows and vault files are brought back in line (see store.Recover):
//     rows without bytes become missing, files without rows move to
//     vault/orphans and are reported.
func RecoverAtStart(ctx context.Context, st *store.Store, vault *store.Vault, dataDir string, log *slog.Logger) error {
	if err := st.QuickCheck(ctx); err != nil {
		return DatabaseOpenError(dataDir, err)
	}

	removed, err := vault.ClearIncoming()
	if err != nil {
		return err
	}
	if removed > 0 {
		log.Info("removed unfinished uploads from an earlier run", "count", removed)
	}

	rec, err := st.Recover(ctx, vault)
	if err != nil {
		return fmt.Errorf("recover data directory %s: %w", dataDir, err)
	}
	logRecovery(log, vault, rec)
	return nil
}

// logRecovery reports what recovery changed, one record per kind.
func logRecovery(log *slog.Logger, vault *store.Vault, rec store.Recovery) {
	if len(rec.Missing) > 0 {
		log.Error("files whose bytes are gone were marked missing; restore them from a backup",
			"count", len(rec.Missing), "file_ids", rec.Missing)
	}
	if len(rec.Requeued) > 0 {
		log.Warn("files found only in quarantine are held as pending for a new scan",
			"count", len(rec.Requeued), "file_ids", rec.Requeued)
	}
	if len(rec.Requarantined) > 0 {
		log.Warn("bytes of infected files were moved out of the served vault into quarantine",
			"count", len(rec.Requarantined), "file_ids", rec.Requarantined)
	}
	if len(rec.Orphans) > 0 {
		log.Warn("vault files without a row were moved aside; they are never served and can be deleted",
			"count", len(rec.Orphans), "folder", vault.OrphansDir(), "file_ids", rec.Orphans)
	}
	if len(rec.Unexpected) > 0 {
		log.Warn("the vault contains entries vaultdrop did not write; they were left alone",
			"count", len(rec.Unexpected), "paths", rec.Unexpected)
	}
}

// DatabaseOpenError explains a damaged database to the operator and
// returns any other error unchanged.
func DatabaseOpenError(dataDir string, err error) error {
	if !store.IsCorrupt(err) {
		return err
	}
	path := filepath.Join(dataDir, store.DatabaseFile)
	return fmt.Errorf("the database %s is damaged (%w). vaultdrop does not start on a damaged database, so that nothing more is lost. "+
		"Restore the latest backup with: vaultdrop restore BACKUP --data-dir %s --force "+
		"(the damaged files are kept aside, not deleted), then check it with: vaultdrop verify --data-dir %s",
		path, err, dataDir, dataDir)
}
