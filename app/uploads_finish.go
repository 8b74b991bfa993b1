package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/store"
)

// Headers that carry a finished upload's result, on the response to the
// request that completed it and on every HEAD request after it.
const (
	headerFileID  = "X-Vaultdrop-File-Id"
	headerStatus  = "X-Vaultdrop-Status"
	headerError   = "X-Vaultdrop-Error"   // the error code of a rejection
	headerMessage = "X-Vaultdrop-Message" // the rejection's message, percent-encoded UTF-8
)

// finishUpload is tusd's hook for an upload whose last byte arrived. The
// bytes go through the intake pipeline exactly like a multipart upload's;
// then the partial file is removed and the result kept for HEAD requests.
// A rejection is returned as the API's JSON error.
func (s *Server) finishUpload(hook tushandler.HookEvent) (tushandler.HTTPResponse, error) {
	req, ok := uploadRequestFrom(hook.Context)
	if !ok {
		return tushandler.HTTPResponse{}, errors.New("finish upload: request context without the uploader")
	}
	info := hook.Upload

	// Copying and scanning may take a while after the last byte. tusd's
	// read deadline must not fire meanwhile (it would cancel the request),
	// and its write deadline must not cut off the response. The work itself
	// runs without the request's cancellation, so a client that leaves
	// still gets its result recorded.
	req.control.SetReadDeadline(time.Time{})
	req.control.SetWriteDeadline(time.Now().Add(s.cfg.ScanTimeout + s.cfg.ScanWait))
	ctx := context.WithoutCancel(hook.Context)

	file, err := s.storeFinishedUpload(ctx, req, info)
	result := s.uploadResultOf(info.ID, file, err)
	if req.sender.drop != nil {
		s.settleDropUpload(ctx, req, info.MetaData, file, result)
	}
	rec := resultRecord{Owner: req.sender.key, Name: info.MetaData[metaFilename], Size: info.Size, Result: result}
	if err := s.uploads.finish(info.ID, rec); err != nil {
		s.log.Error("record resumable upload result", "upload_id", info.ID, "err", err)
	}

	if result.Status == uploadRejected {
		return tushandler.HTTPResponse{}, result.tusError()
	}
	return tushandler.HTTPResponse{Header: result.headers()}, nil
}

// settleDropUpload ends a drop upload's reservation: the stored file joins
// the drop, a rejected one gives its slot back.
func (s *Server) settleDropUpload(ctx context.Context, req uploadRequest, meta tushandler.MetaData, file store.File, result uploadResult) {
	if result.Status == uploadRejected {
		s.releaseDropReservation(meta)
	} else {
		s.attachDropFile(ctx, req, meta, file)
	}
	if req.reservation != nil {
		req.reservation.settled = true
	}
}

// storeFinishedUpload feeds the complete partial file to the intake
// pipeline, which moves it into the vault, and commits it.
func (s *Server) storeFinishedUpload(ctx context.Context, req uploadRequest, info tushandler.FileInfo) (store.File, error) {
	partial := s.uploads.path(info.ID, "")
	body, err := os.Open(partial)
	if err != nil {
		return store.File{}, fmt.Errorf("open finished upload %s: %w", info.ID, err)
	}
	defer body.Close()

	rec, err := s.intake.Receive(ctx, intake.Upload{
		Owner: req.sender.owner, Name: info.MetaData[metaFilename], Body: body, DeclaredSize: info.Size,
		Adopt: partial, Actor: req.sender.actor, ClientAddr: req.clientAddr,
	})
	if err != nil {
		return store.File{}, err
	}
	defer rec.Discard()

	file, err := s.intake.Commit(ctx, rec)
	if err == nil && file.Status == store.StatusPending {
		s.WakeRetries()
	}
	return file, err
}

// uploadResultOf turns the pipeline's outcome into the upload's result.
// Server faults become a rejection too: the partial file is gone either
// way, and the client must send the file again.
func (s *Server) uploadResultOf(uploadID string, file store.File, err error) uploadResult {
	if err == nil {
		return uploadResult{FileID: file.ID, Status: file.Status}
	}

	e := s.classify(uploadError(err))
	if e.Status >= 500 && e.Status != http.StatusInsufficientStorage {
		s.log.Error("finish resumable upload", "upload_id", uploadID, "err", err)
	}
	return uploadResult{Status: uploadRejected, Code: e.Code, Message: e.Message, HTTPStatus: e.Status}
}

// headers returns the result headers for the response.
func (r uploadResult) headers() tushandler.HTTPHeader {
	h := tushandler.HTTPHeader{headerStatus: r.Status}
	if r.FileID != "" {
		h[headerFileID] = r.FileID
	}
	if r.Status == uploadRejected {
		h[headerError] = r.Code
		h[headerMessage] = encodeHeaderText(r.Message)
	}
	return h
}

// tusError is a rejection as tusd sends it: the API's JSON error body with
// the result headers.
func (r uploadResult) tusError() tushandler.Error {
	var body errorBody
	body.Error.Code, body.Error.Message = r.Code, r.Message
	data, _ := json.Marshal(body) // two strings always encode

	h := r.headers()
	h[echo.HeaderContentType] = echo.MIMEApplicationJSON
	return tushandler.Error{
		ErrorCode: "ERR_" + strings.ToUpper(r.Code),
		Message:   r.Message,
		HTTPResponse: tushandler.HTTPResponse{
			StatusCode: r.HTTPStatus,
			Body:       string(data) + "\n",
			Header:     h,
		},
	}
}

// respondFinishedHead responds to HEAD for a finished upload as tus requires
// for a complete one (offset equal to length), with the result headers, so a
// client that lost the final response learns the verdict when it resumes.
func (s *Server) respondFinishedHead(c echo.Context, state uploadState) error {
	h := c.Response().Header()
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("Cache-Control", "no-store")
	h.Set("Upload-Offset", strconv.FormatInt(state.size, 10))
	h.Set("Upload-Length", strconv.FormatInt(state.size, 10))
	for k, v := range state.result.headers() {
		h.Set(k, v)
	}
	return c.NoContent(http.StatusOK)
}

// encodeHeaderText percent-encodes text for a header value, which must be
// ASCII; clients decode it with decodeURIComponent.
func encodeHeaderText(text string) string {
	return strings.ReplaceAll(url.QueryEscape(text), "+", "%20")
}
