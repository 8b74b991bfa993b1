package app

import (
	"archive/zip"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/filename"
	"github.com/vaultdrop/vaultdrop/store"
)

// shareZipName is the name a browser saves a share's zip under.
const shareZipName = "shared-files.zip"

// shareZipDownload streams every servable file of a share as one zip,
// built on the fly from the vault without a temporary copy. The zip counts
// as one download. It ignores Range: a zip built on the fly has no stable
// byte offsets to resume from.
func (s *Server) shareZipDownload(c echo.Context) error {
	sh, link, files, err := s.openActiveShare(c)
	if err != nil {
		return err
	}
	if err := s.checkLinkPassword(c, link); err != nil {
		return err
	}

	entries := s.openZipEntries(sh.ID, files)
	defer closeZipEntries(entries)
	if len(entries) == 0 {
		return errLinkNotFound
	}

	what := fmt.Sprintf("zip of %d files", len(entries))
	if err := s.countShareDownload(c, sh, "", what); err != nil {
		return err
	}
	if err := s.writeShareZip(c, entries); err != nil {
		s.log.Warn("share zip interrupted", "share_id", sh.ID, "bytes_sent", c.Response().Size, "err", err)
	}
	s.auditShareTransfer(c, sh, true, what)
	return nil
}

// zipEntry is a file to put in a share's zip, already open.
type zipEntry struct {
	file    store.File
	name    string
	content *os.File
}

// openZipEntries opens the files' bytes and names their entries. A file
// whose bytes are missing is left out and logged.
func (s *Server) openZipEntries(shareID string, files []store.File) []zipEntry {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	names = zipEntryNames(names)

	var entries []zipEntry
	for i, f := range files {
		content, err := s.vault.Open(f.ID)
		if err != nil {
			s.log.Error("open shared file for zip", "share_id", shareID, "file_id", f.ID, "err", err)
			continue
		}
		entries = append(entries, zipEntry{file: f, name: names[i], content: content})
	}
	return entries
}

func closeZipEntries(entries []zipEntry) {
	for _, e := range entries {
		e.content.Close()
	}
}

// writeShareZip sends the zip with the download header set of every file
// download. It has no ETag, because the archive is built anew each time.
func (s *Server) writeShareZip(c echo.Context, entries []zipEntry) error {
	w := c.Response()
	setDownloadHeaders(w.Header(), store.File{Name: shareZipName, ContentType: "application/zip"})
	w.Header().Del("ETag")
	w.WriteHeader(http.StatusOK)

	zw := zip.NewWriter(w)
	for _, e := range entries {
		header := &zip.FileHeader{Name: e.name, Method: zipMethod(e.file.ContentType), Modified: e.file.CreatedAt.UTC()}
		entry, err := zw.CreateHeader(header)
		if err != nil {
			return fmt.Errorf("add %s to zip: %w", e.file.ID, err)
		}
		if _, err := io.Copy(entry, e.content); err != nil {
			return fmt.Errorf("write %s to zip: %w", e.file.ID, err)
		}
	}
	return zw.Close()
}

// zipMethod stores formats that are already compressed, where deflating
// again costs time and saves nothing, and deflates the rest.
func zipMethod(contentType string) uint16 {
	mediaType, _, _ := strings.Cut(contentType, ";")
	switch {
	case strings.HasPrefix(mediaType, "video/"),
		strings.HasPrefix(mediaType, "audio/") && !strings.Contains(mediaType, "wav"),
		strings.HasPrefix(mediaType, "image/") && mediaType != "image/bmp" && mediaType != "image/tiff",
		strings.Contains(mediaType, "zip"), // zip, epub+zip
		strings.HasPrefix(mediaType, "application/vnd.openxmlformats-officedocument."),
		strings.HasPrefix(mediaType, "application/vnd.oasis.opendocument."):
		return zip.Store
	}
	switch mediaType {
	case "application/gzip", "application/x-7z-compressed", "application/x-bzip2", "application/x-xz",
		"application/zstd", "application/vnd.rar", "application/ogg":
		return zip.Store
	}
	return zip.Deflate
}

// zipEntryNames turns stored file names into zip entry names that extract
// into the target folder and nowhere else, in the same order. Stored names
// are already sanitised (no path separators, no control characters), and
// zipEntryName still removes anything an extractor could read as a path.
// Names that would collide, ignoring case as Windows and macOS do, get a
// counter: "a.txt", "a (2).txt".
func zipEntryNames(names []string) []string {
	taken := map[string]bool{}
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = uniqueEntryName(zipEntryName(name), taken)
	}
	return out
}

// zipEntryName replaces "/", "\" and ":" (a drive letter or an NTFS stream
// name) with "_", shrinks every run of dots to one dot, so no entry holds
// "..", and replaces a name left empty or "." with "file".
func zipEntryName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch r {
		case '/', '\\', ':':
			return '_'
		}
		return r
	}, name)
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", ".")
	}
	if name == "" || name == "." {
		return "file"
	}
	return name
}

// uniqueEntryName returns name, or name with " (2)", " (3)", ... before its
// extension, whichever is not yet taken, and marks it taken.
func uniqueEntryName(name string, taken map[string]bool) string {
	candidate := name
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		stem, ext = name[:i], name[i:]
	}
	for n := 2; taken[strings.ToLower(candidate)]; n++ {
		suffix := fmt.Sprintf(" (%d)", n)
		for len(stem)+len(suffix)+len(ext) > filename.MaxBytes && stem != "" {
			_, size := utf8.DecodeLastRuneInString(stem)
			stem = stem[:len(stem)-size]
		}
		candidate = stem + suffix + ext
	}
	taken[strings.ToLower(candidate)] = true
	return candidate
}
