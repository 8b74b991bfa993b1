package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

func (s *Server) filesPage(c echo.Context) error {
	return s.renderFiles(c, http.StatusOK, views.FilesData{Notice: noticeText(c.QueryParam("notice"))})
}

// renderFiles renders the Files page with the user's current files.
func (s *Server) renderFiles(c echo.Context, status int, data views.FilesData) error {
	user, _ := currentUser(c)
	files, err := s.store.ListFiles(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	for _, f := range files {
		data.Files = append(data.Files, fileRowView(f))
	}
	data.Limits = fmt.Sprintf("Up to %s per file. Every file is checked for its type and scanned for viruses.", s.cfg.MaxFileSize)
	return s.render(c, status, views.Files(s.page(c, "Files", "files"), data))
}

// browserUpload takes the no-JavaScript form: any number of "file" parts,
// each validated and stored on its own, with a result per file.
func (s *Server) browserUpload(c echo.Context) error {
	user, _ := currentUser(c)
	mr, err := s.multipartReader(c)
	if err != nil {
		return s.renderFiles(c, s.classify(err).Status, views.FilesData{Error: s.classify(err).Message})
	}

	var results []views.UploadResult
	for {
		part, err := mr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := s.classify(multipartError(err))
			return s.renderFiles(c, e.Status, views.FilesData{Results: results, Error: e.Message})
		}
		if part.FormName() != "file" || part.FileName() == "" {
			if err := skipField(part); err != nil {
				e := s.classify(err)
				return s.renderFiles(c, e.Status, views.FilesData{Results: results, Error: e.Message})
			}
			continue
		}

		result, err := s.uploadOne(c, user, part.FileName(), part)
		if err != nil {
			return err
		}
		results = append(results, result)
	}

	if len(results) == 0 {
		return s.renderFiles(c, http.StatusBadRequest, views.FilesData{Error: "Choose at least one file to upload."})
	}
	return s.renderFiles(c, http.StatusOK, views.FilesData{Results: results})
}

// uploadOne stores one part of the browser form and describes the outcome.
// Rejections become a result line; only server faults are returned.
func (s *Server) uploadOne(c echo.Context, user store.User, name string, body io.Reader) (views.UploadResult, error) {
	result := views.UploadResult{Name: name}

	file, err := s.receiveAndCommit(c, user, name, body)
	if err != nil {
		e := s.classify(uploadError(err))
		if e.Status >= 500 && e.Status != http.StatusInsufficientStorage {
			return result, err
		}
		result.Status, result.Label, result.Message = "rejected", "rejected", e.Message
		// A part that was refused before its end must still be read, or the
		// next part cannot be found.
		io.Copy(io.Discard, body)
		return result, nil
	}

	result.Name = file.Name
	result.Status, result.Label = file.Status, statusLabel(file.Status)
	if file.Status == store.StatusPending {
		s.WakeRetries()
		result.Message = "Stored. It can be downloaded once the virus scan has finished."
	}
	return result, nil
}

func (s *Server) receiveAndCommit(c echo.Context, user store.User, name string, body io.Reader) (store.File, error) {
	rec, err := s.intake.Receive(c.Request().Context(), s.upload(c, user, name, body, -1))
	if err != nil {
		return store.File{}, err
	}
	defer rec.Discard()
	return s.intake.Commit(c.Request().Context(), rec)
}

func (s *Server) browserDownload(c echo.Context) error {
	file, err := s.fileForCaller(c)
	if err != nil {
		return err
	}
	return s.serveFile(c, file, "download")
}

func (s *Server) browserDelete(c echo.Context) error {
	file, err := s.fileForCaller(c)
	if err != nil {
		return err
	}
	if err := s.deleteFile(c, file); err != nil {
		return err
	}
	return redirect(c, "/files?notice=deleted")
}

func noticeText(code string) string {
	switch code {
	case "deleted":
		return "The file was deleted."
	}
	return ""
}

func fileRowView(f store.File) views.FileRow {
	return views.FileRow{
		ID:           f.ID,
		Name:         f.Name,
		Size:         config.FormatBytes(f.Size),
		Type:         f.ContentType,
		Status:       f.Status,
		StatusLabel:  statusLabel(f.Status),
		Created:      f.CreatedAt.UTC().Format(time.RFC3339),
		CreatedText:  f.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
		Downloadable: f.Downloadable(),
	}
}

// statusLabel is a file status in words; colour is never the only signal.
func statusLabel(status string) string {
	switch status {
	case store.StatusClean:
		return "clean"
	case store.StatusPending:
		return "waiting for virus scan"
	case store.StatusInfected:
		return "infected"
	case store.StatusUnscannable:
		return "could not be scanned"
	case store.StatusUnscanned:
		return "not scanned"
	case store.StatusMissing:
		return "missing"
	}
	return status
}
