// Package filename turns client-supplied file names into safe display
// metadata and builds the Content-Disposition header that carries them back.
//
// A name arrives from many channels: a multipart filename, a URL path
// segment after percent-decoding, tus upload metadata, a zip entry. Every
// channel passes it through Sanitize before it is stored or checked against
// the type allowlist. The vault never uses the name as a path: files are
// stored under server-generated ids, and the name is only shown and sent
// back in download headers.
package filename

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	// MaxInputBytes is the maximum length of a raw name that Sanitize
	// accepts. Longer input is rejected before any other work, so a hostile
	// name cannot make the server normalise or log megabytes of text.
	MaxInputBytes = 4096

	// MaxBytes is the maximum length of a sanitized name in bytes of UTF-8.
	// It is the file-name limit of ext4 and stays within the 255 UTF-16 code
	// units of NTFS, so a downloaded file can be saved under its name.
	MaxBytes = 255

	// maxExtensionBytes is the maximum length of a final extension, dot
	// included, that shortening keeps. A longer "extension" is ordinary text
	// and is cut like the rest of the name.
	maxExtensionBytes = 32
)

// ErrInvalid is the sentinel that every error from Sanitize matches with
// errors.Is. Callers map it to HTTP 400 with the code invalid_name.
var ErrInvalid = errors.New("invalid file name")

// Error is the error Sanitize returns for a rejected file name. Reason is a
// full sentence that states what was wrong and what the user can do. It
// never repeats the rejected name, so it is safe to show to the user.
type Error struct {
	Reason string
}

// Error returns the reason.
func (e *Error) Error() string {
	return e.Reason
}

// Is reports whether target is ErrInvalid, so errors.Is(err, ErrInvalid)
// holds for every *Error.
func (e *Error) Is(target error) bool {
	return target == ErrInvalid
}

// Sanitize returns the display name for a client-supplied file name, or an
// *Error matching ErrInvalid.
//
// The steps, in order:
//  1. Reject input over MaxInputBytes.
//  2. Replace each run of invalid UTF-8 bytes with U+FFFD, so a name in a
//     legacy encoding stays visibly damaged instead of silently merging
//     its neighbours.
//  3. Keep the base name: the text after the last "/" or "\", so
//     "../../x.txt" and "C:\dir\x.txt" both become "x.txt".
//  4. Remove control characters (C0, DEL, C1), format characters
//     (category Cf: bidirectional controls, zero-width characters, the
//     byte order mark, the soft hyphen), line and paragraph separators, and
//     invisible filler letters.
//  5. Normalise to NFC.
//  6. Trim leading spaces, and trailing dots and spaces, which Windows
//     drops when it saves a file.
//  7. Shorten names over MaxBytes, keeping the final extension.
//  8. Reject a result that is empty or contains only dots and spaces,
//     which covers "." and "..".
//
// A leading dot is kept, as in ".bashrc", because the type allowlist decides
// whether such a name is acceptable. Percent signs are kept as text because
// decoding is the channel's job, so Sanitize never decodes "%00" or "%2f".
//
// Markup such as "<img src=x onerror=alert(1)>.txt" is returned unchanged,
// because escaping belongs to the page, JSON or header that shows the name.
//
// Sanitize is idempotent: Sanitize(Sanitize(x)) returns the same name.
//
// NOTE: look-alike characters stay, such as U+2215 DIVISION SLASH, U+FF0F
// FULLWIDTH SOLIDUS or Cyrillic letters that resemble Latin ones, so a name
// can still imitate a path or another name. They are visible, and the vault
// stores files under ids, so they never reach a file system path.
func Sanitize(raw string) (string, error) {
	if len(raw) > MaxInputBytes {
		return "", invalid(fmt.Sprintf("file name is %d bytes, over the limit of %d bytes; rename the file with a shorter name and upload it again", len(raw), MaxInputBytes))
	}

	name := strings.ToValidUTF8(raw, string(utf8.RuneError))

	name = baseName(name)
	if name == "" {
		return "", invalid("file name is empty or ends with a path separator; give the file a name and upload it again")
	}

	name = removeInvisible(name)
	if name == "" {
		return "", invalid("file name is empty after removing control and invisible characters; rename the file and upload it again")
	}

	name = norm.NFC.String(name)

	name = trimEdges(name)

	name = shorten(name, MaxBytes)
	if name == "" {
		return "", invalid("file name contains only dots and spaces; rename the file and upload it again")
	}

	return name, nil
}

func invalid(reason string) *Error {
	return &Error{Reason: reason}
}

// baseName returns the text after the last slash or backslash. Both count as
// separators because a name may come from a Windows client, a zip entry or
// a URL, whatever the server's own path separator is.
func baseName(name string) string {
	i := strings.LastIndexAny(name, `/\`)
	return name[i+1:]
}

// removeInvisible drops every rune that isInvisible reports.
func removeInvisible(name string) string {
	return strings.Map(func(r rune) rune {
		if isInvisible(r) {
			return -1
		}
		return r
	}, name)
}

// isInvisible reports whether r must be removed from a displayed name,
// because it renders as nothing, changes how the text around it is
// displayed, or breaks a line in logs and terminals.
//
// It covers:
//   - control characters (category Cc): C0, DEL and C1, including NUL, CR,
//     LF and the ESC that starts ANSI terminal sequences;
//   - format characters (category Cf): the bidirectional controls U+061C,
//     U+200E, U+200F, U+202A-U+202E and U+2066-U+2069, the zero-width
//     characters U+200B-U+200D and U+2060-U+2064, the byte order mark
//     U+FEFF, the soft hyphen U+00AD and the tag characters;
//   - the line and paragraph separators U+2028 and U+2029;
//   - the other default-ignorable code points, such as the Hangul fillers
//     U+115F, U+1160, U+3164 and U+FFA0, which are letters that show nothing.
//
// U+034F COMBINING GRAPHEME JOINER is kept although it is default-ignorable,
// because golang.org/x/text/unicode/norm inserts it after 30 combining marks
// in a row (the Unicode Stream-Safe Text Format). Removing it would make
// Sanitize change its own output on a second pass.
func isInvisible(r rune) bool {
	switch {
	case r == '\u034f':
		return false
	case unicode.IsControl(r):
		return true
	case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return true
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return true
	}
	return false
}

// trimEdges removes leading spaces and trailing dots and spaces. Windows
// strips trailing dots and spaces when it creates a file, so "x.exe. " would
// be saved as "x.exe". Leading dots stay, so ".bashrc" keeps its name.
func trimEdges(name string) string {
	name = strings.TrimLeft(name, " ")
	return strings.TrimRight(name, ". ")
}

// shorten cuts name to at most limit bytes. When the name has a final
// extension of at most maxExtensionBytes, the cut falls in the part before
// it, so "aaa...aaa.txt" keeps ".txt". The cut falls on a UTF-8 rune
// boundary that is also an NFC boundary, so no character loses its
// combining marks and the result stays in NFC. The result is trimmed again
// because the cut can expose trailing dots or spaces.
//
// A run of leading dots shrinks to one dot first. Otherwise a name such as
// 300 dots followed by "x.txt" would keep only dots.
func shorten(name string, limit int) string {
	if len(name) <= limit {
		return name
	}

	if strings.HasPrefix(name, "..") {
		name = "." + strings.TrimLeft(name, ".")
		if len(name) <= limit {
			return name
		}
	}

	stem, ext := splitExtension(name)
	if ext == "" || len(ext) > maxExtensionBytes {
		return trimEdges(cutAtBoundary(name, limit))
	}

	return trimEdges(cutAtBoundary(stem, limit-len(ext))) + ext
}

// splitExtension splits name before its final dot. ext includes the dot and
// is empty when the name has no dot after its leading dots, so ".bashrc" has
// no extension.
func splitExtension(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || strings.Trim(name[:i], ".") == "" {
		return name, ""
	}
	return name[:i], name[i:]
}

// cutAtBoundary returns the longest prefix of s of at most limit bytes that
// ends before an NFC boundary. If s has no such boundary in range, as with a
// base letter followed by hundreds of combining marks, it falls back to the
// last rune boundary.
func cutAtBoundary(s string, limit int) string {
	if len(s) <= limit {
		return s
	}

	runeCut := limit
	for runeCut > 0 && !utf8.RuneStart(s[runeCut]) {
		runeCut--
	}

	for cut := runeCut; cut > 0; {
		if norm.NFC.PropertiesString(s[cut:]).BoundaryBefore() {
			return s[:cut]
		}
		_, size := utf8.DecodeLastRuneInString(s[:cut])
		cut -= size
	}

	return s[:runeCut]
}
