package filetype

import (
	"mime"
	"strings"
)

const octetStream = "application/octet-stream"

// passiveTypes are the non-media types served under their own name. A
// browser downloads these formats or hands them to another program, and
// never runs them as script in the page's origin. PDF is included although
// a PDF can carry JavaScript, because browsers run that script inside their
// PDF viewer, not in the page, and downloads are attachments with a sandbox
// CSP.
var passiveTypes = map[string]bool{
	"application/pdf":      true,
	"application/json":     true,
	"application/geo+json": true,
	"application/x-ndjson": true,
	"application/epub+zip": true,

	"application/msword":            true,
	"application/vnd.ms-excel":      true,
	"application/vnd.ms-powerpoint": true,

	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/vnd.oasis.opendocument.text":                                   true,
	"application/vnd.oasis.opendocument.spreadsheet":                            true,
	"application/vnd.oasis.opendocument.presentation":                           true,

	"application/zip":             true,
	"application/gzip":            true,
	"application/x-tar":           true,
	"application/x-7z-compressed": true,
	"application/x-bzip2":         true,
	"application/x-xz":            true,
	"application/zstd":            true,
	"application/vnd.rar":         true,
	"application/ogg":             true,
}

// textCharsets are the charsets kept when serving text: those that mimetype
// reports for plain text and browsers also decode. Text with any other
// charset, or none, is served as UTF-8.
var textCharsets = map[string]bool{
	"utf-8":        true,
	"utf-16le":     true,
	"utf-16be":     true,
	"iso-8859-1":   true,
	"windows-1252": true,
}

// SafeContentType returns the Content-Type header value for serving a file
// whose stored content type, as CheckContent returned it, is stored. The
// result is one of:
//   - text/plain and text/csv with their charset (UTF-8 unless the stored
//     type names another charset browsers decode);
//   - images, audio and video under their own type, except types whose name
//     contains "xml" such as image/svg+xml, which can carry script;
//   - PDF, JSON, Office and OpenDocument files and archives under their own
//     type;
//   - application/octet-stream for everything else: HTML, XHTML, SVG, XML,
//     JavaScript, any other text/* type, unknown types and a stored value
//     that does not parse.
//
// The result never contains parameters other than charset.
func SafeContentType(stored string) string {
	mediaType, params, err := mime.ParseMediaType(stored)
	if err != nil {
		return octetStream
	}

	switch {
	case mediaType == "text/plain" || mediaType == "text/csv":
		return mediaType + "; charset=" + servedCharset(params["charset"])
	case passiveTypes[mediaType]:
		return mediaType
	case isPassiveMedia(mediaType):
		return mediaType
	}

	return octetStream
}

// isPassiveMedia reports whether mediaType is an image, audio or video type
// that browsers only decode. XML-based types such as image/svg+xml are
// excluded, because an SVG document can run script.
func isPassiveMedia(mediaType string) bool {
	top, subtype, ok := strings.Cut(mediaType, "/")
	if !ok || strings.Contains(subtype, "xml") {
		return false
	}
	return top == "image" || top == "audio" || top == "video"
}

func servedCharset(charset string) string {
	charset = strings.ToLower(charset)
	if textCharsets[charset] {
		return charset
	}
	return "utf-8"
}
