package filetype

import (
	"fmt"
	"mime"
	"slices"

	"github.com/gabriel-vasile/mimetype"
)

// HeadSize is the number of bytes from the start of a file that CheckContent
// sniffs. Callers buffer the first HeadSize bytes of the upload, or the
// whole file when it is shorter, for example with io.ReadFull, where
// io.ErrUnexpectedEOF only means the file is short.
//
// It equals mimetype's default read limit (4096 bytes in v1.4.16), so this
// package never calls mimetype.SetLimit, which would change detection for
// the whole process. mimetype treats an input of exactly its read limit as
// the start of a longer file and a shorter input as a whole file. For JSON
// and CSV that decides whether an unfinished last record is accepted, so a
// head of HeadSize bytes from a longer file is still recognised.
// The tests measure how many bytes detection needs for each sample:
//   - about 1.5 KiB for an OOXML package whose main folder follows
//     [Content_Types].xml, _rels/.rels and two document-property parts;
//   - 1280 bytes for a compound file whose directory follows its
//     allocation table, and 512 bytes for tar;
//   - under 100 bytes for ODF, EPUB, JAR, MP4, Matroska, Ogg, FLAC, WAV,
//     MP3, PNG and PDF.
//
// NOTE: an OOXML file whose word/, xl/ or ppt/ entry starts beyond HeadSize,
// for example after a large thumbnail stored first, sniffs as
// application/zip and is rejected as a mismatch. Raising the limit needs
// mimetype.SetLimit, which is process-wide. If another package changes that
// limit, detection here changes with it.
const HeadSize = 4096

// CheckContent sniffs head, the first bytes of an upload, and checks the
// result against the media types that the policy accepts for ext. ext is
// the final extension, as Extension returns it, but a leading dot and
// upper-case letters are accepted too. Only the first HeadSize bytes of head
// are used.
//
// On success it returns the content type to store: the sniffed media type
// without parameters, except that text/plain keeps the charset mimetype
// reports. For an extension that a browser or converter would run (HTML,
// SVG, XML, scripts, programs), which only an operator's allow entry can
// admit, it returns application/octet-stream whatever the content is, so the
// file is never served as active content.
//
// It returns an *Error with CodeNotAllowed when ext is not allowed, and with
// CodeMismatch when the sniffed type is not one of ext's types. An empty
// file sniffs as text/plain, so it is accepted for the text extensions
// (txt, log, md, csv, tsv, json) and is a mismatch for every other one.
//
// NOTE: sniffing reads only the head and cannot catch all HTML. Text that
// opens with an unlisted tag, such as "<h3 onclick=...>", sniffs as
// text/plain, and "%PDF-" anywhere in the first KiB makes a file a PDF.
// Downloads are therefore always attachments with nosniff and a sandbox CSP.
func (p *Policy) CheckContent(ext string, head []byte) (contentType string, err error) {
	ext = normalizeExtension(ext)

	accepted, ok := p.allowed[ext]
	if !ok {
		return "", notAllowed(ext)
	}

	mediaType, charset := detect(head)
	if !slices.Contains(accepted, mediaType) {
		return "", mismatch(ext, mediaType, len(head) == 0)
	}

	if executableExtensions[ext] || activeContentExtensions[ext] {
		return octetStream, nil
	}

	if charset != "" {
		return mediaType + "; charset=" + charset, nil
	}
	return mediaType, nil
}

// detect sniffs the first HeadSize bytes of head and returns the media type
// without parameters and the charset parameter, if any.
func detect(head []byte) (mediaType, charset string) {
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}

	mediaType, params, err := mime.ParseMediaType(mimetype.Detect(head).String())
	if err != nil {
		return octetStream, ""
	}

	return mediaType, params["charset"]
}

func mismatch(ext, mediaType string, empty bool) *Error {
	message := fmt.Sprintf("file extension %s does not match its content, %s; rename it with the right extension or upload a different file",
		displayExtension(ext), describe(mediaType))
	if empty {
		// Renaming cannot help an empty file: it most likely did not finish
		// saving or copying.
		message = fmt.Sprintf("the file is empty, so it cannot be a %s file; check that it was saved or copied completely and upload it again",
			displayExtension(ext))
	}

	return &Error{
		Code:      CodeMismatch,
		Extension: ext,
		Detected:  mediaType,
		Message:   message,
	}
}

// describe returns a clause naming what content of mediaType looks like,
// for a mismatch message.
func describe(mediaType string) string {
	if mediaType == octetStream {
		return "which is not a file type the server recognises (" + octetStream + ")"
	}

	if name, ok := typeNames[mediaType]; ok {
		return "which looks like " + name + " (" + mediaType + ")"
	}

	return "which has the type " + mediaType
}

// typeNames are readable names for the types that most often cause a
// mismatch: active content, programs, and the formats files get renamed to.
var typeNames = map[string]string{
	"text/html":             "HTML",
	"application/xhtml+xml": "XHTML",
	"image/svg+xml":         "an SVG image",
	"text/xml":              "XML",
	"text/javascript":       "JavaScript",
	"text/x-php":            "a PHP script",
	"text/x-shellscript":    "a shell script",
	"text/x-python":         "a Python script",
	"text/x-perl":           "a Perl script",
	"text/x-ruby":           "a Ruby script",
	"text/x-lua":            "a Lua script",
	"text/x-tcl":            "a Tcl script",
	"text/plain":            "plain text",
	"text/csv":              "CSV",
	"application/json":      "JSON",

	"application/vnd.microsoft.portable-executable": "a Windows program",
	"application/x-elf":                             "an ELF program",
	"application/x-executable":                      "an ELF program",
	"application/x-sharedlib":                       "an ELF shared library",
	"application/x-mach-binary":                     "a macOS program",
	"application/x-ms-installer":                    "a Windows installer",
	"application/java-archive":                      "a Java archive",
	"application/vnd.android.package-archive":       "an Android app",
	"application/x-java-applet":                     "a Java class file",
	"application/postscript":                        "PostScript",

	"application/zip":    "a ZIP archive",
	"application/gzip":   "a gzip archive",
	"application/pdf":    "a PDF document",
	"image/jpeg":         "a JPEG image",
	"image/png":          "a PNG image",
	"image/gif":          "a GIF image",
	"image/webp":         "a WebP image",
	"audio/mpeg":         "an MP3 file",
	"video/mp4":          "an MP4 video",
	"application/x-tar":  "a tar archive",
	"application/msword": "a Word 97-2003 document",

	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "a Word document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "an Excel workbook",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "a PowerPoint presentation",
}
