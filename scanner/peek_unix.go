//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package scanner

import (
	"errors"
	"net"
	"syscall"
)

// replyWaiting reports, without blocking or consuming anything, whether
// conn has bytes to read, has been closed by the peer, or has a pending
// error. A reply from clamd before the end of a stream rejects it.
func replyWaiting(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}

	var n int
	var peekErr error
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})

	switch {
	case err != nil:
		// The read deadline passed or the context ended: the next read
		// reports it.
		return true
	case errors.Is(peekErr, syscall.EAGAIN), errors.Is(peekErr, syscall.EWOULDBLOCK), errors.Is(peekErr, syscall.EINTR):
		return false
	default:
		// Data (n > 0), end of stream (n == 0) or a socket error.
		_ = n
		return true
	}
}
