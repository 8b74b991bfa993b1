package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
)

// QuickCheck runs SQLite's PRAGMA quick_check on the database in dataDir
// and returns the problems it reports, none for a sound database. It opens
// the file read-only and applies no migration, so it changes nothing and
// works while a server uses the database.
func QuickCheck(ctx context.Context, dataDir string) ([]string, error) {
	path := filepath.Join(dataDir, DatabaseFile)
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")

	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	defer db.Close()

	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return nil, fmt.Errorf("check database %s: %w", path, err)
	}
	defer rows.Close()

	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("check database %s: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check database %s: %w", path, err)
	}
	return problems, nil
}
