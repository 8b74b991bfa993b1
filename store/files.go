package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// File states. A file moves between them only through the store, in one
// transaction with its audit event.
const (
	StatusPending  = "pending"  // held in quarantine until a scan settles it
	StatusClean    = "clean"    // scanned, nothing found; downloadable
	StatusInfected = "infected" // a signature matched; never downloadable
	// StatusUnscannable is a pending file the scanner could not judge (an
	// encrypted archive, a file over its limits); never downloadable.
	StatusUnscannable = "unscannable"
	StatusUnscanned   = "unscanned" // stored with scanning turned off by the operator
	StatusMissing     = "missing"   // the row's bytes were not found on disk
)

// File is the metadata of one stored file. Name is display text only: the
// bytes live under the random ID.
type File struct {
	ID          string
	OwnerID     string
	Name        string
	Size        int64
	SHA256      string // lowercase hex
	ContentType string // from content sniffing, never from the client
	Status      string
	CreatedAt   time.Time
	Scan        ScanInfo
}

// ScanInfo records which scanner produced a file's verdict.
type ScanInfo struct {
	Engine     string    // ClamAV engine version, "" when never scanned
	Signatures int       // signature database version, 0 when unknown
	ScannedAt  time.Time // zero when never scanned
	Signature  string    // what the scanner found, "" when clean
}

// Downloadable reports whether the file's bytes may be served.
func (f File) Downloadable() bool {
	return f.Status == StatusClean || f.Status == StatusUnscanned
}

const selectFileColumns = `
SELECT id, owner_id, name, size, sha256, content_type, status, created_at,
       scan_engine, scan_signatures, scanned_at, signature
FROM files`

// CreateFile inserts the row of a file whose bytes are already committed to
// the vault, and records ev in the same transaction. f.ID must be set.
// Concurrent calls share one commit; see groupCommitter.
func (s *Store) CreateFile(ctx context.Context, f File, ev AuditEvent) (File, error) {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	}

	err := s.group.submit(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO files (id, owner_id, name, size, sha256, content_type, status, created_at,
                   scan_engine, scan_signatures, scanned_at, signature)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.OwnerID, f.Name, f.Size, f.SHA256, f.ContentType, f.Status, formatTime(f.CreatedAt),
			f.Scan.Engine, f.Scan.Signatures, nullTime(f.Scan.ScannedAt), f.Scan.Signature)
		if err != nil {
			return fmt.Errorf("insert file %s: %w", f.ID, err)
		}

		ev.Target = "file:" + f.ID
		return s.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return File{}, err
	}
	return f, nil
}

// FileByID returns a file by id, whoever owns it.
func (s *Store) FileByID(ctx context.Context, id string) (File, error) {
	if !ValidID(id) {
		return File{}, ErrNotFound
	}
	row := s.read.QueryRowContext(ctx, selectFileColumns+` WHERE id = ?`, id)
	return scanFile(row)
}

// FileForUser returns a file that user may see: their own, or any file for
// an admin. Someone else's file is ErrNotFound, the same as a missing id, so
// ids cannot be probed.
func (s *Store) FileForUser(ctx context.Context, user User, id string) (File, error) {
	f, err := s.FileByID(ctx, id)
	if err != nil {
		return File{}, err
	}
	if f.OwnerID != user.ID && !user.IsAdmin {
		return File{}, ErrNotFound
	}
	return f, nil
}

// ListFiles returns a user's files, newest first.
func (s *Store) ListFiles(ctx context.Context, ownerID string) ([]File, error) {
	rows, err := s.read.QueryContext(ctx, selectFileColumns+`
WHERE owner_id = ?
ORDER BY created_at DESC, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list files of %s: %w", ownerID, err)
	}
	defer rows.Close()

	files := []File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, rows.Err()
}

// CountFiles returns the number of file rows; tests use it to check that a
// refused upload wrote nothing.
func (s *Store) CountFiles(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM files`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count files: %w", err)
	}
	return n, nil
}

// DeleteFile removes a file's row and records ev in the same transaction.
// The caller removes the bytes after this returns, so a crash in between
// leaves an orphan file (reported at start), never a row without bytes.
func (s *Store) DeleteFile(ctx context.Context, id string, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete file %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}

		ev.Target = "file:" + id
		return s.insertAudit(ctx, tx, ev)
	})
}

func scanFile(row rowScanner) (File, error) {
	var f File
	var created string
	var scanned sql.NullString
	err := row.Scan(&f.ID, &f.OwnerID, &f.Name, &f.Size, &f.SHA256, &f.ContentType, &f.Status, &created,
		&f.Scan.Engine, &f.Scan.Signatures, &scanned, &f.Scan.Signature)
	if err == sql.ErrNoRows {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("scan file: %w", err)
	}
	if f.CreatedAt, err = parseTime(created); err != nil {
		return File{}, err
	}
	if scanned.Valid {
		if f.Scan.ScannedAt, err = parseTime(scanned.String); err != nil {
			return File{}, err
		}
	}
	return f, nil
}

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// SettleFile moves a pending file to status with its scan result, and
// records ev in the same transaction. It returns ErrNotFound when the file
// is gone or no longer pending, so a late scan never overrides a delete.
func (s *Store) SettleFile(ctx context.Context, id, status string, scan ScanInfo, ev AuditEvent) error {
	return s.setStatus(ctx, id, StatusPending, status, scan, ev)
}

// MarkInfected records that a rescan found a stored file infected.
func (s *Store) MarkInfected(ctx context.Context, id string, scan ScanInfo, ev AuditEvent) error {
	return s.setStatus(ctx, id, "", StatusInfected, scan, ev)
}

// RecordScan updates a stored file's scan result without changing its
// status, after a rescan found it still clean.
func (s *Store) RecordScan(ctx context.Context, id string, scan ScanInfo) error {
	_, err := s.write.ExecContext(ctx, `
UPDATE files SET scan_engine = ?, scan_signatures = ?, scanned_at = ?, signature = ?
WHERE id = ?`, scan.Engine, scan.Signatures, nullTime(scan.ScannedAt), scan.Signature, id)
	if err != nil {
		return fmt.Errorf("record scan of file %s: %w", id, err)
	}
	return nil
}

// setStatus changes a file's status; from, when not "", is the status the
// file must have now.
func (s *Store) setStatus(ctx context.Context, id, from, to string, scan ScanInfo, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE files
SET status = ?, scan_engine = ?, scan_signatures = ?, scanned_at = ?, signature = ?
WHERE id = ? AND (? = '' OR status = ?)`,
			to, scan.Engine, scan.Signatures, nullTime(scan.ScannedAt), scan.Signature, id, from, from)
		if err != nil {
			return fmt.Errorf("set file %s to %s: %w", id, to, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}

		ev.Target = "file:" + id
		return s.insertAudit(ctx, tx, ev)
	})
}

// FilesByStatus returns every file with status, oldest first.
func (s *Store) FilesByStatus(ctx context.Context, status string) ([]File, error) {
	rows, err := s.read.QueryContext(ctx, selectFileColumns+`
WHERE status = ?
ORDER BY created_at, id`, status)
	if err != nil {
		return nil, fmt.Errorf("list %s files: %w", status, err)
	}
	defer rows.Close()

	files := []File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, rows.Err()
}

// CountByStatus returns the number of files in each status.
func (s *Store) CountByStatus(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT status, COUNT(*) FROM files GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count files by status: %w", err)
	}
	defer rows.Close()

	counts := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("count files by status: %w", err)
		}
		counts[status] = n
	}
	return counts, rows.Err()
}
