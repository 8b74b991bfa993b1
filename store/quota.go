package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// usedBytesStatuses are the statuses whose bytes count against a quota:
// the files kept on disk for their owner. Infected, unscannable and missing
// rows keep no bytes the owner can use, so they do not count.
const usedBytesStatuses = `'pending', 'clean', 'unscanned'`

// UserStorage is one user's storage: the quota an admin set and the bytes
// the user's files take.
type UserStorage struct {
	UserID   string
	Username string
	IsAdmin  bool
	// Quota is the user's own quota in bytes, 0 for none; it applies only
	// when QuotaSet is true, and the server's --user-quota applies otherwise.
	Quota    int64
	QuotaSet bool
	Used     int64 // bytes of pending, clean and unscanned files
	Files    int   // number of those files
}

const selectUserStorage = `
SELECT u.id, u.username, u.is_admin, u.quota_bytes,
       COALESCE(SUM(f.size), 0), COUNT(f.id)
FROM users u
LEFT JOIN files f ON f.owner_id = u.id AND f.status IN (` + usedBytesStatuses + `)`

// StorageOf returns a user's quota setting and usage.
func (s *Store) StorageOf(ctx context.Context, userID string) (UserStorage, error) {
	row := s.read.QueryRowContext(ctx, selectUserStorage+`
WHERE u.id = ?
GROUP BY u.id`, userID)
	st, err := scanUserStorage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return UserStorage{}, ErrNotFound
	}
	return st, err
}

// ListUserStorage returns every user's quota setting and usage, by username.
func (s *Store) ListUserStorage(ctx context.Context) ([]UserStorage, error) {
	rows, err := s.read.QueryContext(ctx, selectUserStorage+`
GROUP BY u.id
ORDER BY u.username`)
	if err != nil {
		return nil, fmt.Errorf("list user storage: %w", err)
	}
	defer rows.Close()

	var list []UserStorage
	for rows.Next() {
		st, err := scanUserStorage(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, st)
	}
	return list, rows.Err()
}

func scanUserStorage(row rowScanner) (UserStorage, error) {
	var st UserStorage
	var quota sql.NullInt64
	err := row.Scan(&st.UserID, &st.Username, &st.IsAdmin, &quota, &st.Used, &st.Files)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return UserStorage{}, err
		}
		return UserStorage{}, fmt.Errorf("scan user storage: %w", err)
	}
	st.Quota, st.QuotaSet = quota.Int64, quota.Valid
	return st, nil
}

// SetUserQuota sets a user's own quota in bytes (0 for none), or with nil
// returns the user to the server's default, and records ev in the same
// transaction.
func (s *Store) SetUserQuota(ctx context.Context, userID string, quota *int64, ev AuditEvent) error {
	if quota != nil && *quota < 0 {
		return fmt.Errorf("set quota of user %s: negative quota %d", userID, *quota)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var value any
		if quota != nil {
			value = *quota
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET quota_bytes = ? WHERE id = ?`, value, userID)
		if err != nil {
			return fmt.Errorf("set quota of user %s: %w", userID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.insertAudit(ctx, tx, ev)
	})
}

// QuotaSetting returns a user's own quota in bytes and whether an admin set
// one; when set is false the server's default applies.
func (s *Store) QuotaSetting(ctx context.Context, userID string) (quota int64, set bool, err error) {
	var value sql.NullInt64
	err = s.read.QueryRowContext(ctx, `SELECT quota_bytes FROM users WHERE id = ?`, userID).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, ErrNotFound
	}
	if err != nil {
		return 0, false, fmt.Errorf("read quota of user %s: %w", userID, err)
	}
	return value.Int64, value.Valid, nil
}

// UsedBytes returns the bytes of a user's pending, clean and unscanned
// files.
func (s *Store) UsedBytes(ctx context.Context, userID string) (int64, error) {
	var used int64
	err := s.read.QueryRowContext(ctx, `
SELECT COALESCE(SUM(size), 0) FROM files
WHERE owner_id = ? AND status IN (`+usedBytesStatuses+`)`, userID).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("sum stored bytes of user %s: %w", userID, err)
	}
	return used, nil
}
