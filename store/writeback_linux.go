package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts the kernel's writeback of n bytes at off of f to
// disk, without waiting for it. The fsync in Commit still waits for every
// byte, but the page cache has less left to write by then.
func startWriteback(f *os.File, off, n int64) {
	conn, err := f.SyscallConn()
	if err != nil {
		return
	}
	// An error only means the final fsync does all the writing, as it would
	// without this call, so it is not reported.
	_ = conn.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
