package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrationFiles returns the embedded migrations ordered by version. Their
// names start with a zero-padded version number: 0001_init.sql.
func migrationFiles() []migration {
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		panic(fmt.Sprintf("read embedded migrations: %v", err)) // the build embeds them
	}

	var list []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			panic(fmt.Sprintf("migration %s has no version prefix", e.Name()))
		}
		body, err := migrationsFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("read migration %s: %v", e.Name(), err))
		}
		list = append(list, migration{version: version, name: e.Name(), sql: string(body)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })

	for i, m := range list {
		if m.version != i+1 {
			panic(fmt.Sprintf("migration %s is out of sequence: want version %d", m.name, i+1))
		}
	}
	return list
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL
) STRICT`

// migrate applies the migrations up to and including version target, each
// in its own transaction together with its row in schema_migrations, so a
// crash leaves the schema at a whole version.
func (s *Store) migrate(ctx context.Context, target int) error {
	if _, err := s.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	all := migrationFiles()
	if current > len(all) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d); run a newer vaultdrop", current, len(all))
	}

	for _, m := range all[current:target] {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, formatTime(s.now()))
			if err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration version, 0 for a new
// database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var version int
	err := s.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, nil
}
