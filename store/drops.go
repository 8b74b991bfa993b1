package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LinkFull is the state of a drop that takes no more files.
const LinkFull = "full"

var (
	// ErrDropFull means a drop already holds, or has reserved, as many files
	// as it takes.
	ErrDropFull = errors.New("drop is full")
	// ErrDropNoRoom means a drop has no bytes left for another file.
	ErrDropNoRoom = errors.New("drop has no room left")
)

// Drop is a link through which anyone who holds its token can upload files
// into its owner's files. Only the SHA-256 of the token is stored.
type Drop struct {
	ID                    string
	OwnerID               string
	TokenHash             []byte
	Label                 string
	PasswordHash          string // argon2id PHC string; "" for no password
	UnlockKey             []byte // HMAC key of the cookie that proves the password was entered
	MaxFiles              int64  // 0 means no limit
	MaxBytes              int64  // 0 means no limit
	CloseAfterFirstUpload bool
	Files                 int64 // stored files plus uploads in progress
	Bytes                 int64 // bytes of stored files plus reservations of uploads in progress
	CreatedAt             time.Time
	ExpiresAt             time.Time
	RevokedAt             time.Time // zero while not revoked
}

// FileLimit returns the number of files the drop takes, 0 for no limit. A
// drop closed after its first upload takes one.
func (d Drop) FileLimit() int64 {
	if d.CloseAfterFirstUpload {
		return 1
	}
	return d.MaxFiles
}

// State returns the drop's state at now: revoked, expired, full or active.
func (d Drop) State(now time.Time) string {
	switch {
	case !d.RevokedAt.IsZero():
		return LinkRevoked
	case !now.Before(d.ExpiresAt):
		return LinkExpired
	case d.FileLimit() > 0 && d.Files >= d.FileLimit():
		return LinkFull
	case d.MaxBytes > 0 && d.Bytes >= d.MaxBytes:
		return LinkFull
	}
	return LinkActive
}

// HasPassword reports whether the drop requires a password.
func (d Drop) HasPassword() bool { return d.PasswordHash != "" }

// DropUpload links a stored file to the drop it arrived through.
type DropUpload struct {
	FileID       string
	DropID       string
	VisitorHash  []byte // SHA-256 of the uploading browser's visitor cookie
	UploaderName string
	Note         string
	CreatedAt    time.Time
}

// DropFile is a file that arrived through a drop, with who sent it.
type DropFile struct {
	File
	Upload DropUpload
}

const selectDropColumns = `
SELECT id, owner_id, token_hash, label, password_hash, unlock_key, max_files, max_bytes,
       close_after_first_upload, files, bytes, created_at, expires_at, revoked_at
FROM drops`

// CreateDrop inserts a drop and records ev in the same transaction. Every
// field but Files and Bytes must be set by the caller.
func (s *Store) CreateDrop(ctx context.Context, d Drop, ev AuditEvent) (Drop, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO drops (id, owner_id, token_hash, label, password_hash, unlock_key, max_files, max_bytes,
                   close_after_first_upload, files, bytes, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
			d.ID, d.OwnerID, d.TokenHash, d.Label, d.PasswordHash, d.UnlockKey, nullPositive(d.MaxFiles),
			nullPositive(d.MaxBytes), d.CloseAfterFirstUpload, formatTime(d.CreatedAt), formatTime(d.ExpiresAt))
		if err != nil {
			return fmt.Errorf("insert drop %s: %w", d.ID, err)
		}

		ev.Target = "drop:" + d.ID
		return s.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return Drop{}, err
	}
	return d, nil
}

// DropByTokenHash returns the drop whose token hashes to tokenHash, whatever
// its state.
func (s *Store) DropByTokenHash(ctx context.Context, tokenHash []byte) (Drop, error) {
	return scanDrop(s.read.QueryRowContext(ctx, selectDropColumns+` WHERE token_hash = ?`, tokenHash))
}

// DropForOwner returns one of ownerID's drops. Another user's drop is
// ErrNotFound, like a missing id.
func (s *Store) DropForOwner(ctx context.Context, ownerID, id string) (Drop, error) {
	if !ValidID(id) {
		return Drop{}, ErrNotFound
	}
	return scanDrop(s.read.QueryRowContext(ctx, selectDropColumns+` WHERE id = ? AND owner_id = ?`, id, ownerID))
}

// DropByID returns a drop by id, without checking its owner.
func (s *Store) DropByID(ctx context.Context, id string) (Drop, error) {
	if !ValidID(id) {
		return Drop{}, ErrNotFound
	}
	return scanDrop(s.read.QueryRowContext(ctx, selectDropColumns+` WHERE id = ?`, id))
}

// ListDrops returns ownerID's drops, newest first, in every state.
func (s *Store) ListDrops(ctx context.Context, ownerID string) ([]Drop, error) {
	rows, err := s.read.QueryContext(ctx, selectDropColumns+`
WHERE owner_id = ?
ORDER BY created_at DESC, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list drops of %s: %w", ownerID, err)
	}
	defer rows.Close()

	drops := []Drop{}
	for rows.Next() {
		d, err := scanDrop(rows)
		if err != nil {
			return nil, err
		}
		drops = append(drops, d)
	}
	return drops, rows.Err()
}

// RevokeDrop ends one of ownerID's drops at once and records ev in the same
// transaction. Uploads already in progress may still finish. Revoking a
// revoked drop is not an error. Another user's drop is ErrNotFound.
func (s *Store) RevokeDrop(ctx context.Context, ownerID, id string, ev AuditEvent) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE drops SET revoked_at = COALESCE(revoked_at, ?)
WHERE id = ? AND owner_id = ?`, formatTime(s.now()), id, ownerID)
		if err != nil {
			return fmt.Errorf("revoke drop %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}

		ev.Target = "drop:" + id
		return s.insertAudit(ctx, tx, ev)
	})
}

// ReserveDropSlot takes one file slot of a drop and up to maxSize bytes of
// its byte budget, before the upload's body is read. It returns the bytes
// reserved: maxSize, or less when the drop has less room left, so the
// caller must refuse a file larger than the reservation. The check and the
// update run in one write transaction, so concurrent uploaders can never
// take more slots or bytes than the drop has.
//
// A revoked or expired drop is ErrNotFound; a drop without a free slot is
// ErrDropFull; one without a byte left is ErrDropNoRoom. Every reservation
// ends with ReleaseDropSlot or AttachDropUpload.
func (s *Store) ReserveDropSlot(ctx context.Context, dropID string, maxSize int64) (int64, error) {
	var reserved int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := scanDrop(tx.QueryRowContext(ctx, selectDropColumns+` WHERE id = ?`, dropID))
		if err != nil {
			return err
		}

		switch {
		case !d.RevokedAt.IsZero() || !s.now().Before(d.ExpiresAt):
			return ErrNotFound
		case d.FileLimit() > 0 && d.Files >= d.FileLimit():
			return ErrDropFull
		case d.MaxBytes > 0 && d.Bytes >= d.MaxBytes:
			return ErrDropNoRoom
		}

		reserved = maxSize
		if d.MaxBytes > 0 {
			reserved = min(reserved, d.MaxBytes-d.Bytes)
		}
		_, err = tx.ExecContext(ctx, `UPDATE drops SET files = files + 1, bytes = bytes + ? WHERE id = ?`, reserved, dropID)
		if err != nil {
			return fmt.Errorf("reserve a slot of drop %s: %w", dropID, err)
		}
		return nil
	})
	return reserved, err
}

// ReleaseDropSlot returns the slot and the reserved bytes of an upload that
// was not stored.
func (s *Store) ReleaseDropSlot(ctx context.Context, dropID string, reserved int64) error {
	_, err := s.write.ExecContext(ctx, `
UPDATE drops SET files = MAX(files - 1, 0), bytes = MAX(bytes - ?, 0) WHERE id = ?`, reserved, dropID)
	if err != nil {
		return fmt.Errorf("release a slot of drop %s: %w", dropID, err)
	}
	return nil
}

// AttachDropUpload records that a stored file arrived through a drop,
// replaces the upload's byte reservation with the file's real size, and
// records ev, all in one transaction.
func (s *Store) AttachDropUpload(ctx context.Context, up DropUpload, reserved, size int64, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO drop_uploads (file_id, drop_id, visitor_hash, uploader_name, note, created_at)
VALUES (?, ?, ?, ?, ?, ?)`,
			up.FileID, up.DropID, up.VisitorHash, up.UploaderName, up.Note, formatTime(up.CreatedAt))
		if err != nil {
			return fmt.Errorf("link file %s to drop %s: %w", up.FileID, up.DropID, err)
		}

		_, err = tx.ExecContext(ctx, `UPDATE drops SET bytes = MAX(bytes - ? + ?, 0) WHERE id = ?`, reserved, size, up.DropID)
		if err != nil {
			return fmt.Errorf("count bytes of drop %s: %w", up.DropID, err)
		}

		ev.Target = "drop:" + up.DropID
		return s.insertAudit(ctx, tx, ev)
	})
}

// DropFiles returns the files still stored that arrived through a drop,
// newest first.
func (s *Store) DropFiles(ctx context.Context, dropID string) ([]DropFile, error) {
	return s.dropFiles(ctx, dropID, false, nil)
}

// VisitorDropFiles returns the files still stored that one visitor, known
// by the hash of their visitor cookie, uploaded through a drop, newest
// first.
func (s *Store) VisitorDropFiles(ctx context.Context, dropID string, visitorHash []byte) ([]DropFile, error) {
	return s.dropFiles(ctx, dropID, true, visitorHash)
}

func (s *Store) dropFiles(ctx context.Context, dropID string, oneVisitor bool, visitorHash []byte) ([]DropFile, error) {
	rows, err := s.read.QueryContext(ctx, `
SELECT f.id, f.owner_id, f.name, f.size, f.sha256, f.content_type, f.status, f.created_at,
       u.visitor_hash, u.uploader_name, u.note, u.created_at
FROM drop_uploads u JOIN files f ON f.id = u.file_id
WHERE u.drop_id = ? AND (? = 0 OR u.visitor_hash = ?)
ORDER BY u.created_at DESC, f.id`, dropID, oneVisitor, visitorHash)
	if err != nil {
		return nil, fmt.Errorf("list files of drop %s: %w", dropID, err)
	}
	defer rows.Close()

	files := []DropFile{}
	for rows.Next() {
		df := DropFile{Upload: DropUpload{DropID: dropID}}
		var fileCreated, uploaded string
		err := rows.Scan(&df.ID, &df.OwnerID, &df.Name, &df.Size, &df.SHA256, &df.ContentType, &df.Status, &fileCreated,
			&df.Upload.VisitorHash, &df.Upload.UploaderName, &df.Upload.Note, &uploaded)
		if err != nil {
			return nil, fmt.Errorf("scan file of drop %s: %w", dropID, err)
		}
		df.Upload.FileID = df.ID
		if df.CreatedAt, err = parseTime(fileCreated); err != nil {
			return nil, err
		}
		if df.Upload.CreatedAt, err = parseTime(uploaded); err != nil {
			return nil, err
		}
		files = append(files, df)
	}
	return files, rows.Err()
}

// TakeNewDropArrivals returns how many files reached userID's drops since
// the last call for userID (every arrival on the first call), and marks
// them seen, in one transaction.
func (s *Store) TakeNewDropArrivals(ctx context.Context, userID string) (int, error) {
	now := formatTime(s.now())
	var count int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `
SELECT COUNT(*)
FROM drop_uploads u JOIN drops d ON d.id = u.drop_id
WHERE d.owner_id = ?
  AND u.created_at > COALESCE((SELECT seen_at FROM drop_arrivals_seen WHERE user_id = ?), '')`,
			userID, userID).Scan(&count)
		if err != nil {
			return fmt.Errorf("count new drop arrivals of %s: %w", userID, err)
		}

		_, err = tx.ExecContext(ctx, `
INSERT INTO drop_arrivals_seen (user_id, seen_at) VALUES (?, ?)
ON CONFLICT (user_id) DO UPDATE SET seen_at = excluded.seen_at`, userID, now)
		if err != nil {
			return fmt.Errorf("mark drop arrivals of %s seen: %w", userID, err)
		}
		return nil
	})
	return count, err
}

func scanDrop(row rowScanner) (Drop, error) {
	var d Drop
	var maxFiles, maxBytes sql.NullInt64
	var created, expires string
	var revoked sql.NullString
	err := row.Scan(&d.ID, &d.OwnerID, &d.TokenHash, &d.Label, &d.PasswordHash, &d.UnlockKey, &maxFiles, &maxBytes,
		&d.CloseAfterFirstUpload, &d.Files, &d.Bytes, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Drop{}, ErrNotFound
	}
	if err != nil {
		return Drop{}, fmt.Errorf("scan drop: %w", err)
	}

	d.MaxFiles, d.MaxBytes = maxFiles.Int64, maxBytes.Int64
	if d.CreatedAt, err = parseTime(created); err != nil {
		return Drop{}, err
	}
	if d.ExpiresAt, err = parseTime(expires); err != nil {
		return Drop{}, err
	}
	if revoked.Valid {
		if d.RevokedAt, err = parseTime(revoked.String); err != nil {
			return Drop{}, err
		}
	}
	return d, nil
}

// settingDropWebhookSecret holds the key that signs each drop webhook notice,
// so its receiver can tell vaultdrop's notices from forged ones.
const settingDropWebhookSecret = "drop_webhook_secret"

// DropWebhookSecret returns the drop webhook's signing secret, or "" when
// none was made yet.
func (s *Store) DropWebhookSecret(ctx context.Context) (string, error) {
	return s.settingOrEmpty(ctx, settingDropWebhookSecret)
}

// SetDropWebhookSecret replaces the drop webhook's signing secret and
// records ev in the same transaction. ev must not hold the secret.
func (s *Store) SetDropWebhookSecret(ctx context.Context, secret string, ev AuditEvent) error {
	return s.setSetting(ctx, settingDropWebhookSecret, secret, ev)
}

// settingDropWebhookURL is the URL that receives a notice for each file
// that arrives through a drop link; absent or "" when none is set.
const settingDropWebhookURL = "drop_webhook_url"

// DropWebhookURL returns the drop webhook's URL, or "" when none is set.
func (s *Store) DropWebhookURL(ctx context.Context) (string, error) {
	return s.settingOrEmpty(ctx, settingDropWebhookURL)
}

// SetDropWebhookURL replaces the drop webhook's URL ("" turns it off) and
// records ev in the same transaction.
func (s *Store) SetDropWebhookURL(ctx context.Context, url string, ev AuditEvent) error {
	return s.setSetting(ctx, settingDropWebhookURL, url, ev)
}
