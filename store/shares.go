package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Link states, as the owner sees them. A visitor gets the same response
// for every state but LinkActive as for an unknown link.
const (
	LinkActive    = "active"
	LinkExpired   = "expired"
	LinkExhausted = "exhausted"
	LinkRevoked   = "revoked"
)

// Share is a link that lets anyone who holds its token download a set of
// one owner's files. Only the SHA-256 of the token is stored.
type Share struct {
	ID           string
	OwnerID      string
	TokenHash    []byte
	PasswordHash string // argon2id PHC string; "" for no password
	UnlockKey    []byte // HMAC key of the cookie that proves the password was entered
	MaxDownloads int64  // 0 means no limit
	Downloads    int64
	CreatedAt    time.Time
	ExpiresAt    time.Time
	RevokedAt    time.Time // zero while not revoked
	FileIDs      []string  // the files still in the share, in the order given at creation
}

// State returns the share's state at now. A share past its limit and its
// expiry at once is reported as revoked, expired, then used up, in that
// order of precedence.
func (sh Share) State(now time.Time) string {
	switch {
	case !sh.RevokedAt.IsZero():
		return LinkRevoked
	case !now.Before(sh.ExpiresAt):
		return LinkExpired
	case sh.MaxDownloads > 0 && sh.Downloads >= sh.MaxDownloads:
		return LinkExhausted
	}
	return LinkActive
}

// HasPassword reports whether the share requires a password.
func (sh Share) HasPassword() bool { return sh.PasswordHash != "" }

const selectShareColumns = `
SELECT id, owner_id, token_hash, password_hash, unlock_key, max_downloads, downloads,
       created_at, expires_at, revoked_at
FROM shares`

// downloadableStatuses is the SQL list of statuses whose bytes may be served;
// it must match File.Downloadable.
const downloadableStatuses = `('` + StatusClean + `', '` + StatusUnscanned + `')`

// CreateShare inserts a share for sh.FileIDs and records ev in the same
// transaction. Each file must belong to sh.OwnerID and be downloadable when
// the transaction runs; otherwise nothing is inserted and the error is
// ErrNotFound. sh.ID, sh.CreatedAt and the rest must be set by the caller.
func (s *Store) CreateShare(ctx context.Context, sh Share, ev AuditEvent) (Share, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO shares (id, owner_id, token_hash, password_hash, unlock_key, max_downloads, downloads,
                    created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			sh.ID, sh.OwnerID, sh.TokenHash, sh.PasswordHash, sh.UnlockKey, nullPositive(sh.MaxDownloads),
			formatTime(sh.CreatedAt), formatTime(sh.ExpiresAt))
		if err != nil {
			return fmt.Errorf("insert share %s: %w", sh.ID, err)
		}

		for i, fileID := range sh.FileIDs {
			res, err := tx.ExecContext(ctx, `
INSERT INTO share_files (share_id, file_id, position)
SELECT ?, id, ? FROM files
WHERE id = ? AND owner_id = ? AND status IN `+downloadableStatuses,
				sh.ID, i, fileID, sh.OwnerID)
			if err != nil {
				return fmt.Errorf("add file %s to share %s: %w", fileID, sh.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("add file %s to share %s: %w", fileID, sh.ID, ErrNotFound)
			}
		}

		ev.Target = "share:" + sh.ID
		return s.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return Share{}, err
	}
	return sh, nil
}

// ShareByTokenHash returns the share whose token hashes to tokenHash,
// whatever its state.
func (s *Store) ShareByTokenHash(ctx context.Context, tokenHash []byte) (Share, error) {
	row := s.read.QueryRowContext(ctx, selectShareColumns+` WHERE token_hash = ?`, tokenHash)
	sh, err := scanShare(row)
	if err != nil {
		return Share{}, err
	}
	return s.withShareFiles(ctx, sh)
}

// ShareForOwner returns one of ownerID's shares. Another user's share is
// ErrNotFound, like a missing id.
func (s *Store) ShareForOwner(ctx context.Context, ownerID, id string) (Share, error) {
	if !ValidID(id) {
		return Share{}, ErrNotFound
	}
	row := s.read.QueryRowContext(ctx, selectShareColumns+` WHERE id = ? AND owner_id = ?`, id, ownerID)
	sh, err := scanShare(row)
	if err != nil {
		return Share{}, err
	}
	return s.withShareFiles(ctx, sh)
}

// ListShares returns ownerID's shares, newest first, in every state.
func (s *Store) ListShares(ctx context.Context, ownerID string) ([]Share, error) {
	rows, err := s.read.QueryContext(ctx, selectShareColumns+`
WHERE owner_id = ?
ORDER BY created_at DESC, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list shares of %s: %w", ownerID, err)
	}
	defer rows.Close()

	shares := []Share{}
	for rows.Next() {
		sh, err := scanShare(rows)
		if err != nil {
			return nil, err
		}
		shares = append(shares, sh)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shares of %s: %w", ownerID, err)
	}
	rows.Close()

	for i := range shares {
		if shares[i], err = s.withShareFiles(ctx, shares[i]); err != nil {
			return nil, err
		}
	}
	return shares, nil
}

// RevokeShare ends one of ownerID's shares at once and records ev in the
// same transaction. Revoking a revoked share keeps its first revocation
// time and is not an error. Another user's share is ErrNotFound.
func (s *Store) RevokeShare(ctx context.Context, ownerID, id string, ev AuditEvent) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE shares SET revoked_at = COALESCE(revoked_at, ?)
WHERE id = ? AND owner_id = ?`, formatTime(s.now()), id, ownerID)
		if err != nil {
			return fmt.Errorf("revoke share %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}

		ev.Target = "share:" + id
		return s.insertAudit(ctx, tx, ev)
	})
}

// ShareFiles returns the files still in a share, in share order, whatever
// their status; callers serve only the downloadable ones.
func (s *Store) ShareFiles(ctx context.Context, shareID string) ([]File, error) {
	rows, err := s.read.QueryContext(ctx, selectFileColumns+`
JOIN share_files sf ON sf.file_id = files.id
WHERE sf.share_id = ?
ORDER BY sf.position`, shareID)
	if err != nil {
		return nil, fmt.Errorf("list files of share %s: %w", shareID, err)
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

// CountShareDownload counts one download of a share before any byte is
// sent. fileID is the file being downloaded, or "" for the zip of the whole
// share. One statement checks that the share is neither revoked, expired
// nor used up, and that the file (for the zip: at least one file) is still
// in the share and downloadable. The same statement raises the count, so
// two requests racing for the last download cannot both win. It records the
// download for later resumption by clientAddr, and ev, in the same
// transaction. A share that fails any check is ErrNotFound.
func (s *Store) CountShareDownload(ctx context.Context, shareID, fileID, clientAddr string, ev AuditEvent) error {
	now := formatTime(s.now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE shares SET downloads = downloads + 1
WHERE id = ?
  AND (max_downloads IS NULL OR downloads < max_downloads)
  AND revoked_at IS NULL
  AND expires_at > ?
  AND EXISTS (
      SELECT 1 FROM share_files sf JOIN files f ON f.id = sf.file_id
      WHERE sf.share_id = shares.id AND (? = '' OR f.id = ?) AND f.status IN `+downloadableStatuses+`)`,
			shareID, now, fileID, fileID)
		if err != nil {
			return fmt.Errorf("count download of share %s: %w", shareID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}

		_, err = tx.ExecContext(ctx, `
INSERT INTO share_downloads (share_id, file_id, client_addr, at) VALUES (?, ?, ?, ?)`,
			shareID, fileID, clientAddr, now)
		if err != nil {
			return fmt.Errorf("record download of share %s: %w", shareID, err)
		}

		ev.Target = "share:" + shareID
		return s.insertAudit(ctx, tx, ev)
	})
}

// ShareResumeAllowed reports whether clientAddr may resume a download of
// fileID through a share without it counting again. That needs a share
// that is neither revoked nor expired, with the file still in it and
// downloadable. It also needs a counted download of that file through the
// share by clientAddr at or after since. A used-up share still allows it, so the last counted
// download can be finished.
func (s *Store) ShareResumeAllowed(ctx context.Context, shareID, fileID, clientAddr string, since time.Time) (bool, error) {
	var ok bool
	err := s.read.QueryRowContext(ctx, `
SELECT EXISTS (
    SELECT 1 FROM shares sh
    JOIN share_files sf ON sf.share_id = sh.id
    JOIN files f ON f.id = sf.file_id
    JOIN share_downloads d ON d.share_id = sh.id AND d.file_id = f.id
    WHERE sh.id = ? AND f.id = ? AND d.client_addr = ? AND d.at >= ?
      AND sh.revoked_at IS NULL AND sh.expires_at > ?
      AND f.status IN `+downloadableStatuses+`)`,
		shareID, fileID, clientAddr, formatTime(since), formatTime(s.now())).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check resumption of share %s: %w", shareID, err)
	}
	return ok, nil
}

func (s *Store) withShareFiles(ctx context.Context, sh Share) (Share, error) {
	rows, err := s.read.QueryContext(ctx, `
SELECT file_id FROM share_files WHERE share_id = ? ORDER BY position`, sh.ID)
	if err != nil {
		return Share{}, fmt.Errorf("list file ids of share %s: %w", sh.ID, err)
	}
	defer rows.Close()

	sh.FileIDs = []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return Share{}, fmt.Errorf("scan file id of share %s: %w", sh.ID, err)
		}
		sh.FileIDs = append(sh.FileIDs, id)
	}
	return sh, rows.Err()
}

func scanShare(row rowScanner) (Share, error) {
	var sh Share
	var maxDownloads sql.NullInt64
	var created, expires string
	var revoked sql.NullString
	err := row.Scan(&sh.ID, &sh.OwnerID, &sh.TokenHash, &sh.PasswordHash, &sh.UnlockKey, &maxDownloads,
		&sh.Downloads, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, ErrNotFound
	}
	if err != nil {
		return Share{}, fmt.Errorf("scan share: %w", err)
	}

	sh.MaxDownloads = maxDownloads.Int64
	if sh.CreatedAt, err = parseTime(created); err != nil {
		return Share{}, err
	}
	if sh.ExpiresAt, err = parseTime(expires); err != nil {
		return Share{}, err
	}
	if revoked.Valid {
		if sh.RevokedAt, err = parseTime(revoked.String); err != nil {
			return Share{}, err
		}
	}
	return sh, nil
}

// nullPositive stores 0 (no limit) as NULL.
func nullPositive(n int64) any {
	if n <= 0 {
		return nil
	}
	return n
}
