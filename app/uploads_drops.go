package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/vaultdrop/vaultdrop/store"
)

// Resumable uploads through a drop link follow the rules of the form upload
// in drop_links.go. The link must be alive and unlocked. Creating the upload
// reserves a slot and the file's declared size in the drop, and the stored
// file is linked to the drop with the visitor's name and note. The
// reservation ends when the upload is stored, rejected, terminated or
// expires.

// dropUploadsPath is the tus endpoint under a drop link. It lives under the
// link's path so that the browser sends the link's cookies with it.
const dropUploadsPath = "/d/:token/uploads/"

// Upload-Metadata keys of an upload through a drop link. uploader_name and
// note come from the client, like filename; the others are the server's.
const (
	metaDrop         = "vaultdrop-drop"
	metaReserved     = "vaultdrop-reserved"
	metaUploaderName = "uploader_name"
	metaNote         = "note"
)

// dropUploader is a drop link's visitor sending a resumable upload.
type dropUploader struct {
	drop    store.Drop
	visitor []byte // SHA-256 of the visitor cookie
}

// dropUploaderOf checks a request under a drop link as the link's form
// upload does (alive, password entered) and returns its visitor. Only the
// same browser, known by its visitor cookie, may continue an upload.
func (s *Server) dropUploaderOf(c echo.Context) (uploader, error) {
	d, link, err := s.openDrop(c)
	if err != nil {
		return uploader{}, err
	}
	if err := s.checkLinkPassword(c, link); err != nil {
		return uploader{}, err
	}
	owner, err := s.store.UserByID(c.Request().Context(), d.OwnerID)
	if err != nil {
		return uploader{}, fmt.Errorf("owner %s of drop %s: %w", d.OwnerID, d.ID, err)
	}

	visitor := s.dropVisitor(c, d, link)
	return uploader{
		key:   "drop:" + d.ID + ":" + hex.EncodeToString(visitor),
		owner: owner,
		actor: "anonymous",
		drop:  &dropUploader{drop: d, visitor: visitor},
	}, nil
}

// limitDropUploads charges a new upload to the client address's drop
// upload limit, which the form upload shares.
func (s *Server) limitDropUploads(c echo.Context) error {
	if ok, wait := s.dropUploadLimits.allow(clientAddr(c)); !ok {
		s.log.Warn("drop upload rate limited", "client_addr", clientAddr(c))
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests",
			Message: "Too many uploads from your address. Wait a minute, then try again.", RetryAfter: wait}
	}
	return nil
}

// dropReservation is a drop slot held by an unfinished upload, with the
// visitor's text for the file.
type dropReservation struct {
	dropID       string
	reserved     int64
	uploaderName string
	note         string
	settled      bool // stored or released by the finish hook
}

func (r *dropReservation) metadata() tushandler.MetaData {
	return tushandler.MetaData{
		metaDrop:         r.dropID,
		metaReserved:     strconv.FormatInt(r.reserved, 10),
		metaUploaderName: r.uploaderName,
		metaNote:         r.note,
	}
}

// reserveDropUpload takes a slot and size bytes in the drop for a new
// upload. A drop with less room than size rejects it, as the form upload
// rejects a file past its reservation.
func (s *Server) reserveDropUpload(c echo.Context, du *dropUploader, size int64, meta tushandler.MetaData) (*dropReservation, error) {
	reserved, err := s.store.ReserveDropSlot(auditCtx(c), du.drop.ID, size)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errLinkNotFound
	case errors.Is(err, store.ErrDropFull):
		return nil, errLinkNotFound
	case errors.Is(err, store.ErrDropNoRoom):
		return nil, errDropNoRoom
	case err != nil:
		return nil, err
	}

	r := &dropReservation{
		dropID:       du.drop.ID,
		reserved:     reserved,
		uploaderName: cleanText(meta[metaUploaderName], maxUploaderName, false),
		note:         cleanText(meta[metaNote], maxUploaderNote, true),
	}
	if reserved < size {
		s.releaseDropReservation(r.metadata())
		return nil, errDropNoRoom
	}
	return r, nil
}

// releaseDropReservation gives back the drop slot of an upload that will
// not be stored; meta is the upload's metadata. Uploads not sent through a
// drop hold nothing.
func (s *Server) releaseDropReservation(meta tushandler.MetaData) {
	dropID := meta[metaDrop]
	if dropID == "" {
		return
	}
	reserved, _ := strconv.ParseInt(meta[metaReserved], 10, 64)
	if err := s.store.ReleaseDropSlot(context.Background(), dropID, reserved); err != nil {
		s.log.Error("release drop slot", "drop_id", dropID, "err", err)
	}
}

// beforeUploadTerminate is tusd's hook for DELETE of an unfinished upload:
// its drop slot, if any, is given back.
func (s *Server) beforeUploadTerminate(hook tushandler.HookEvent) (tushandler.HTTPResponse, error) {
	s.releaseDropReservation(hook.Upload.MetaData)
	return tushandler.HTTPResponse{}, nil
}

// attachDropFile links a stored file to the drop it arrived through, with
// the visitor's name and note, and notifies the drop webhook. As in the form
// upload, a failure is logged and not returned: the file is stored.
func (s *Server) attachDropFile(ctx context.Context, req uploadRequest, meta tushandler.MetaData, file store.File) {
	du := req.sender.drop
	reserved, _ := strconv.ParseInt(meta[metaReserved], 10, 64)
	up := store.DropUpload{
		FileID: file.ID, DropID: du.drop.ID, VisitorHash: du.visitor,
		UploaderName: meta[metaUploaderName], Note: meta[metaNote], CreatedAt: s.now(),
	}
	ev := store.AuditEvent{
		At: s.now(), Actor: "anonymous", ClientAddr: req.clientAddr, Action: "drop_upload", Outcome: store.OutcomeSuccess,
		Detail: fmt.Sprintf("stored file %s %s as %s; size %d; uploader %s; resumable upload", file.ID, quoteName(file.Name),
			file.Status, file.Size, quoteName(up.UploaderName)),
	}
	if err := s.store.AttachDropUpload(ctx, up, reserved, file.Size, ev); err != nil {
		s.log.Error("link stored file to its drop", "drop_id", du.drop.ID, "file_id", file.ID, "err", err)
		return
	}
	ev.Target = "drop:" + du.drop.ID
	s.logAudit(ev)
	s.notifyDropUpload(du.drop, file)
}
