// Package store keeps vaultdrop's metadata in SQLite and its files in the
// vault folder on disk. It knows nothing about HTTP.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver; pure Go, no cgo
)

// DatabaseFile is the name of the SQLite database inside the data directory.
const DatabaseFile = "vaultdrop.db"

var (
	// ErrNotFound means the requested row does not exist (or is not visible
	// to the caller, which callers must not tell apart).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique value, such as a username, is already taken.
	ErrConflict = errors.New("already exists")
)

// Store is the SQLite metadata store.
//
// Reads use a pool of connections. Writes go through a second handle with a
// single connection, so writers inside this process queue in Go instead of
// meeting SQLITE_BUSY; other processes (the CLI while a server runs) wait on
// the busy timeout. The writes of uploads, the busiest ones, share
// transactions through a group committer on that connection.
type Store struct {
	read  *sql.DB
	write *sql.DB
	group *groupCommitter
	now   func() time.Time
}

// Open opens (creating if needed) the database in dataDir and applies every
// pending migration. now is the clock; nil means time.Now.
func Open(ctx context.Context, dataDir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}

	path := filepath.Join(dataDir, DatabaseFile)
	if err := createPrivateFile(path); err != nil {
		return nil, err
	}

	s, err := openHandles(path, now)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, len(migrationFiles())); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openHandles opens the read pool and the single-connection writer.
func openHandles(path string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	read, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	write, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		read.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	return &Store{read: read, write: write, group: startGroupCommitter(write), now: now}, nil
}

// dsn builds a modernc.org/sqlite connection string. Pragmas in the DSN are
// applied to every pooled connection, not only the first one.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL makes a committed row durable across power loss, which the
	// upload's "201 means stored" promise depends on.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_time_format", "sqlite")
	if writer {
		// BEGIN IMMEDIATE takes the write lock up front, so a transaction
		// never fails half-way when it upgrades from read to write.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// createPrivateFile creates path with mode 0600 if it does not exist, so the
// SQLite driver never creates the database with the process umask.
func createPrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	return f.Close()
}

// Close stops the group committer and closes both database handles.
func (s *Store) Close() error {
	s.group.Stop()
	return errors.Join(s.write.Close(), s.read.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}

// inTx runs fn in one write transaction and commits it when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()

	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// timeFormat is fixed-width so that stored times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string {
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}
