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
	// The peer address, or X-Forwarded-For only from --trusted-proxies.
	e.IPExtractor = ipExtractor(s.cfg.Limits)

	e.Use(restoreBody, securityHeaders, s.strictTransportSecurity, s.requestLog, s.bodyTimeouts, s.apiRateLimit(), crossOriginProtection(), s.authenticate)

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
	s.uploadRoutes(e)
	s.adminRoutes(pages)
	s.linkRoutes(e, pages)
	s.metricsRoutes(e)

	return e
}
