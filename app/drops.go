package app

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// maxDropLabel is the longest drop label, in characters.
const maxDropLabel = 100

// dropRequest is the body of POST /api/v1/drops. Every field is optional:
// a drop without them lasts defaultLinkLifetime, takes any number of files
// up to the server's file size limit, and has no password.
type dropRequest struct {
	Label                 string `json:"label"`
	ExpiresInSeconds      *int64 `json:"expires_in_seconds"`
	MaxFiles              *int64 `json:"max_files"`
	MaxBytes              *int64 `json:"max_bytes"`
	Password              string `json:"password"`
	CloseAfterFirstUpload bool   `json:"close_after_first_upload"`
}

// dropJSON is the API's drop object. URL is set only in the response that
// creates the drop, because only the token's hash is kept. Files and Bytes count
// the uploads the drop has taken, including those in progress; deleting a
// file that arrived does not give its room back.
type dropJSON struct {
	ID                    string     `json:"id"`
	URL                   string     `json:"url,omitempty"`
	Label                 string     `json:"label"`
	ExpiresAt             time.Time  `json:"expires_at"`
	MaxFiles              *int64     `json:"max_files"` // null for no limit
	MaxBytes              *int64     `json:"max_bytes"` // null for no limit
	Files                 int64      `json:"files"`
	Bytes                 int64      `json:"bytes"`
	CloseAfterFirstUpload bool       `json:"close_after_first_upload"`
	HasPassword           bool       `json:"has_password"`
	State                 string     `json:"state"` // active, full, expired or revoked
	CreatedAt             time.Time  `json:"created_at"`
	RevokedAt             *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) toDropJSON(d store.Drop, url string) dropJSON {
	out := dropJSON{
		ID: d.ID, URL: url, Label: d.Label, ExpiresAt: d.ExpiresAt.UTC(), Files: d.Files, Bytes: d.Bytes,
		CloseAfterFirstUpload: d.CloseAfterFirstUpload, HasPassword: d.HasPassword(),
		State: d.State(s.now()), CreatedAt: d.CreatedAt.UTC(),
	}
	if d.MaxFiles > 0 {
		out.MaxFiles = &d.MaxFiles
	}
	if d.MaxBytes > 0 {
		out.MaxBytes = &d.MaxBytes
	}
	if !d.RevokedAt.IsZero() {
		revoked := d.RevokedAt.UTC()
		out.RevokedAt = &revoked
	}
	return out
}

// dropRoutes registers the drop API, the owner's drop pages and the public
// link routes under /d/.
func (s *Server) dropRoutes(e *echo.Echo, pages *echo.Group) {
	api := e.Group("/api/v1", requireUser)
	api.POST("/drops", s.apiCreateDrop)
	api.GET("/drops", s.apiListDrops)
	api.DELETE("/drops/:id", s.apiRevokeDrop)

	pages.GET("/drops", s.dropsPage)
	pages.POST("/drops", s.browserCreateDrop)
	pages.POST("/drops/:id/revoke", s.browserRevokeDrop)

	links := e.Group("/d", noStore)
	links.RouteNotFound("/*", linkNotFound)
	links.GET("/:token", s.dropPage)
	links.POST("/:token", s.dropUnlock)
	links.POST("/:token/files", s.dropUpload, s.LimitUploads)
}

func (s *Server) apiCreateDrop(c echo.Context) error {
	var req dropRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}

	d, token, err := s.createDrop(c, req)
	if err != nil {
		return err
	}

	return c.JSON(http.StatusCreated, s.toDropJSON(d, s.linkURL(c, "/d/"+token)))
}

func (s *Server) apiListDrops(c echo.Context) error {
	user, _ := currentUser(c)
	drops, err := s.store.ListDrops(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}

	list := make([]dropJSON, 0, len(drops))
	for _, d := range drops {
		list = append(list, s.toDropJSON(d, ""))
	}
	return c.JSON(http.StatusOK, map[string]any{"drops": list})
}

func (s *Server) apiRevokeDrop(c echo.Context) error {
	if err := s.revokeDrop(c, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// createDrop checks a drop request for the signed-in user and stores the
// drop. A refusal stores nothing and is audited.
func (s *Server) createDrop(c echo.Context, req dropRequest) (store.Drop, string, error) {
	user, _ := currentUser(c)
	d, token, err := s.buildDrop(user, req)
	if err != nil {
		s.audit(c, user.Username, "drop_create", "user:"+user.Username, store.OutcomeFailure, s.classify(err).Message)
		return store.Drop{}, "", err
	}

	ev := s.auditEvent(c, user.Username, "drop_create", "", store.OutcomeSuccess, describeDrop(d))
	if d, err = s.store.CreateDrop(auditCtx(c), d, ev); err != nil {
		return store.Drop{}, "", err
	}
	ev.Target = "drop:" + d.ID
	s.logAudit(ev)
	return d, token, nil
}

// buildDrop validates req and returns the drop to insert with its token.
func (s *Server) buildDrop(user store.User, req dropRequest) (store.Drop, string, error) {
	if utf8.RuneCountInString(req.Label) > maxDropLabel {
		return store.Drop{}, "", apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("label must be at most %d characters long.", maxDropLabel))
	}
	life, err := lifetime(req.ExpiresInSeconds)
	if err != nil {
		return store.Drop{}, "", err
	}
	maxFiles, err := optionalLimit("max_files", req.MaxFiles)
	if err != nil {
		return store.Drop{}, "", err
	}
	maxBytes, err := optionalLimit("max_bytes", req.MaxBytes)
	if err != nil {
		return store.Drop{}, "", err
	}
	passwordHash, err := hashLinkPassword(req.Password)
	if err != nil {
		return store.Drop{}, "", err
	}

	token, tokenHash := newLinkToken()
	now := s.now().UTC().Truncate(time.Microsecond)
	return store.Drop{
		ID: store.NewID(), OwnerID: user.ID, TokenHash: tokenHash, Label: cleanText(req.Label, maxDropLabel, false),
		PasswordHash: passwordHash, UnlockKey: newUnlockKey(), MaxFiles: maxFiles, MaxBytes: maxBytes,
		CloseAfterFirstUpload: req.CloseAfterFirstUpload, CreatedAt: now, ExpiresAt: now.Add(life),
	}, token, nil
}

// describeDrop is the audit detail of a new drop; it names no secret.
func describeDrop(d store.Drop) string {
	return fmt.Sprintf("label %s; expires %s; max files %d; max bytes %d; close after first upload %t; password %t",
		quoteName(d.Label), d.ExpiresAt.UTC().Format(time.RFC3339), d.MaxFiles, d.MaxBytes,
		d.CloseAfterFirstUpload, d.HasPassword())
}

// revokeDrop ends one of the caller's drops. Another user's drop, or an
// unknown id, is 404 not_found and is audited as a failure.
func (s *Server) revokeDrop(c echo.Context, id string) error {
	user, _ := currentUser(c)
	ev := s.auditEvent(c, user.Username, "drop_revoke", "", store.OutcomeSuccess, "revoked")
	err := s.store.RevokeDrop(auditCtx(c), user.ID, id, ev)
	if errors.Is(err, store.ErrNotFound) {
		s.audit(c, user.Username, "drop_revoke", "drop:"+truncateForAudit(id), store.OutcomeFailure, "no such drop of this user")
		return errNotFound
	}
	if err != nil {
		return err
	}
	ev.Target = "drop:" + id
	s.logAudit(ev)
	return nil
}

func (s *Server) dropsPage(c echo.Context) error {
	return s.renderDrops(c, http.StatusOK, views.DropsData{Notice: linkNotice(c.QueryParam("notice"))}, "")
}

// renderDrops shows the drop form and the user's drops with the files that
// arrived through each.
func (s *Server) renderDrops(c echo.Context, status int, data views.DropsData, lifetimeValue string) error {
	user, _ := currentUser(c)
	ctx := c.Request().Context()
	drops, err := s.store.ListDrops(ctx, user.ID)
	if err != nil {
		return err
	}

	for _, d := range drops {
		files, err := s.store.DropFiles(ctx, d.ID)
		if err != nil {
			return err
		}
		data.Drops = append(data.Drops, s.dropRowView(d, files))
	}
	data.Lifetimes = lifetimeOptions(lifetimeValue)
	data.IsAdmin = user.IsAdmin
	return s.render(c, status, views.Drops(s.page(c, "Drops", "drops"), data))
}

func (s *Server) dropRowView(d store.Drop, files []store.DropFile) views.DropRow {
	state := d.State(s.now())
	row := views.DropRow{
		ID: d.ID, Label: dropLabel(d), State: state, StateLabel: linkStateLabel(state),
		Received: dropUsage(d), Expires: d.ExpiresAt.UTC().Format(time.RFC3339), ExpiresText: formatWhen(d.ExpiresAt),
		HasPassword: d.HasPassword(), Revocable: state != store.LinkRevoked,
	}
	for _, f := range files {
		from := f.Upload.UploaderName
		if from == "" {
			from = "(no name given)"
		}
		row.Arrivals = append(row.Arrivals, views.DropArrival{
			FileID: f.ID, Name: f.Name, Size: config.FormatBytes(f.Size), Status: f.Status,
			StatusLabel: statusLabel(f.Status), From: from, Note: f.Upload.Note,
			Uploaded: f.Upload.CreatedAt.UTC().Format(time.RFC3339), UploadedText: formatWhen(f.Upload.CreatedAt),
			Downloadable: f.Downloadable(),
		})
	}
	return row
}

// dropUsage describes what a drop has taken against its limits.
func dropUsage(d store.Drop) string {
	files := strconv.FormatInt(d.Files, 10) + " files"
	if limit := d.FileLimit(); limit > 0 {
		files = fmt.Sprintf("%d of %d files", d.Files, limit)
	}
	bytes := config.FormatBytes(d.Bytes)
	if d.MaxBytes > 0 {
		bytes += " of " + config.FormatBytes(d.MaxBytes)
	}
	return files + ", " + bytes
}

func dropLabel(d store.Drop) string {
	if d.Label == "" {
		return "Untitled drop"
	}
	return d.Label
}

// browserCreateDrop takes the drop form and shows the link once.
func (s *Server) browserCreateDrop(c echo.Context) error {
	form := views.DropForm{
		Label:           c.FormValue("label"),
		MaxFiles:        strings.TrimSpace(c.FormValue("max_files")),
		MaxBytes:        strings.TrimSpace(c.FormValue("max_bytes")),
		CloseAfterFirst: c.FormValue("close_after_first_upload") != "",
	}
	lifetimeValue := c.FormValue("expires_in_seconds")

	req, err := dropRequestFromForm(form, lifetimeValue, c.FormValue("password"))
	if err == nil {
		var d store.Drop
		var token string
		if d, token, err = s.createDrop(c, req); err == nil {
			return s.renderLinkCreated(c, "Drop link created", "/d/"+token, dropFacts(d), "/drops", "Back to drops")
		}
	}

	e := s.classify(err)
	if e.Status >= 500 {
		return err
	}
	return s.renderDrops(c, e.Status, views.DropsData{Form: form, Error: e.Message}, lifetimeValue)
}

// dropRequestFromForm reads the drop form. The byte limit takes a size
// with a unit, such as 500MB or 2GiB.
func dropRequestFromForm(form views.DropForm, lifetimeValue, password string) (dropRequest, error) {
	req := dropRequest{Label: form.Label, Password: password, CloseAfterFirstUpload: form.CloseAfterFirst}
	var err error
	if req.ExpiresInSeconds, err = formNumber("expires_in_seconds", lifetimeValue); err != nil {
		return req, err
	}
	if req.MaxFiles, err = formNumber("max_files", form.MaxFiles); err != nil {
		return req, err
	}
	if form.MaxBytes != "" {
		size, err := config.ParseSize(form.MaxBytes)
		if err != nil {
			return req, apiError(http.StatusBadRequest, "invalid_request",
				"The total size must be a number with an optional unit, such as 500MB or 2GiB.")
		}
		n := int64(size)
		req.MaxBytes = &n
	}
	return req, nil
}

func dropFacts(d store.Drop) []views.Fact {
	files, bytes := "no limit", "no limit"
	if limit := d.FileLimit(); limit > 0 {
		files = strconv.FormatInt(limit, 10)
	}
	if d.MaxBytes > 0 {
		bytes = config.FormatBytes(d.MaxBytes)
	}
	return []views.Fact{
		{Label: "Label", Value: dropLabel(d)},
		{Label: "Expires", Value: formatWhen(d.ExpiresAt)},
		{Label: "Files allowed", Value: files},
		{Label: "Total size allowed", Value: bytes},
		{Label: "Closes after the first upload", Value: yesNo(d.CloseAfterFirstUpload)},
		{Label: "Password", Value: yesNo(d.HasPassword())},
	}
}

func (s *Server) browserRevokeDrop(c echo.Context) error {
	if err := s.revokeDrop(c, c.Param("id")); err != nil {
		return err
	}
	return redirect(c, "/drops?notice=revoked")
}

// dropArrivalsNotice returns the Files page's notice of how many files
// reached the user's drops since the last notice, and marks those seen. A
// failure only loses the notice.
func (s *Server) dropArrivalsNotice(c echo.Context, user store.User) string {
	n, err := s.store.TakeNewDropArrivals(auditCtx(c), user.ID)
	if err != nil {
		s.log.Error("count new drop arrivals", "user_id", user.ID, "err", err)
		return ""
	}
	switch {
	case n == 0:
		return ""
	case n == 1:
		return "1 new file arrived through your drop links since you last looked."
	}
	return fmt.Sprintf("%d new files arrived through your drop links since you last looked.", n)
}

// noStore keeps a link's pages out of every cache: they carry the link's
// token in their URLs.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}
