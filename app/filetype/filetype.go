// Package filetype decides which uploads the server accepts, from their
// name and their content.
//
// A Policy is an allowlist of extensions. Each allowed extension lists the
// media types that content sniffing (github.com/gabriel-vasile/mimetype
// v1.4.16) may report for it, and an upload is accepted only when its final
// extension is allowed and its sniffed type is one of that extension's
// types. Executable and server-script extensions are also refused inside a
// name, as in "invoice.php.jpg".
//
// Matching uses the sniffed type itself and never its ancestors in
// mimetype's type tree. mimetype files JAR, APK and the Office formats
// under application/zip, and HTML, SVG and scripts under text/plain, so
// accepting a parent type would let all of them in.
//
// SafeContentType maps a stored type to the Content-Type a download is
// served with, falling back to application/octet-stream for anything a
// browser could run.
package filetype

import (
	"errors"
	"strconv"
	"strings"
)

// Error codes that callers send to clients. Both map to HTTP 415.
const (
	CodeNotAllowed = "type_not_allowed"
	CodeMismatch   = "type_mismatch"
)

// Sentinels for errors.Is. Every *Error matches exactly one of them,
// according to its Code.
var (
	ErrNotAllowed = errors.New("file type not allowed")
	ErrMismatch   = errors.New("file extension does not match content")
)

// Error is the error for a rejected upload. Message is a full sentence for
// the user that names the extension and states what to do next.
type Error struct {
	Code      string // CodeNotAllowed or CodeMismatch
	Extension string // final or inner extension, lower-cased, without the dot
	Detected  string // sniffed media type, set for CodeMismatch only
	Message   string
}

// Error returns the message.
func (e *Error) Error() string {
	return e.Message
}

// Is reports whether target is the sentinel for e.Code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotAllowed:
		return e.Code == CodeNotAllowed
	case ErrMismatch:
		return e.Code == CodeMismatch
	}
	return false
}

// Extension returns the final extension of name, with ASCII letters
// lower-cased and without the dot, or "" when name has none. Leading dots do
// not start an extension, so ".jpg" and ".bashrc" have none. A name that is
// only an extension is therefore treated as a name without one.
func Extension(name string) string {
	rest := strings.TrimLeft(name, ".")

	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return ""
	}

	return asciiLower(rest[i+1:])
}

// innerExtensions returns the dot-separated parts of name between its first
// part and its final extension, lower-cased. A leading dot counts as a
// separator, because Apache's handler mapping treats ".php.jpg" as having
// the extensions php and jpg.
func innerExtensions(name string) []string {
	parts := strings.Split(name, ".")
	if len(parts) < 3 {
		return nil
	}

	inner := parts[1 : len(parts)-1]
	for i, part := range inner {
		inner[i] = asciiLower(part)
	}

	return inner
}

// normalizeExtension accepts an extension with or without its dot, in any
// letter case.
func normalizeExtension(ext string) string {
	return asciiLower(strings.TrimPrefix(ext, "."))
}

// asciiLower lower-cases ASCII letters only. strings.ToLower would also map
// letters such as U+212A KELVIN SIGN to "k", letting a non-ASCII extension
// match an allowed ASCII one.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// displayExtension returns ext with its dot for a message, quoted when it
// contains anything but ASCII letters and digits, so that odd characters
// cannot disguise the message.
func displayExtension(ext string) string {
	for _, r := range ext {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return strconv.Quote("." + ext)
		}
	}
	return "." + ext
}
