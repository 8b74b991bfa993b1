package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a signed-in browser. Only the SHA-256 of its token is stored,
// so a copy of the database does not let anyone sign in.
type Session struct {
	TokenHash  []byte
	UserID     string
	ClientAddr string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// CreateSession stores a session and records ev in the same transaction.
func (s *Store) CreateSession(ctx context.Context, sess Session, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO sessions (token_hash, user_id, client_addr, created_at, expires_at)
VALUES (?, ?, ?, ?, ?)`,
			sess.TokenHash, sess.UserID, sess.ClientAddr, formatTime(sess.CreatedAt), formatTime(sess.ExpiresAt))
		if err != nil {
			return fmt.Errorf("create session for user %s: %w", sess.UserID, err)
		}
		return s.insertAudit(ctx, tx, ev)
	})
}

// SessionUser returns the user of an unexpired session.
func (s *Store) SessionUser(ctx context.Context, tokenHash []byte) (User, error) {
	row := s.read.QueryRowContext(ctx, `
SELECT u.id, u.username, u.password_hash, u.is_admin, u.created_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = ? AND s.expires_at > ?`,
		tokenHash, formatTime(s.now()))
	return scanUser(row)
}

// DeleteSession ends a session and records ev. Ending a session that does
// not exist is not an error: signing out twice is harmless.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return s.insertAudit(ctx, tx, ev)
	})
}

// DeleteExpiredSessions removes sessions past their expiry and returns how
// many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, formatTime(s.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// APIToken is a bearer token for scripts. Only its SHA-256 is stored.
type APIToken struct {
	ID         string
	UserID     string
	Name       string
	TokenHash  []byte
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// CreateAPIToken stores a token and records ev in the same transaction.
func (s *Store) CreateAPIToken(ctx context.Context, t APIToken, ev AuditEvent) (APIToken, error) {
	t.ID = NewID()
	t.CreatedAt = s.now().UTC()

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)
VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.UserID, t.Name, t.TokenHash, formatTime(t.CreatedAt))
		if err != nil {
			return fmt.Errorf("create API token %q: %w", t.Name, err)
		}

		ev.Target = "token:" + t.ID
		return s.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return APIToken{}, err
	}
	return t, nil
}

// tokenUseResolution is the age a token's recorded last use must reach
// before a request records it again. Writing it on every request would put
// a second fsynced commit behind each upload.
const tokenUseResolution = time.Minute

// TokenUser returns the owner of an API token and notes when it was used.
func (s *Store) TokenUser(ctx context.Context, tokenHash []byte) (User, error) {
	var (
		u        User
		tokenID  string
		created  string
		lastUsed sql.NullString
	)
	err := s.read.QueryRowContext(ctx, `
SELECT t.id, t.last_used_at, u.id, u.username, u.password_hash, u.is_admin, u.created_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = ?`, tokenHash).
		Scan(&tokenID, &lastUsed, &u.ID, &u.Username, &u.PasswordHash, &u.IsAdmin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("look up API token: %w", err)
	}
	if u.CreatedAt, err = parseTime(created); err != nil {
		return User{}, err
	}

	s.noteTokenUse(ctx, tokenID, lastUsed)
	return u, nil
}

// noteTokenUse records that a token was used, unless its recorded use is
// more recent than tokenUseResolution. The time is informational, so a
// failure to record it must not reject a valid token.
func (s *Store) noteTokenUse(ctx context.Context, tokenID string, lastUsed sql.NullString) {
	now := s.now()
	if lastUsed.Valid {
		if t, err := parseTime(lastUsed.String); err == nil && now.Sub(t) < tokenUseResolution {
			return
		}
	}
	_, _ = s.write.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, formatTime(now), tokenID)
}
