package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/filename"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/store"
)

// setDownloadHeaders sets the one safe header set that every route serving
// file bytes sends: always an attachment, never sniffed, sandboxed if a
// browser renders it anyway, never cached by shared caches.
func setDownloadHeaders(h http.Header, f store.File) {
	h.Set("Content-Type", filetype.SafeContentType(f.ContentType))
	h.Set("Content-Disposition", filename.ContentDisposition(f.Name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", downloadCSP)
	h.Set("Cache-Control", "private, no-store")
	h.Set("ETag", `"`+f.SHA256+`"`)
}

// errNotDownloadable explains why a stored file cannot be served.
func errNotDownloadable(f store.File) *Error {
	switch f.Status {
	case store.StatusPending:
		return apiError(http.StatusConflict, "not_scanned",
			"This file is waiting for its virus scan and cannot be downloaded yet. Try again in a minute.")
	case store.StatusInfected:
		return apiError(http.StatusConflict, "infected",
			"The virus scanner found "+f.Scan.Signature+" in this file, so it cannot be downloaded.")
	case store.StatusUnscannable:
		return apiError(http.StatusConflict, "unscannable",
			"The virus scanner could not check this file, so it cannot be downloaded.")
	}
	return apiError(http.StatusGone, "missing",
		"This file's content is missing from the server. Tell the operator.")
}

// serveFile sends a file's bytes with Range and conditional request
// support; the ETag is the file's SHA-256.
func (s *Server) serveFile(c echo.Context, f store.File, action string) error {
	if !f.Downloadable() {
		return errNotDownloadable(f)
	}

	content, err := s.vault.Open(f.ID)
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusGone, "missing", "This file's content is missing from the server. Tell the operator.")
	}
	if err != nil {
		return err
	}
	defer content.Close()

	sendFile(c, f, content)

	w, r := c.Response(), c.Request()
	actor := "anonymous"
	if u, ok := currentUser(c); ok {
		actor = u.Username
	}
	if r.Method == http.MethodGet && w.Status < 300 {
		s.audit(c, actor, action, "file:"+f.ID, store.OutcomeSuccess, downloadDetail(f.Name, w.Status, r.Header.Get("Range")))
	}
	return nil
}

// downloadDetail describes a download for the audit log: the whole file, or
// the ranges of a 206 response.
func downloadDetail(name string, status int, ranges string) string {
	if status == http.StatusPartialContent && ranges != "" {
		return fmt.Sprintf("sent %s of %q", ranges, name)
	}
	return fmt.Sprintf("sent %q", name)
}

// sendFile writes a file's bytes from content with the safe download
// headers, Range and conditional request support; the ETag is the file's
// SHA-256. Every route that serves a stored file's bytes goes through it.
// The caller checks that the file may be served.
func sendFile(c echo.Context, f store.File, content io.ReadSeeker) {
	setDownloadHeaders(c.Response().Header(), f)
	http.ServeContent(sendfileResponse{c.Response()}, c.Request(), "", f.CreatedAt, content)
}

// sendfileResponse hands http.ServeContent's copy to the connection's own
// ReadFrom, which sends an *os.File with sendfile(2). echo.Response has no
// ReadFrom, so without this wrapper every download is copied through a
// 32 KiB buffer in user space. Status and size are still kept on Echo's
// Response, which the request log and the audit check read.
type sendfileResponse struct{ *echo.Response }

func (w sendfileResponse) ReadFrom(src io.Reader) (int64, error) {
	if !w.Committed {
		if w.Status == 0 {
			w.Status = http.StatusOK
		}
		w.WriteHeader(w.Status)
	}
	n, err := io.Copy(w.Writer, src)
	w.Size += n
	return n, err
}
