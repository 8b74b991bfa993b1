package app

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/store"
)

// fileJSON is the API's file object.
type fileJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

func toFileJSON(f store.File) fileJSON {
	return fileJSON{
		ID: f.ID, Name: f.Name, Size: f.Size, SHA256: f.SHA256,
		ContentType: f.ContentType, Status: f.Status, CreatedAt: f.CreatedAt.UTC(),
	}
}

// fileRoutes registers the file API and the browser's file routes.
func (s *Server) fileRoutes(e *echo.Echo, pages *echo.Group) {
	api := e.Group("/api/v1", requireUser)
	api.POST("/files", s.apiUploadMultipart, s.LimitUploads)
	api.PUT("/files/:id", s.apiUploadRaw, s.LimitUploads)
	api.GET("/files", s.apiListFiles)
	api.GET("/files/:id", s.apiGetFile)
	api.GET("/files/:id/content", s.apiFileContent)
	api.HEAD("/files/:id/content", s.apiFileContent)
	api.DELETE("/files/:id", s.apiDeleteFile)

	pages.POST("/files", s.browserUpload, s.LimitUploads)
	pages.GET("/files/:id/download", s.browserDownload)
	pages.POST("/files/:id/delete", s.browserDelete)
}

// apiUploadMultipart takes a multipart form with exactly one part named
// "file". The part streams through the intake pipeline as it arrives.
func (s *Server) apiUploadMultipart(c echo.Context) error {
	user, _ := currentUser(c)
	mr, err := s.multipartReader(c)
	if err != nil {
		return err
	}

	part, err := nextFilePart(mr)
	if err != nil {
		return err
	}
	rec, err := s.intake.Receive(c.Request().Context(), s.upload(c, user, part.FileName(), part, -1))
	if err != nil {
		return uploadError(err)
	}
	defer rec.Discard()

	if err := expectNoMoreFiles(mr, skipField); err != nil {
		return err
	}
	return s.commitAndAnswer(c, rec)
}

// apiUploadRaw takes the request body as the file, named by the last path
// segment, so that `curl -T report.pdf URL/api/v1/files/` works.
func (s *Server) apiUploadRaw(c echo.Context) error {
	user, _ := currentUser(c)
	name, err := rawUploadName(c.Request())
	if err != nil {
		return err
	}
	if err := s.checkContentLength(c.Request()); err != nil {
		return err
	}

	body := s.limitBody(c)
	rec, err := s.intake.Receive(c.Request().Context(), s.upload(c, user, name, body, c.Request().ContentLength))
	if err != nil {
		return uploadError(err)
	}
	defer rec.Discard()

	return s.commitAndAnswer(c, rec)
}

// commitAndAnswer stores a received file and responds 201 when it can be
// downloaded, or 202 when it waits for its virus scan.
func (s *Server) commitAndAnswer(c echo.Context, rec *intake.Received) error {
	file, err := s.intake.Commit(c.Request().Context(), rec)
	if err != nil {
		return uploadError(err)
	}
	if file.Status == store.StatusPending {
		s.WakeRetries()
		return c.JSON(http.StatusAccepted, toFileJSON(file))
	}
	return c.JSON(http.StatusCreated, toFileJSON(file))
}

func (s *Server) upload(c echo.Context, user store.User, name string, body io.Reader, size int64) intake.Upload {
	return intake.Upload{
		Owner: user, Name: name, Body: body, DeclaredSize: size, LengthBound: c.Request().ContentLength,
		Actor: user.Username, ClientAddr: clientAddr(c),
	}
}

// rawUploadName takes the file name from the escaped path, decoding it
// exactly once, whatever the router did with it.
func rawUploadName(r *http.Request) (string, error) {
	escaped := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/files/")
	name, err := url.PathUnescape(escaped)
	if err != nil {
		return "", apiError(http.StatusBadRequest, "invalid_name",
			"The file name in the URL is not valid percent-encoding. Encode it with %XX escapes.")
	}
	return name, nil
}

func (s *Server) apiListFiles(c echo.Context) error {
	user, _ := currentUser(c)
	files, err := s.store.ListFiles(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	list := make([]fileJSON, 0, len(files))
	for _, f := range files {
		list = append(list, toFileJSON(f))
	}
	return c.JSON(http.StatusOK, map[string]any{"files": list})
}

func (s *Server) apiGetFile(c echo.Context) error {
	file, err := s.fileForCaller(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toFileJSON(file))
}

func (s *Server) apiFileContent(c echo.Context) error {
	file, err := s.fileForCaller(c)
	if err != nil {
		return err
	}
	return s.serveFile(c, file, "download")
}

func (s *Server) apiDeleteFile(c echo.Context) error {
	file, err := s.fileForCaller(c)
	if err != nil {
		return err
	}
	if err := s.deleteFile(c, file); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// fileForCaller looks up the :id file for the signed-in user. Another
// user's file returns 404, like an id that does not exist.
func (s *Server) fileForCaller(c echo.Context) (store.File, error) {
	user, _ := currentUser(c)
	id := c.Param("id")
	if !store.ValidID(id) {
		return store.File{}, errNotFound
	}
	return s.store.FileForUser(c.Request().Context(), user, id)
}

// deleteFile removes the row (with its audit event) and then the bytes.
func (s *Server) deleteFile(c echo.Context, file store.File) error {
	user, _ := currentUser(c)
	ev := s.auditEvent(c, user.Username, "delete", "", store.OutcomeSuccess, "deleted "+file.Name)
	if err := s.store.DeleteFile(auditCtx(c), file.ID, ev); err != nil {
		return err
	}
	s.logAudit(ev)

	if err := s.vault.Remove(file.ID); err != nil {
		s.log.Error("remove deleted file's bytes", "file_id", file.ID, "err", err)
	}
	if err := s.vault.RemoveQuarantined(file.ID); err != nil {
		s.log.Error("remove deleted file's quarantined bytes", "file_id", file.ID, "err", err)
	}
	return nil
}

// multipartReader checks the request's size and media type and returns a
// streaming reader over its parts.
func (s *Server) multipartReader(c echo.Context) (*formReader, error) {
	r := c.Request()
	if err := s.checkContentLength(r); err != nil {
		return nil, err
	}

	mediaType, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, apiError(http.StatusBadRequest, "invalid_request",
			"Send a multipart/form-data body with one part named \"file\", or PUT the raw file to /api/v1/files/NAME.")
	}
	return newPartReader(s.limitBody(c), params["boundary"], r.ContentLength), nil
}

// nextFilePart skips form fields up to the first part named "file".
func nextFilePart(mr *formReader) (*multipart.Part, error) {
	for {
		part, err := mr.next()
		if errors.Is(err, io.EOF) {
			return nil, apiError(http.StatusBadRequest, "invalid_request",
				"The form has no part named \"file\". Send the file in a part named \"file\".")
		}
		if err != nil {
			return nil, multipartError(err)
		}
		if part.FormName() == "file" {
			return part, nil
		}
		if err := skipField(part); err != nil {
			return nil, err
		}
	}
}

// expectNoMoreFiles reads the rest of the form and refuses a second file.
// Each other field goes to readField (skipField drops it).
func expectNoMoreFiles(mr *formReader, readField func(*multipart.Part) error) error {
	for {
		part, err := mr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return multipartError(err)
		}
		if part.FormName() == "file" {
			return apiError(http.StatusBadRequest, "invalid_request",
				"The form has more than one part named \"file\". Send one file per request.")
		}
		if err := readField(part); err != nil {
			return err
		}
	}
}
