package filename

import (
	"strings"
	"unicode/utf8"
)

// fallbackName is the ASCII filename sent when a name is empty.
const fallbackName = "download"

// ContentDisposition returns the Content-Disposition header value for
// downloading a file with the given display name:
//
//	attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded name>
//
// The filename* parameter (RFC 6266, encoded as RFC 5987 describes) carries
// the exact name, and clients that understand it prefer it. The quoted ASCII
// fallback serves older clients. In it, each character outside printable
// ASCII and each '"', '\', ';', ',', '%' and '/' becomes '_'. So no parser
// can end the quoted string early, split the value at a separator,
// percent-decode the name or read a path out of it. An empty name gives
// `attachment; filename="download"`.
//
// The value is printable ASCII whatever name is passed, so it never contains
// CR, LF or NUL. Invalid UTF-8 in name is replaced with U+FFFD before
// encoding, so filename* always decodes to valid UTF-8.
//
// The value is built by hand, not with mime.FormatMediaType, because
// FormatMediaType writes a filename parameter for an ASCII name and a
// filename* parameter for any other name, never both. Clients without
// RFC 6266 support need the ASCII fallback next to the UTF-8 form.
func ContentDisposition(name string) string {
	if name == "" {
		return `attachment; filename="` + fallbackName + `"`
	}

	name = strings.ToValidUTF8(name, string(utf8.RuneError))

	return `attachment; filename="` + asciiFallback(name) + `"; filename*=UTF-8''` + encodeRFC5987(name)
}

// asciiFallback replaces every rune of name that is not safe inside the
// quoted filename parameter with '_'. A non-ASCII character becomes one '_'
// however many bytes it has, which keeps the fallback readable.
func asciiFallback(name string) string {
	var b strings.Builder
	b.Grow(len(name))

	for _, r := range name {
		if isFallbackSafe(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}

	return b.String()
}

func isFallbackSafe(r rune) bool {
	if r < 0x20 || r > 0x7e {
		return false
	}
	return !strings.ContainsRune(`"\;,%/`, r)
}

// encodeRFC5987 percent-encodes every byte of s outside the attr-char set of
// RFC 5987 (letters, digits and !#$&+-.^_`|~), with uppercase hex digits.
func encodeRFC5987(s string) string {
	const hex = "0123456789ABCDEF"

	var b strings.Builder
	b.Grow(len(s) * 3)

	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}

	return b.String()
}

func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
