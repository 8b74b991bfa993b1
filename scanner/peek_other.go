//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package scanner

import "net"

// replyWaiting always reports false where the standard library offers no
// non-blocking peek.
//
// NOTE: on these systems a server that replies before the end of a stream
// is only noticed if a later write fails, so a broken server that replies
// "stream: OK" early and keeps reading would pass a file it never scanned.
func replyWaiting(conn net.Conn) bool {
	return false
}
