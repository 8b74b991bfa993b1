package app

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/views"
)

// render writes a templ component as an HTML page with status. The page is
// rendered into a buffer first, so a rendering error can still become a
// proper error response.
func (s *Server) render(c echo.Context, status int, component templ.Component) error {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// page fills the layout data shared by every page.
func (s *Server) page(c echo.Context, title, nav string) views.Page {
	p := views.Page{Title: title, Nav: nav, Banner: s.banner()}
	if u, ok := currentUser(c); ok {
		p.User = &views.User{Name: u.Username, IsAdmin: u.IsAdmin}
	}
	return p
}

// banner is a warning for every page; empty when all is well.
func (s *Server) banner() string {
	if s.scanning == nil || s.scanning.Off() {
		return ""
	}
	if sc, _ := s.scanning.Current(); sc == nil {
		return "No virus scanner is available, so uploads are held and cannot be downloaded until ClamAV runs. " +
			"Install it (Debian and Ubuntu: sudo apt install clamav-daemon), or have the operator start vaultdrop with --scanner off."
	}
	return ""
}

// redirect responds to a browser form with 303 See Other, so a reload does not
// post the form again.
func redirect(c echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}
