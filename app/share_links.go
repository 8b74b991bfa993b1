package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// resumeWindow is how long after a counted download its client address may
// resume the transfer without counting again.
const resumeWindow = 24 * time.Hour

// sharedFileJSON is one file of a share as GET /s/TOKEN lists it to
// scripts.
type sharedFileJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Status      string `json:"status"`
	URL         string `json:"url"`
}

// openShare finds the share of the :token parameter. An unknown, revoked
// or expired link is errLinkNotFound; a used-up one is returned, because a
// client that was counted may still resume its transfer.
func (s *Server) openShare(c echo.Context) (store.Share, lockedLink, error) {
	token := c.Param("token")
	if !validLinkToken(token) {
		return store.Share{}, lockedLink{}, errLinkNotFound
	}
	sh, err := s.store.ShareByTokenHash(c.Request().Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Share{}, lockedLink{}, errLinkNotFound
	}
	if err != nil {
		return store.Share{}, lockedLink{}, err
	}

	if state := sh.State(s.now()); state == store.LinkRevoked || state == store.LinkExpired {
		return store.Share{}, lockedLink{}, errLinkNotFound
	}
	link := lockedLink{
		kind: "share", id: sh.ID, passwordHash: sh.PasswordHash, unlockKey: sh.UnlockKey,
		path: "/s/" + token, expiresAt: sh.ExpiresAt,
	}
	return sh, link, nil
}

// openActiveShare is openShare for the page and the zip, which a used-up
// link no longer serves. It also returns the share's downloadable files; a
// share without any is errLinkNotFound.
func (s *Server) openActiveShare(c echo.Context) (store.Share, lockedLink, []store.File, error) {
	sh, link, err := s.openShare(c)
	if err != nil {
		return sh, link, nil, err
	}
	if sh.State(s.now()) != store.LinkActive {
		return sh, link, nil, errLinkNotFound
	}

	files, err := s.servableShareFiles(c.Request().Context(), sh.ID)
	if err != nil {
		return sh, link, nil, err
	}
	if len(files) == 0 {
		return sh, link, nil, errLinkNotFound
	}
	return sh, link, files, nil
}

// servableShareFiles returns the files of a share whose status allows
// serving them now. A file a rescan found infected drops out at once.
func (s *Server) servableShareFiles(ctx context.Context, shareID string) ([]store.File, error) {
	files, err := s.store.ShareFiles(ctx, shareID)
	if err != nil {
		return nil, err
	}
	servable := files[:0]
	for _, f := range files {
		if f.Downloadable() {
			servable = append(servable, f)
		}
	}
	return servable, nil
}

// sharePage lists a share's files for a browser, after asking for its
// password if it has one, or as JSON for a script.
func (s *Server) sharePage(c echo.Context) error {
	sh, link, files, err := s.openActiveShare(c)
	if err != nil {
		return err
	}

	if wantsJSON(c) {
		if err := s.checkLinkPassword(c, link); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s.shareListing(c, sh, link, files))
	}
	if sh.HasPassword() && !s.unlocked(c, link) {
		return s.renderLinkPassword(c, http.StatusOK, link, "")
	}
	return s.render(c, http.StatusOK, views.SharePage(s.page(c, "Shared files", ""), shareView(sh, link, files)))
}

func (s *Server) shareListing(c echo.Context, sh store.Share, link lockedLink, files []store.File) map[string]any {
	list := make([]sharedFileJSON, 0, len(files))
	for _, f := range files {
		list = append(list, sharedFileJSON{
			ID: f.ID, Name: f.Name, Size: f.Size, ContentType: f.ContentType, Status: f.Status,
			URL: s.linkURL(c, link.path+"/files/"+f.ID),
		})
	}
	return map[string]any{"expires_at": sh.ExpiresAt.UTC(), "files": list, "zip_url": s.linkURL(c, link.path+"/zip")}
}

func shareView(sh store.Share, link lockedLink, files []store.File) views.SharePageData {
	data := views.SharePageData{
		ZipHref:     link.path + "/zip",
		Expires:     sh.ExpiresAt.UTC().Format(time.RFC3339),
		ExpiresText: formatWhen(sh.ExpiresAt),
	}
	if sh.MaxDownloads > 0 {
		data.Remaining = strconv.FormatInt(sh.MaxDownloads-sh.Downloads, 10)
	}
	for _, f := range files {
		data.Files = append(data.Files, views.SharedFile{
			Name: f.Name, Size: config.FormatBytes(f.Size), Type: f.ContentType,
			Status: f.Status, StatusLabel: statusLabel(f.Status), Href: link.path + "/files/" + f.ID,
		})
	}
	return data
}

// shareUnlock takes the password form of a share's page. The right
// password sets a cookie for this link and goes back to its page.
func (s *Server) shareUnlock(c echo.Context) error {
	_, link, _, err := s.openActiveShare(c)
	if err != nil {
		return err
	}
	return s.unlockLink(c, link)
}

// unlockLink checks the password form of a share or a drop page.
func (s *Server) unlockLink(c echo.Context, link lockedLink) error {
	if link.passwordHash == "" {
		return redirect(c, link.path)
	}
	password := c.FormValue("password")
	if password == "" {
		return s.renderLinkPassword(c, http.StatusUnauthorized, link, errLinkPassword.Message)
	}

	if err := s.verifyLinkPassword(c, link, password); err != nil {
		e := s.classify(err)
		if e.Status >= 500 {
			return err
		}
		if e.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", retryAfterSeconds(e.RetryAfter))
		}
		return s.renderLinkPassword(c, e.Status, link, e.Message)
	}

	s.audit(c, "anonymous", link.kind+"_password", link.kind+":"+link.id, store.OutcomeSuccess, "password entered")
	s.setUnlockCookie(c, link)
	return redirect(c, link.path)
}

func (s *Server) renderLinkPassword(c echo.Context, status int, link lockedLink, message string) error {
	what := "download these files"
	if link.kind == "drop" {
		what = "upload files here"
	}
	data := views.LinkPasswordData{Action: link.path, What: what, Error: message}
	return s.render(c, status, views.LinkPassword(s.page(c, "Password required", ""), data))
}

// shareFileDownload sends one file of a share.
//
// A request counts as a download, against max_downloads, in three cases.
// It is a GET without Range. Its first range starts at byte 0, or is a
// suffix range that covers the whole file. Or its If-Range does not match
// the file's ETag, so it gets the whole file. The count is taken in
// SQLite, atomically with the checks of the link and the file, before the
// first byte is sent.
//
// Any other Range request resumes a transfer and does not count. It is
// served only while the link is neither revoked nor expired and the file
// is still in it and downloadable. It also needs a counted download of the
// same file through the link by the same client address within
// resumeWindow. So the
// client that took the last download of a used-up link can finish it, and
// nobody can fetch a file piecewise without a counted download.
//
// NOTE: clients behind one NAT share an address, so one of them may resume
// another's counted download within the window. The bytes sent are what
// the link already allowed once.
func (s *Server) shareFileDownload(c echo.Context) error {
	sh, link, err := s.openShare(c)
	if err != nil {
		return err
	}
	file, err := s.sharedFile(c.Request().Context(), sh.ID, c.Param("file_id"))
	if err != nil {
		return err
	}

	counted := countsAsDownload(c.Request(), file)
	if err := s.checkDownloadAllowed(c, sh, file, counted); err != nil {
		return err
	}
	if err := s.checkLinkPassword(c, link); err != nil {
		return err
	}

	content, err := s.vault.Open(file.ID)
	if err != nil {
		s.log.Error("open shared file", "share_id", sh.ID, "file_id", file.ID, "err", err)
		return errLinkNotFound
	}
	defer content.Close()

	if counted {
		if err := s.countShareDownload(c, sh, file.ID, "file "+file.ID+" "+quoteName(file.Name)); err != nil {
			return err
		}
	}
	sendFile(c, file, content)
	s.auditShareTransfer(c, sh, counted, "file "+file.ID+" "+quoteName(file.Name))
	return nil
}

// sharedFile returns a file of the share that may be served now.
func (s *Server) sharedFile(ctx context.Context, shareID, fileID string) (store.File, error) {
	if !store.ValidID(fileID) {
		return store.File{}, errLinkNotFound
	}
	files, err := s.servableShareFiles(ctx, shareID)
	if err != nil {
		return store.File{}, err
	}
	for _, f := range files {
		if f.ID == fileID {
			return f, nil
		}
	}
	return store.File{}, errLinkNotFound
}

// checkDownloadAllowed rejects, before any password check, a counted
// download of a used-up link and a resumption that is not allowed, so a
// dead link gets the same response whether or not it has a password.
func (s *Server) checkDownloadAllowed(c echo.Context, sh store.Share, file store.File, counted bool) error {
	if counted {
		if sh.State(s.now()) != store.LinkActive {
			return errLinkNotFound
		}
		return nil
	}

	ok, err := s.store.ShareResumeAllowed(c.Request().Context(), sh.ID, file.ID, clientAddr(c), s.now().Add(-resumeWindow))
	if err != nil {
		return err
	}
	if !ok {
		return errLinkNotFound
	}
	return nil
}

// countShareDownload takes one download of the share, or returns
// errLinkNotFound when another request took the last one first.
func (s *Server) countShareDownload(c echo.Context, sh store.Share, fileID, what string) error {
	detail := fmt.Sprintf("download counted: %s; range %s", what, quoteName(c.Request().Header.Get("Range")))
	ev := s.auditEvent(c, requestActor(c), "share_download", "", store.OutcomeSuccess, detail)
	err := s.store.CountShareDownload(auditCtx(c), sh.ID, fileID, clientAddr(c), ev)
	if errors.Is(err, store.ErrNotFound) {
		return errLinkNotFound
	}
	if err != nil {
		return err
	}
	ev.Target = "share:" + sh.ID
	s.logAudit(ev)
	s.metrics.ShareDownload()
	return nil
}

// auditShareTransfer records what a share download sent, once it is sent.
func (s *Server) auditShareTransfer(c echo.Context, sh store.Share, counted bool, what string) {
	w := c.Response()
	kind := "resumed"
	if counted {
		kind = "counted"
	}
	outcome := store.OutcomeSuccess
	if w.Status >= 400 {
		outcome = store.OutcomeFailure
	}
	detail := fmt.Sprintf("%s %s; status %d; sent %d bytes; range %s", kind, what, w.Status, w.Size,
		quoteName(c.Request().Header.Get("Range")))
	s.audit(c, requestActor(c), "share_transfer", "share:"+sh.ID, outcome, detail)
}

// countsAsDownload applies the counting rule of shareFileDownload.
func countsAsDownload(r *http.Request, f store.File) bool {
	ranges := r.Header.Get("Range")
	if ranges == "" {
		return true
	}
	if ifRange := r.Header.Get("If-Range"); ifRange != "" && ifRange != `"`+f.SHA256+`"` {
		return true
	}

	spec, ok := strings.CutPrefix(ranges, "bytes=")
	if !ok {
		return false // http.ServeContent responds 416 and sends no bytes
	}
	first, _, _ := strings.Cut(spec, ",")
	start, end, ok := strings.Cut(strings.TrimSpace(first), "-")
	if !ok {
		return false
	}
	if start == "" {
		suffix, err := strconv.ParseInt(end, 10, 64)
		return err == nil && suffix >= f.Size
	}
	offset, err := strconv.ParseInt(start, 10, 64)
	return err == nil && offset == 0
}

// requestActor names the caller for the audit log: the signed-in user, or
// "anonymous" for a link's visitor.
func requestActor(c echo.Context) string {
	if u, ok := currentUser(c); ok {
		return u.Username
	}
	return "anonymous"
}

// quoteName quotes a name or a header value for audit text, cut to 120
// bytes, so client text can neither flood nor break the audit log.
func quoteName(name string) string {
	if len(name) > 120 {
		name = strings.ToValidUTF8(name[:120], "") + "…"
	}
	return strconv.Quote(name)
}
