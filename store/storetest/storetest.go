// Package storetest opens real, migrated SQLite stores for tests.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/vaultdrop/vaultdrop/store"
)

// Clock is a fixed, manually advanced clock for tests.
type Clock struct {
	t time.Time
}

// NewClock returns a clock stopped at 2026-01-02 03:04:05 UTC.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.t }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// Open returns a migrated store in a new temporary directory, with its data
// directory, closed when the test ends.
func Open(t testing.TB, now func() time.Time) (*store.Store, string) {
	t.Helper()

	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, now)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}
