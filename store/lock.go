package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LockFile is the name of the lock file that keeps a second server off the
// same data directory.
const LockFile = "vaultdrop.lock"

// ErrLocked means another server holds the data directory.
var ErrLocked = errors.New("data directory is in use by another vaultdrop server")

// DataDirLock is an exclusive, advisory lock on a data directory. The
// operating system releases it when the process exits, even after a crash,
// so a stale lock file never blocks a restart.
type DataDirLock struct {
	f *os.File
}

// LockDataDir takes the data directory's lock without waiting. It returns an
// error wrapping ErrLocked when another process holds it.
func LockDataDir(dataDir string) (*DataDirLock, error) {
	p := filepath.Join(dataDir, LockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", p, err)
	}

	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}

	// The PID is for people reading the file; the lock itself is the flock.
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &DataDirLock{f: f}, nil
}

// Unlock releases the lock.
func (l *DataDirLock) Unlock() error {
	return l.f.Close()
}
