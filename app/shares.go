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

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// maxShareFiles is the most files one share link may hold.
const maxShareFiles = 100

// shareRequest is the body of POST /api/v1/shares. Everything but FileIDs
// is optional: the link then lasts defaultLinkLifetime, has no download
// limit and no password.
type shareRequest struct {
	FileIDs          []string `json:"file_ids"`
	ExpiresInSeconds *int64   `json:"expires_in_seconds"`
	MaxDownloads     *int64   `json:"max_downloads"`
	Password         string   `json:"password"`
}

// shareJSON is the API's share object. URL is set only in the response
// that creates the share, because only the token's hash is kept.
type shareJSON struct {
	ID           string     `json:"id"`
	URL          string     `json:"url,omitempty"`
	FileIDs      []string   `json:"file_ids"`
	ExpiresAt    time.Time  `json:"expires_at"`
	MaxDownloads *int64     `json:"max_downloads"` // null for no limit
	Downloads    int64      `json:"downloads"`
	State        string     `json:"state"` // active, expired, exhausted or revoked
	HasPassword  bool       `json:"has_password"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) toShareJSON(sh store.Share, url string) shareJSON {
	out := shareJSON{
		ID: sh.ID, URL: url, FileIDs: sh.FileIDs, ExpiresAt: sh.ExpiresAt.UTC(), Downloads: sh.Downloads,
		State: sh.State(s.now()), HasPassword: sh.HasPassword(), CreatedAt: sh.CreatedAt.UTC(),
	}
	if sh.MaxDownloads > 0 {
		out.MaxDownloads = &sh.MaxDownloads
	}
	if !sh.RevokedAt.IsZero() {
		revoked := sh.RevokedAt.UTC()
		out.RevokedAt = &revoked
	}
	return out
}

// shareRoutes registers the share API, the owner's share pages and the
// public link routes under /s/.
func (s *Server) shareRoutes(e *echo.Echo, pages *echo.Group) {
	api := e.Group("/api/v1", requireUser)
	api.POST("/shares", s.apiCreateShare)
	api.GET("/shares", s.apiListShares)
	api.DELETE("/shares/:id", s.apiRevokeShare)

	pages.GET("/shares", s.sharesPage)
	pages.GET("/shares/new", s.newSharePage)
	pages.POST("/shares", s.browserCreateShare)
	pages.POST("/shares/:id/revoke", s.browserRevokeShare)

	links := e.Group("/s", noStore)
	links.RouteNotFound("/*", linkNotFound)
	links.GET("/:token", s.sharePage)
	links.POST("/:token", s.shareUnlock)
	links.GET("/:token/files/:file_id", s.shareFileDownload)
	links.GET("/:token/zip", s.shareZipDownload)
}

func (s *Server) apiCreateShare(c echo.Context) error {
	var req shareRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}

	sh, token, err := s.createShare(c, req)
	if err != nil {
		return err
	}

	return c.JSON(http.StatusCreated, s.toShareJSON(sh, s.linkURL(c, "/s/"+token)))
}

func (s *Server) apiListShares(c echo.Context) error {
	user, _ := currentUser(c)
	shares, err := s.store.ListShares(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	list := make([]shareJSON, 0, len(shares))
	for _, sh := range shares {
		list = append(list, s.toShareJSON(sh, ""))
	}
	return c.JSON(http.StatusOK, map[string]any{"shares": list})
}

func (s *Server) apiRevokeShare(c echo.Context) error {
	if err := s.revokeShare(c, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// createShare checks a share request for the signed-in user and stores the
// share. Every file must be the caller's and downloadable. Another user's
// file or an invalid id is 404 not_found, and a file still waiting for its
// scan is 409 not_scanned. A rejected request stores nothing and is
// audited.
func (s *Server) createShare(c echo.Context, req shareRequest) (store.Share, string, error) {
	user, _ := currentUser(c)
	sh, token, err := s.buildShare(c, user, req)
	if err != nil {
		s.audit(c, user.Username, "share_create", "user:"+user.Username, store.OutcomeFailure, s.classify(err).Message)
		return store.Share{}, "", err
	}

	ev := s.auditEvent(c, user.Username, "share_create", "", store.OutcomeSuccess, describeShare(sh))
	sh, err = s.store.CreateShare(auditCtx(c), sh, ev)
	if errors.Is(err, store.ErrNotFound) {
		// A file was deleted or rescanned since buildShare looked at it.
		s.audit(c, user.Username, "share_create", "user:"+user.Username, store.OutcomeFailure, "a file changed while the share was created")
		return store.Share{}, "", errNotFound
	}
	if err != nil {
		return store.Share{}, "", err
	}
	ev.Target = "share:" + sh.ID
	s.logAudit(ev)
	return sh, token, nil
}

// buildShare validates req and returns the share to insert with its token.
func (s *Server) buildShare(c echo.Context, user store.User, req shareRequest) (store.Share, string, error) {
	fileIDs, err := s.shareableFiles(c.Request().Context(), user, req.FileIDs)
	if err != nil {
		return store.Share{}, "", err
	}
	life, err := lifetime(req.ExpiresInSeconds)
	if err != nil {
		return store.Share{}, "", err
	}
	maxDownloads, err := optionalLimit("max_downloads", req.MaxDownloads)
	if err != nil {
		return store.Share{}, "", err
	}
	passwordHash, err := hashLinkPassword(req.Password)
	if err != nil {
		return store.Share{}, "", err
	}

	token, tokenHash := newLinkToken()
	now := s.now().UTC().Truncate(time.Microsecond)
	return store.Share{
		ID: store.NewID(), OwnerID: user.ID, TokenHash: tokenHash, PasswordHash: passwordHash,
		UnlockKey: newUnlockKey(), MaxDownloads: maxDownloads, CreatedAt: now, ExpiresAt: now.Add(life),
		FileIDs: fileIDs,
	}, token, nil
}

// shareableFiles checks the requested file ids and returns them without
// repeats, in the order given.
func (s *Server) shareableFiles(ctx context.Context, user store.User, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, apiError(http.StatusBadRequest, "invalid_request", "file_ids must list at least one file id.")
	}
	if len(ids) > maxShareFiles {
		return nil, apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("A share link holds at most %d files; file_ids lists %d.", maxShareFiles, len(ids)))
	}

	seen := map[string]bool{}
	var unique []string
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true

		if !store.ValidID(id) {
			return nil, errNotFound
		}
		f, err := s.store.FileByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if f.OwnerID != user.ID {
			return nil, errNotFound
		}
		if !f.Downloadable() {
			return nil, errNotDownloadable(f)
		}
		unique = append(unique, id)
	}
	return unique, nil
}

// describeShare is the audit detail of a new share; it names no secret.
func describeShare(sh store.Share) string {
	limit := "no download limit"
	if sh.MaxDownloads > 0 {
		limit = fmt.Sprintf("at most %d downloads", sh.MaxDownloads)
	}
	return fmt.Sprintf("files %s; expires %s; %s; password %t",
		strings.Join(sh.FileIDs, ","), sh.ExpiresAt.UTC().Format(time.RFC3339), limit, sh.HasPassword())
}

// revokeShare ends one of the caller's shares. Another user's share, or an
// unknown id, is 404 not_found and is audited as a failure.
func (s *Server) revokeShare(c echo.Context, id string) error {
	user, _ := currentUser(c)
	ev := s.auditEvent(c, user.Username, "share_revoke", "", store.OutcomeSuccess, "revoked")
	err := s.store.RevokeShare(auditCtx(c), user.ID, id, ev)
	if errors.Is(err, store.ErrNotFound) {
		s.audit(c, user.Username, "share_revoke", "share:"+truncateForAudit(id), store.OutcomeFailure, "no such share of this user")
		return errNotFound
	}
	if err != nil {
		return err
	}
	ev.Target = "share:" + id
	s.logAudit(ev)
	return nil
}

// truncateForAudit keeps an id taken from a request short in the audit
// log, whatever the client sent.
func truncateForAudit(id string) string {
	if len(id) > 64 {
		return strings.ToValidUTF8(id[:64], "") + "…"
	}
	return strings.ToValidUTF8(id, "?")
}

func (s *Server) sharesPage(c echo.Context) error {
	user, _ := currentUser(c)
	shares, err := s.store.ListShares(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	data := views.SharesData{Notice: linkNotice(c.QueryParam("notice"))}
	for _, sh := range shares {
		row, err := s.shareRowView(c.Request().Context(), sh)
		if err != nil {
			return err
		}
		data.Shares = append(data.Shares, row)
	}
	return s.render(c, http.StatusOK, views.Shares(s.page(c, "Shares", "shares"), data))
}

func (s *Server) shareRowView(ctx context.Context, sh store.Share) (views.ShareRow, error) {
	files, err := s.store.ShareFiles(ctx, sh.ID)
	if err != nil {
		return views.ShareRow{}, err
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}

	state := sh.State(s.now())
	downloads := strconv.FormatInt(sh.Downloads, 10)
	if sh.MaxDownloads > 0 {
		downloads += " of " + strconv.FormatInt(sh.MaxDownloads, 10)
	}
	return views.ShareRow{
		ID: sh.ID, Files: names, Downloads: downloads,
		Expires: sh.ExpiresAt.UTC().Format(time.RFC3339), ExpiresText: formatWhen(sh.ExpiresAt),
		State: state, StateLabel: linkStateLabel(state), HasPassword: sh.HasPassword(),
		Revocable: state != store.LinkRevoked,
	}, nil
}

func (s *Server) newSharePage(c echo.Context) error {
	form := shareForm{fileIDs: c.QueryParams()["file_id"]}
	return s.renderNewShare(c, http.StatusOK, form, "")
}

// shareForm is the posted new-share form, kept to show it again.
type shareForm struct {
	fileIDs      []string
	lifetime     string
	maxDownloads string
}

// renderNewShare shows the form that creates a share from the user's
// downloadable files.
func (s *Server) renderNewShare(c echo.Context, status int, form shareForm, message string) error {
	user, _ := currentUser(c)
	files, err := s.store.ListFiles(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	checked := map[string]bool{}
	for _, id := range form.fileIDs {
		checked[id] = true
	}
	data := views.NewShareData{
		Lifetimes:    lifetimeOptions(form.lifetime),
		MaxDownloads: form.maxDownloads,
		Error:        message,
	}
	for _, f := range files {
		if f.Downloadable() {
			data.Files = append(data.Files, views.ShareFileOption{
				ID: f.ID, Name: f.Name, Size: config.FormatBytes(f.Size), Checked: checked[f.ID],
			})
		}
	}
	return s.render(c, status, views.NewShare(s.page(c, "New share link", "shares"), data))
}

// browserCreateShare takes the new-share form and shows the link once.
func (s *Server) browserCreateShare(c echo.Context) error {
	params, err := c.FormParams()
	if err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "The form could not be read. Send it again.")
	}
	form := shareForm{
		fileIDs:      params["file_id"],
		lifetime:     c.FormValue("expires_in_seconds"),
		maxDownloads: strings.TrimSpace(c.FormValue("max_downloads")),
	}
	req, err := shareRequestFromForm(form, c.FormValue("password"))
	if err == nil {
		var sh store.Share
		var token string
		sh, token, err = s.createShare(c, req)
		if err == nil {
			return s.renderLinkCreated(c, "Share link created", "/s/"+token, shareFacts(sh), "/shares", "Back to shares")
		}
	}

	e := s.classify(err)
	if e.Status >= 500 {
		return err
	}
	return s.renderNewShare(c, e.Status, form, e.Message)
}

func shareRequestFromForm(form shareForm, password string) (shareRequest, error) {
	req := shareRequest{FileIDs: form.fileIDs, Password: password}
	var err error
	if req.ExpiresInSeconds, err = formNumber("expires_in_seconds", form.lifetime); err != nil {
		return req, err
	}
	if req.MaxDownloads, err = formNumber("max_downloads", form.maxDownloads); err != nil {
		return req, err
	}
	return req, nil
}

// formNumber parses an optional whole number from a form; "" is nil.
func formNumber(field, value string) (*int64, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return nil, apiError(http.StatusBadRequest, "invalid_request", fmt.Sprintf("%s must be a whole number.", field))
	}
	return &n, nil
}

func shareFacts(sh store.Share) []views.Fact {
	limit := "no limit"
	if sh.MaxDownloads > 0 {
		limit = strconv.FormatInt(sh.MaxDownloads, 10)
	}
	return []views.Fact{
		{Label: "Files", Value: strconv.Itoa(len(sh.FileIDs))},
		{Label: "Expires", Value: formatWhen(sh.ExpiresAt)},
		{Label: "Downloads allowed", Value: limit},
		{Label: "Password", Value: yesNo(sh.HasPassword())},
	}
}

func (s *Server) browserRevokeShare(c echo.Context) error {
	if err := s.revokeShare(c, c.Param("id")); err != nil {
		return err
	}
	return redirect(c, "/shares?notice=revoked")
}

// renderLinkCreated shows a new link's URL, with a copy button and a QR
// code. It is the only page that shows the URL, and it is never cached.
func (s *Server) renderLinkCreated(c echo.Context, title, path string, facts []views.Fact, back, backLabel string) error {
	url := s.linkURL(c, path)
	qr, err := qrDataURI(url)
	if err != nil {
		return err
	}

	c.Response().Header().Set("Cache-Control", "no-store")
	data := views.LinkCreatedData{Title: title, URL: url, QR: qr, Facts: facts, BackHref: back, BackLabel: backLabel}
	return s.render(c, http.StatusCreated, views.LinkCreated(s.page(c, title, ""), data))
}

// lifetimeOptions are the expiry choices of the link forms.
func lifetimeOptions(selected string) []views.Option {
	choices := []struct {
		d     time.Duration
		label string
	}{
		{time.Hour, "1 hour"},
		{24 * time.Hour, "1 day"},
		{defaultLinkLifetime, "7 days"},
		{30 * 24 * time.Hour, "30 days"},
		{90 * 24 * time.Hour, "90 days"},
	}
	if selected == "" {
		selected = strconv.Itoa(int(defaultLinkLifetime / time.Second))
	}

	var opts []views.Option
	for _, ch := range choices {
		value := strconv.Itoa(int(ch.d / time.Second))
		opts = append(opts, views.Option{Value: value, Label: ch.label, Selected: value == selected})
	}
	return opts
}

func linkNotice(code string) string {
	switch code {
	case "revoked":
		return "The link was revoked. It stopped working at once."
	}
	return ""
}

// linkStateLabel is a link state in words for the owner's pages.
func linkStateLabel(state string) string {
	switch state {
	case store.LinkActive:
		return "active"
	case store.LinkExpired:
		return "expired"
	case store.LinkExhausted:
		return "used up"
	case store.LinkRevoked:
		return "revoked"
	case store.LinkFull:
		return "full"
	}
	return state
}

func formatWhen(t time.Time) string {
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
