package store

import (
	"context"
	"fmt"
	"time"
)

// FilesCreatedBefore returns the files created before cutoff, oldest first,
// at most limit of them.
func (s *Store) FilesCreatedBefore(ctx context.Context, cutoff time.Time, limit int) ([]File, error) {
	rows, err := s.read.QueryContext(ctx, selectFileColumns+`
WHERE created_at < ?
ORDER BY created_at, id
LIMIT ?`, formatTime(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("list files created before %s: %w", formatTime(cutoff), err)
	}
	defer rows.Close()

	var files []File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, rows.Err()
}

// DeleteDeadShares deletes share links that expired or were revoked before
// cutoff, with their file lists and download records, and returns how many
// it deleted. The shared files stay.
func (s *Store) DeleteDeadShares(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `
DELETE FROM shares
WHERE expires_at < ? OR revoked_at < ?`, formatTime(cutoff), formatTime(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete dead share links: %w", err)
	}
	return res.RowsAffected()
}

// DeleteDeadDrops deletes drop links that expired or were revoked before
// cutoff and never received a file, and returns how many it deleted. A drop
// that received files stays, because its rows name who uploaded each file
// and the note they left.
func (s *Store) DeleteDeadDrops(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `
DELETE FROM drops
WHERE (expires_at < ? OR revoked_at < ?)
  AND NOT EXISTS (SELECT 1 FROM drop_uploads u WHERE u.drop_id = drops.id)`, formatTime(cutoff), formatTime(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete dead drop links: %w", err)
	}
	return res.RowsAffected()
}
