package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is an account that can sign in.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	IsAdmin      bool
	CreatedAt    time.Time
}

const insertUser = `
INSERT INTO users (id, username, password_hash, is_admin, created_at)
VALUES (?, ?, ?, ?, ?)`

// CreateUser inserts a user with a new id and records ev in the same
// transaction. It returns ErrConflict when the username is taken.
func (s *Store) CreateUser(ctx context.Context, u User, ev AuditEvent) (User, error) {
	u.ID = NewID()
	u.CreatedAt = s.now().UTC()

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertUser, u.ID, u.Username, u.PasswordHash, u.IsAdmin, formatTime(u.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("create user %q: %w", u.Username, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create user %q: %w", u.Username, err)
		}

		ev.Target = "user:" + u.Username
		return s.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// CreateFirstAdmin creates an admin only while no user exists, and removes
// the setup token in the same transaction. It returns ErrConflict when a
// user already exists, so two racing setup requests cannot both succeed.
func (s *Store) CreateFirstAdmin(ctx context.Context, u User, ev AuditEvent) (User, error) {
	u.ID = NewID()
	u.IsAdmin = true
	u.CreatedAt = s.now().UTC()

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var count int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&count); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if count > 0 {
			return fmt.Errorf("create first admin: %w", ErrConflict)
		}

		if _, err := tx.ExecContext(ctx, insertUser, u.ID, u.Username, u.PasswordHash, true, formatTime(u.CreatedAt)); err != nil {
			return fmt.Errorf("create first admin %q: %w", u.Username, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE key = ?`, settingSetupToken); err != nil {
			return fmt.Errorf("remove setup token: %w", err)
		}

		ev.Target = "user:" + u.Username
		return s.insertAudit(ctx, tx, ev)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

const selectUserColumns = `SELECT id, username, password_hash, is_admin, created_at FROM users`

// UserByName looks a user up by username, ignoring ASCII case.
func (s *Store) UserByName(ctx context.Context, username string) (User, error) {
	row := s.read.QueryRowContext(ctx, selectUserColumns+` WHERE username = ?`, username)
	return scanUser(row)
}

// UserByID looks a user up by id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	row := s.read.QueryRowContext(ctx, selectUserColumns+` WHERE id = ?`, id)
	return scanUser(row)
}

// CountUsers returns the number of accounts.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

type rowScanner interface {
	Scan(dest ...any) error
}

func scanUser(row rowScanner) (User, error) {
	var u User
	var created string
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.IsAdmin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("scan user: %w", err)
	}
	if u.CreatedAt, err = parseTime(created); err != nil {
		return User{}, err
	}
	return u, nil
}

// isUniqueViolation reports whether err is SQLite's UNIQUE constraint error.
// The driver reports it only as text with the extended code 2067.
func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
