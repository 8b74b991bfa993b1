package app

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// quotaRoutes registers the admin's page of users and their storage quotas
// under the admin group.
func (s *Server) quotaRoutes(admin *echo.Group) {
	admin.GET("/users", s.adminUsersPage)
	admin.POST("/users/:id/quota", s.adminSetQuota)
}

func (s *Server) adminUsersPage(c echo.Context) error {
	var data views.UsersData
	if c.QueryParam("notice") == "quota" {
		data.Notice = "The quota was saved. It applies to uploads in progress too."
	}
	return s.renderUsers(c, http.StatusOK, data)
}

// renderUsers renders the users page with every user's storage.
func (s *Server) renderUsers(c echo.Context, status int, data views.UsersData) error {
	list, err := s.store.ListUserStorage(c.Request().Context())
	if err != nil {
		return err
	}

	data.DefaultQuota = "unlimited"
	if s.cfg.UserQuota > 0 {
		data.DefaultQuota = s.cfg.UserQuota.String()
	}
	for _, u := range list {
		data.Users = append(data.Users, s.userQuotaRow(u))
	}
	return s.render(c, status, views.Users(s.page(c, "Users", "admin"), data))
}

func (s *Server) userQuotaRow(u store.UserStorage) views.UserQuotaRow {
	row := views.UserQuotaRow{
		ID: u.UserID, Name: u.Username, IsAdmin: u.IsAdmin, Files: u.Files,
		Used: config.FormatBytes(u.Used), Source: "server default",
	}

	limit := int64(s.cfg.UserQuota)
	if u.QuotaSet {
		limit, row.Source = u.Quota, "own"
		row.Setting = config.DescribeQuota(&u.Quota)
	}
	row.Quota = "unlimited"
	if limit > 0 {
		row.Quota = config.FormatBytes(limit)
	}
	return row
}

// adminSetQuota sets one user's own quota, or returns them to the server's
// default, and applies it to their uploads in progress.
func (s *Server) adminSetQuota(c echo.Context) error {
	admin, _ := currentUser(c)
	id := c.Param("id")
	if !store.ValidID(id) {
		return errNotFound
	}
	quota, err := config.ParseQuota(c.FormValue("quota"))
	if err != nil {
		return s.renderUsers(c, http.StatusBadRequest, views.UsersData{Error: "Invalid quota: " + err.Error()})
	}

	ctx := c.Request().Context()
	user, err := s.store.UserByID(ctx, id)
	if err != nil {
		return err
	}
	ev := s.auditEvent(c, admin.Username, "quota_set", "user:"+user.Username, store.OutcomeSuccess,
		"quota "+config.DescribeQuota(quota))
	err = s.store.SetUserQuota(auditCtx(c), id, quota, ev)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	s.logAudit(ev)

	if err := s.intake.RefreshQuota(ctx, id); err != nil {
		return err
	}
	return redirect(c, "/admin/users?notice=quota")
}
