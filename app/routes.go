package app

import (
	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/assets"
)

// routes builds the Echo instance with every route and middleware.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// Trust only the peer address, never X-Forwarded-For from the client.
	e.IPExtractor = echo.ExtractIPDirect()

	e.Use(securityHeaders, s.requestLog, crossOriginProtection(), s.authenticate)

	e.GET("/healthz", s.health)
	e.GET(assets.Prefix+"*", echo.WrapHandler(assets.Handler()))

	e.GET("/", s.index)
	e.GET("/login", s.loginGet)
	e.POST("/login", s.loginPost)
	e.POST("/logout", s.logout)
	e.GET("/setup", s.setupGet)
	e.POST("/setup", s.setupPost)

	pages := e.Group("", requireUser)
	pages.GET("/files", s.filesPage)
	s.fileRoutes(e, pages)
	s.adminRoutes(pages)

	return e
}
