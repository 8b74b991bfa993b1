package store

import (
	"context"
	"fmt"
)

// VacuumInto writes a consistent copy of the database to path with VACUUM
// INTO: one read transaction, so the copy is the database as of one moment
// even while a server writes to it. path must not exist.
func (s *Store) VacuumInto(ctx context.Context, path string) error {
	if _, err := s.read.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("copy database to %s: %w", path, err)
	}
	return nil
}

// DeleteFileRow removes a file's row without an audit event. Backups use it
// on their own copy of the database for files deleted while the backup ran.
func (s *Store) DeleteFileRow(ctx context.Context, id string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	return nil
}

// MarkMissing sets a file's status to missing, keeping its scan result,
// and records ev in the same transaction.
func (s *Store) MarkMissing(ctx context.Context, id string, ev AuditEvent) error {
	return s.changeStatus(ctx, id, "", StatusMissing, ev)
}
