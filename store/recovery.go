package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"modernc.org/sqlite"
)

// ErrCorrupt means SQLite found the database file damaged.
var ErrCorrupt = errors.New("database is corrupt")

// SQLite result codes for a damaged file: SQLITE_CORRUPT and SQLITE_NOTADB.
const (
	sqliteCorrupt = 11
	sqliteNotADB  = 26
)

// IsCorrupt reports whether err shows that the database file is damaged, from a
// check or from any query that ran into the damage.
func IsCorrupt(err error) bool {
	if errors.Is(err, ErrCorrupt) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff // the primary code, without the extended bits
		return code == sqliteCorrupt || code == sqliteNotADB
	}
	return false
}

// QuickCheck runs PRAGMA quick_check, which checks the structure of every
// table and index in time linear in the database size but skips matching
// index entries to rows. It returns an error wrapping ErrCorrupt with
// SQLite's first findings when the file is damaged.
func (s *Store) QuickCheck(ctx context.Context) error {
	return s.checkPragma(ctx, "quick_check")
}

// IntegrityCheck runs PRAGMA integrity_check, the slower and complete form
// of QuickCheck that also matches every index to its table.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	return s.checkPragma(ctx, "integrity_check")
}

// checkPragma runs quick_check or integrity_check, asking for at most 10
// findings.
func (s *Store) checkPragma(ctx context.Context, pragma string) error {
	rows, err := s.read.QueryContext(ctx, "PRAGMA "+pragma+"(10)")
	if err != nil {
		if IsCorrupt(err) {
			return fmt.Errorf("%s: %w: %v", pragma, ErrCorrupt, err)
		}
		return fmt.Errorf("run %s: %w", pragma, err)
	}
	defer rows.Close()

	var findings []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("read %s result: %w", pragma, err)
		}
		findings = append(findings, line)
	}
	if err := rows.Err(); err != nil {
		if IsCorrupt(err) {
			return fmt.Errorf("%s: %w: %v", pragma, ErrCorrupt, err)
		}
		return fmt.Errorf("read %s result: %w", pragma, err)
	}

	if len(findings) == 1 && findings[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%s: %w: %s", pragma, ErrCorrupt, strings.Join(findings, "; "))
}

// Recovery is the report of one Recover run: the rows and files it changed
// or found.
type Recovery struct {
	Missing       []string // ids of rows marked missing: their bytes were nowhere
	Requeued      []string // ids of clean or unscanned rows found only in quarantine, now pending
	Requarantined []string // ids of infected rows whose bytes were in the served vault
	Orphans       []string // ids of files without a row, moved to vault/orphans
	Unexpected    []string // vault-relative paths that no vaultdrop writes; left alone
}

// fileState is the part of a row that recovery needs.
type fileState struct {
	id     string
	status string
}

// Recover brings rows and vault files back in line after a crash or a
// hand-edited data directory. Run it at start, while the data directory's
// lock is held and before the server takes requests:
//   - a clean, unscanned or pending row whose bytes are nowhere is marked
//     missing, with an audit event;
//   - a clean or unscanned row whose bytes are only in quarantine (a rescan
//     that moved them and stopped) becomes pending, so it is scanned again
//     before it is served;
//   - an infected row whose bytes are still in the served vault has them
//     moved to quarantine;
//   - a file without a row is moved to vault/orphans and reported, never
//     deleted.
func (s *Store) Recover(ctx context.Context, v *Vault) (Recovery, error) {
	var rec Recovery

	contents, err := v.List()
	if err != nil {
		return rec, err
	}
	rec.Unexpected = contents.Unexpected

	states, err := s.fileStates(ctx)
	if err != nil {
		return rec, err
	}

	for _, f := range states {
		if err := s.recoverRow(ctx, v, f, contents, &rec); err != nil {
			return rec, err
		}
	}
	if err := setAsideOrphans(v, contents, states, &rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// recoverRow checks one row against the vault contents.
func (s *Store) recoverRow(ctx context.Context, v *Vault, f fileState, c VaultContents, rec *Recovery) error {
	inVault, inQuarantine := c.Stored[f.id], c.Quarantined[f.id]

	switch f.status {
	case StatusClean, StatusUnscanned:
		if inVault {
			return nil
		}
		if inQuarantine {
			rec.Requeued = append(rec.Requeued, f.id)
			return s.recoverStatus(ctx, f, StatusPending,
				"bytes found only in quarantine, as after an interrupted rescan; held as pending for a new scan")
		}
		rec.Missing = append(rec.Missing, f.id)
		return s.recoverStatus(ctx, f, StatusMissing, "bytes not found in the vault; marked missing")

	case StatusPending:
		// An interrupted settle leaves the bytes already in the vault, where
		// the retry worker finds them too.
		if inVault || inQuarantine {
			return nil
		}
		rec.Missing = append(rec.Missing, f.id)
		return s.recoverStatus(ctx, f, StatusMissing, "bytes not found in quarantine or the vault; marked missing")

	case StatusInfected:
		if !inVault {
			return nil
		}
		rec.Requarantined = append(rec.Requarantined, f.id)
		return v.Quarantine(f.id)
	}
	return nil
}

// recoverStatus moves a row from its status to another with an audit
// event, unless it changed meanwhile.
func (s *Store) recoverStatus(ctx context.Context, f fileState, to, detail string) error {
	ev := AuditEvent{
		At: s.now(), Actor: "system", ClientAddr: "local", Action: "recover",
		Outcome: OutcomeFailure, Detail: f.status + " file: " + detail,
	}
	return s.changeStatus(ctx, f.id, f.status, to, ev)
}

// changeStatus sets a file's status, keeping its scan result, and records
// ev in the same transaction. When from is not "", the file must have that
// status now, and a file that is gone or in another status is left alone.
func (s *Store) changeStatus(ctx context.Context, id, from, to string, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE files SET status = ?
WHERE id = ? AND (? = '' OR status = ?)`, to, id, from, from)
		if err != nil {
			return fmt.Errorf("set file %s to %s: %w", id, to, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // changed meanwhile, so there is nothing to do
		}
		ev.Target = "file:" + id
		return s.insertAudit(ctx, tx, ev)
	})
}

// setAsideOrphans moves every listed file without a row to vault/orphans.
func setAsideOrphans(v *Vault, c VaultContents, states []fileState, rec *Recovery) error {
	rows := make(map[string]bool, len(states))
	for _, f := range states {
		rows[f.id] = true
	}

	for _, place := range []struct {
		ids         map[string]bool
		quarantined bool
	}{{c.Stored, false}, {c.Quarantined, true}} {
		for id := range place.ids {
			if rows[id] {
				continue
			}
			if err := v.SetAsideOrphan(id, place.quarantined); err != nil {
				return err
			}
			rec.Orphans = append(rec.Orphans, id)
		}
	}
	return nil
}

// fileStates returns the id and status of every file row.
func (s *Store) fileStates(ctx context.Context) ([]fileState, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, status FROM files`)
	if err != nil {
		return nil, fmt.Errorf("list file states: %w", err)
	}
	defer rows.Close()

	var states []fileState
	for rows.Next() {
		var f fileState
		if err := rows.Scan(&f.id, &f.status); err != nil {
			return nil, fmt.Errorf("scan file state: %w", err)
		}
		states = append(states, f)
	}
	return states, rows.Err()
}

// AllFiles returns every file row, oldest first, for checks that walk the
// whole vault (verify, backup).
func (s *Store) AllFiles(ctx context.Context) ([]File, error) {
	rows, err := s.read.QueryContext(ctx, selectFileColumns+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()

	var files []File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, rows.Err()
}

// sqliteFull is SQLITE_FULL: a write failed because the disk is full.
const sqliteFull = 13

// IsDiskFull reports whether err is a write that failed on a full disk,
// from SQLite or from the file system.
func IsDiskFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteFull
}
