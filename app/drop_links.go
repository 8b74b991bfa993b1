package app

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// dropVisitorCookie holds a random id for each browser that visits a drop
// link, scoped to that link's path, so a visitor is shown only their own
// uploads. Only its SHA-256 is stored.
const dropVisitorCookie = "vaultdrop_visitor"

// Limits of the text a visitor may send with a file, in characters. Longer
// text is cut, not refused, so a long note never costs the upload.
const (
	maxUploaderName = 100
	maxUploaderNote = 1000
)

// maxVisitorLifetime bounds the visitor cookie of a long-lived drop.
const maxVisitorLifetime = 30 * 24 * time.Hour

var errDropNoRoom = apiError(http.StatusRequestEntityTooLarge, "too_large",
	"This drop link has no room left for a file this large. Send a smaller file, or ask the person who sent the link for a new one.")

// newDropUploadLimits throttles drop uploads per client address: 30 quick
// uploads, then one every 2 seconds. It also charges requests to unknown
// drop tokens, so guessing tokens is throttled as well.
func newDropUploadLimits(now func() time.Time) *keyedLimiter {
	return newKeyedLimiter(2*time.Second, 30, now)
}

// openDrop finds the drop of the :token parameter. An unknown, revoked or
// expired link is errLinkNotFound; a full one is returned, so its page can
// still show the visitor's uploads.
func (s *Server) openDrop(c echo.Context) (store.Drop, lockedLink, error) {
	token := c.Param("token")
	if !validLinkToken(token) {
		return store.Drop{}, lockedLink{}, errLinkNotFound
	}
	d, err := s.store.DropByTokenHash(c.Request().Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Drop{}, lockedLink{}, errLinkNotFound
	}
	if err != nil {
		return store.Drop{}, lockedLink{}, err
	}

	if state := d.State(s.now()); state == store.LinkRevoked || state == store.LinkExpired {
		return store.Drop{}, lockedLink{}, errLinkNotFound
	}
	link := lockedLink{
		kind: "drop", id: d.ID, passwordHash: d.PasswordHash, unlockKey: d.UnlockKey,
		path: "/d/" + token, expiresAt: d.ExpiresAt,
	}
	return d, link, nil
}

// dropPage shows the upload form of a drop and what this browser uploaded
// through it, after asking for its password if it has one.
func (s *Server) dropPage(c echo.Context) error {
	d, link, err := s.openDrop(c)
	if err != nil {
		return err
	}
	if d.HasPassword() && !s.unlocked(c, link) {
		return s.renderLinkPassword(c, http.StatusOK, link, "")
	}

	visitor := s.dropVisitor(c, d, link)
	return s.renderDropPage(c, http.StatusOK, d, link, visitor, views.DropPageData{})
}

// dropUnlock takes the password form of a drop's page.
func (s *Server) dropUnlock(c echo.Context) error {
	_, link, err := s.openDrop(c)
	if err != nil {
		return err
	}
	return s.unlockLink(c, link)
}

// dropUpload takes one file through a drop link: a multipart form with one
// part named "file" and the optional fields "uploader_name" and "note". It
// goes through the same intake pipeline as every upload and lands in the
// drop owner's files. Scripts get the file API's responses (201, or 202
// while the scan is pending) and error codes, plus 404 not_found once the
// drop takes no more files. Browsers get the drop page with the result.
func (s *Server) dropUpload(c echo.Context) error {
	if ok, wait := s.dropUploadLimits.allow(clientAddr(c)); !ok {
		s.log.Warn("drop upload rate limited", "client_addr", clientAddr(c))
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests",
			Message: "Too many uploads from your address. Wait a minute, then try again.", RetryAfter: wait}
	}
	d, link, err := s.openDrop(c)
	if err != nil {
		return err
	}
	if err := s.checkLinkPassword(c, link); err != nil {
		return s.rejectDropUpload(c, d, link, nil, err)
	}

	visitor := s.dropVisitor(c, d, link)
	file, err := s.receiveDropUpload(c, d, visitor)
	if err != nil {
		return s.rejectDropUpload(c, d, link, visitor, err)
	}
	s.notifyDropUpload(d, file)
	s.metrics.DropUpload()

	if !wantsJSON(c) {
		// Read the drop again, so a drop this upload filled shows no form.
		if fresh, err := s.store.DropByID(c.Request().Context(), d.ID); err == nil {
			d = fresh
		}
		result := &views.UploadResult{Name: file.Name, Status: file.Status, Label: statusLabel(file.Status), Message: "Received. Thank you."}
		return s.renderDropPage(c, http.StatusOK, d, link, visitor, views.DropPageData{Result: result})
	}
	if file.Status == store.StatusPending {
		return c.JSON(http.StatusAccepted, toFileJSON(file))
	}
	return c.JSON(http.StatusCreated, toFileJSON(file))
}

// rejectDropUpload audits a rejected drop upload and responds with the
// error to scripts, and with the drop page and the reason to browsers.
func (s *Server) rejectDropUpload(c echo.Context, d store.Drop, link lockedLink, visitor []byte, err error) error {
	err = uploadError(err)
	e := s.classify(err)
	s.audit(c, "anonymous", "drop_upload", "drop:"+d.ID, store.OutcomeFailure, e.Code+": "+e.Message)
	if wantsJSON(c) || e.Status >= 500 {
		return err
	}

	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	if visitor == nil {
		return s.renderLinkPassword(c, e.Status, link, e.Message)
	}
	return s.renderDropPage(c, e.Status, d, link, visitor, views.DropPageData{Error: e.Message})
}

// dropFields are the text fields a visitor may send with a file.
type dropFields struct {
	uploaderName string
	note         string
}

// receiveDropUpload reads the form, reserves room in the drop, and stores
// the file for the drop's owner. A failure after the reservation releases
// it, so a refused upload never uses up the drop.
func (s *Server) receiveDropUpload(c echo.Context, d store.Drop, visitor []byte) (store.File, error) {
	owner, err := s.store.UserByID(c.Request().Context(), d.OwnerID)
	if err != nil {
		return store.File{}, fmt.Errorf("owner %s of drop %s: %w", d.OwnerID, d.ID, err)
	}
	mr, err := s.multipartReader(c)
	if err != nil {
		return store.File{}, err
	}
	fields, part, err := readDropFields(mr)
	if err != nil {
		return store.File{}, err
	}

	reserved, err := s.reserveDropSlot(c, d)
	if err != nil {
		return store.File{}, err
	}
	file, err := s.storeDropFile(c, owner, mr, part, reserved, &fields)
	if err != nil {
		if releaseErr := s.store.ReleaseDropSlot(auditCtx(c), d.ID, reserved); releaseErr != nil {
			s.log.Error("release drop slot", "drop_id", d.ID, "err", releaseErr)
		}
		return store.File{}, err
	}

	s.attachDropUpload(c, d, file, visitor, reserved, fields)
	return file, nil
}

// reserveDropSlot takes a file slot and room for the largest file this
// request can hold: the request's Content-Length when it is known, else
// the server's file size limit.
func (s *Server) reserveDropSlot(c echo.Context, d store.Drop) (int64, error) {
	maxSize := int64(s.cfg.MaxFileSize)
	if n := c.Request().ContentLength; n > 0 && n < maxSize {
		maxSize = n
	}

	reserved, err := s.store.ReserveDropSlot(auditCtx(c), d.ID, maxSize)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, errLinkNotFound
	case errors.Is(err, store.ErrDropFull):
		// A used-up drop responds like an unknown one, so a link's state
		// cannot be probed; the drop page tells a visitor in words.
		return 0, errLinkNotFound
	case errors.Is(err, store.ErrDropNoRoom):
		return 0, errDropNoRoom
	}
	return reserved, err
}

// storeDropFile streams the file part through the intake pipeline, capped
// at the reserved bytes, and commits it after reading the rest of the form.
func (s *Server) storeDropFile(c echo.Context, owner store.User, mr *formReader, part *multipart.Part, reserved int64, fields *dropFields) (store.File, error) {
	var body io.Reader = part
	if reserved < int64(s.cfg.MaxFileSize) {
		body = &reservedBody{r: part, room: reserved}
	}
	up := s.upload(c, owner, part.FileName(), body, -1)
	up.Actor = "anonymous"

	rec, err := s.intake.Receive(c.Request().Context(), up)
	if err != nil {
		return store.File{}, err
	}
	defer rec.Discard()

	if err := expectNoMoreFiles(mr, fields.read); err != nil {
		return store.File{}, err
	}
	file, err := s.intake.Commit(c.Request().Context(), rec)
	if err != nil {
		return store.File{}, err
	}
	if file.Status == store.StatusPending {
		s.WakeRetries()
	}
	return file, nil
}

// attachDropUpload marks a stored file as arrived through the drop. A
// failure here is logged and not returned, because the file is stored in
// the owner's files, and an error response would make the visitor send it
// again.
func (s *Server) attachDropUpload(c echo.Context, d store.Drop, file store.File, visitor []byte, reserved int64, fields dropFields) {
	up := store.DropUpload{
		FileID: file.ID, DropID: d.ID, VisitorHash: visitor,
		UploaderName: fields.uploaderName, Note: fields.note, CreatedAt: s.now(),
	}
	detail := fmt.Sprintf("stored file %s %s as %s; size %d; uploader %s", file.ID, quoteName(file.Name), file.Status,
		file.Size, quoteName(fields.uploaderName))
	ev := s.auditEvent(c, "anonymous", "drop_upload", "", store.OutcomeSuccess, detail)
	if err := s.store.AttachDropUpload(auditCtx(c), up, reserved, file.Size, ev); err != nil {
		s.log.Error("link stored file to its drop", "drop_id", d.ID, "file_id", file.ID, "err", err)
		return
	}
	ev.Target = "drop:" + d.ID
	s.logAudit(ev)
}

// readDropFields reads the text fields before the file part and returns
// the file part.
func readDropFields(mr *formReader) (dropFields, *multipart.Part, error) {
	var fields dropFields
	for {
		part, err := mr.next()
		if errors.Is(err, io.EOF) {
			return fields, nil, apiError(http.StatusBadRequest, "invalid_request",
				"The form has no part named \"file\". Send the file in a part named \"file\".")
		}
		if err != nil {
			return fields, nil, multipartError(err)
		}

		if part.FormName() == "file" {
			if part.FileName() == "" {
				return fields, nil, apiError(http.StatusBadRequest, "invalid_request", "Choose a file to upload.")
			}
			return fields, part, nil
		}
		if err := fields.read(part); err != nil {
			return fields, nil, err
		}
	}
}

// read keeps the uploader's name and note, cleaned and cut to their
// limits, and skips any other field.
func (f *dropFields) read(part *multipart.Part) error {
	name := part.FormName()
	if name != "uploader_name" && name != "note" {
		return skipField(part)
	}

	data, err := io.ReadAll(io.LimitReader(part, maxFieldSize+1))
	if err != nil {
		return multipartError(err)
	}
	if len(data) > maxFieldSize {
		return apiError(http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("The form field %q is larger than %s.", name, config.FormatBytes(maxFieldSize)))
	}

	if name == "uploader_name" {
		f.uploaderName = cleanText(string(data), maxUploaderName, false)
	} else {
		f.note = cleanText(string(data), maxUploaderNote, true)
	}
	return nil
}

// reservedBody stops a drop upload at the bytes reserved for it, so
// concurrent uploads never store more than the drop's byte limit.
type reservedBody struct {
	r    io.Reader
	room int64
	read int64
}

func (b *reservedBody) Read(p []byte) (int, error) {
	// Ask for one byte more than the room, to tell "exactly full" from "over".
	if room := b.room + 1 - b.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.room {
		return n, errDropNoRoom
	}
	return n, err
}

// dropVisitor returns the hash of this browser's visitor id for the drop,
// and sets a new visitor cookie when the browser has none.
func (s *Server) dropVisitor(c echo.Context, d store.Drop, link lockedLink) []byte {
	if cookie, err := c.Cookie(dropVisitorCookie); err == nil && validLinkToken(cookie.Value) {
		return auth.HashToken(cookie.Value)
	}

	token := auth.NewToken("")
	expires := s.now().Add(maxVisitorLifetime)
	if d.ExpiresAt.Before(expires) {
		expires = d.ExpiresAt
	}
	c.SetCookie(&http.Cookie{
		Name:     dropVisitorCookie,
		Value:    token,
		Path:     link.path,
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
	return auth.HashToken(token)
}

// renderDropPage shows a drop's upload form, or that it is full, with the
// files this visitor uploaded through it. data carries a result or an error.
func (s *Server) renderDropPage(c echo.Context, status int, d store.Drop, link lockedLink, visitor []byte, data views.DropPageData) error {
	files, err := s.store.VisitorDropFiles(c.Request().Context(), d.ID, visitor)
	if err != nil {
		return err
	}

	data.Label = dropLabel(d)
	data.Limits = s.dropLimitsText(d)
	data.Expires, data.ExpiresText = d.ExpiresAt.UTC().Format(time.RFC3339), formatWhen(d.ExpiresAt)
	data.Open = d.State(s.now()) == store.LinkActive
	data.Action = link.path + "/files"
	data.MaxName, data.MaxNote = maxUploaderName, maxUploaderNote
	data.Upload = s.dropUploadScript(link.path)
	for _, f := range files {
		data.Uploads = append(data.Uploads, views.DropVisitorFile{
			Name: f.Name, Size: config.FormatBytes(f.Size), Status: f.Status, StatusLabel: statusLabel(f.Status),
			Uploaded: f.Upload.CreatedAt.UTC().Format(time.RFC3339), UploadedText: formatWhen(f.Upload.CreatedAt),
		})
	}
	return s.render(c, status, views.DropPage(s.page(c, "Send files", ""), data))
}

// dropLimitsText describes to a visitor what the drop takes.
func (s *Server) dropLimitsText(d store.Drop) string {
	text := fmt.Sprintf("Each file may be up to %s. Files are checked for their type and scanned for viruses.", s.cfg.MaxFileSize)
	if limit := d.FileLimit(); limit > 0 {
		text += fmt.Sprintf(" This link takes %d more file(s).", max(limit-d.Files, 0))
	}
	if d.MaxBytes > 0 {
		text += fmt.Sprintf(" It has room for %s more.", config.FormatBytes(max(d.MaxBytes-d.Bytes, 0)))
	}
	return text
}
