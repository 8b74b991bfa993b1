package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filename"
	"github.com/vaultdrop/vaultdrop/app/intake"
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
	data.Arrivals = s.dropArrivalsNotice(c, user)
	data.Upload = s.uploadScript()
	return s.render(c, status, views.Files(s.page(c, "Files", "files"), data))
}

// browserUpload takes the no-JavaScript form: any number of "file" parts,
// each validated on its own, with a result per file. The whole form is read
// before anything is stored, so a form that turns out malformed or too
// large part-way stores none of its files.
func (s *Server) browserUpload(c echo.Context) error {
	user, _ := currentUser(c)
	mr, err := s.multipartReader(c)
	if err != nil {
		return s.renderFiles(c, s.classify(err).Status, views.FilesData{Error: s.classify(err).Message})
	}

	files, err := s.receiveForm(c, user, mr)
	if err != nil {
		for _, f := range files {
			if f.rec != nil {
				f.rec.Discard()
			}
		}
		e := s.classify(err)
		if e.Status >= 500 {
			return err
		}
		return s.renderFiles(c, e.Status, views.FilesData{Error: e.Message + " No file from this form was stored."})
	}
	if len(files) == 0 {
		return s.renderFiles(c, http.StatusBadRequest, views.FilesData{Error: "Choose at least one file to upload."})
	}

	results := make([]views.UploadResult, 0, len(files))
	for _, f := range files {
		if f.rec != nil {
			f.result = s.commitFormFile(c, f.rec)
		}
		results = append(results, f.result)
	}
	return s.renderFiles(c, http.StatusOK, views.FilesData{Results: results})
}

// formFile is one file part of the browser form: received and waiting for
// its commit, or already refused with its result.
type formFile struct {
	rec    *intake.Received
	result views.UploadResult
}

// receiveForm receives every file part of the form into vault/incoming.
// A refused file becomes a result; a form-level fault is returned, with the
// files received so far for the caller to discard.
func (s *Server) receiveForm(c echo.Context, user store.User, mr *formReader) ([]formFile, error) {
	var files []formFile
	for {
		part, err := mr.next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, multipartError(err)
		}
		if part.FormName() != "file" || part.FileName() == "" {
			if err := skipField(part); err != nil {
				return files, err
			}
			continue
		}

		rec, err := s.intake.Receive(c.Request().Context(), s.upload(c, user, part.FileName(), part, -1))
		if err != nil {
			result, formErr := s.refusedResult(part.FileName(), err)
			if formErr != nil {
				return files, formErr
			}
			// A part refused before its end must still be read, or the
			// next part cannot be found.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return files, multipartError(err)
			}
			files = append(files, formFile{result: result})
			continue
		}
		files = append(files, formFile{rec: rec})
	}
}

// refusedResult describes a refused file, or returns the error when it
// concerns the whole request (a body over the request limit, a malformed
// form, a server fault) rather than this one file.
func (s *Server) refusedResult(rawName string, err error) (views.UploadResult, error) {
	if e := bodyLimitError(err); e != nil {
		return views.UploadResult{}, e
	}
	e := s.classify(uploadError(err))
	if e.Code == "invalid_request" || (e.Status >= 500 && e.Status != http.StatusInsufficientStorage) {
		return views.UploadResult{}, err
	}
	return views.UploadResult{Name: displayName(rawName), Status: "rejected", Label: "rejected", Message: e.Message}, nil
}

// displayName is a refused file's name as the result page shows it: the
// sanitised name, so no bidi or invisible character from the client is
// echoed back, or a placeholder when no valid name remains.
func displayName(raw string) string {
	name, err := filename.Sanitize(raw)
	if err != nil {
		return "(file with an invalid name)"
	}
	return name
}

// commitFormFile stores one received file of the form and describes the
// outcome.
func (s *Server) commitFormFile(c echo.Context, rec *intake.Received) views.UploadResult {
	result := views.UploadResult{Name: rec.File.Name}
	defer rec.Discard()

	file, err := s.intake.Commit(c.Request().Context(), rec)
	if err != nil {
		e := s.classify(uploadError(err))
		if e.Status >= 500 && e.Status != http.StatusInsufficientStorage {
			s.log.Error("store a file of the upload form", "err", err)
		}
		result.Status, result.Label, result.Message = "rejected", "rejected", e.Message
		return result
	}

	result.Status, result.Label = file.Status, statusLabel(file.Status)
	if file.Status == store.StatusPending {
		s.WakeRetries()
		result.Message = "Stored. It can be downloaded once the virus scan has finished."
	}
	return result
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
