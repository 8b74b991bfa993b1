package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// settingSetupToken holds the hex SHA-256 of the one-time setup token.
const settingSetupToken = "setup_token_sha256"

// SetSetupTokenHash replaces the setup token's hash.
func (s *Store) SetSetupTokenHash(ctx context.Context, hash string) error {
	_, err := s.write.ExecContext(ctx, `
INSERT INTO settings (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, settingSetupToken, hash)
	if err != nil {
		return fmt.Errorf("store setup token: %w", err)
	}
	return nil
}

// SetupTokenHash returns the setup token's hash, or ErrNotFound once setup
// is done.
func (s *Store) SetupTokenHash(ctx context.Context) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingSetupToken).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read setup token: %w", err)
	}
	return v, nil
}

// settingOrEmpty returns the value of the setting key, or "" when it was
// never set.
func (s *Store) settingOrEmpty(ctx context.Context, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

// setSetting replaces the setting key and records ev, with the setting as
// its target, in the same transaction.
func (s *Store) setSetting(ctx context.Context, key, value string, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO settings (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		if err != nil {
			return fmt.Errorf("store setting %s: %w", key, err)
		}

		ev.Target = "setting:" + key
		return s.insertAudit(ctx, tx, ev)
	})
}
