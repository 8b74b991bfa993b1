package app

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthStatus is the body of GET /healthz. It names component states only,
// never paths, versions of secrets or counts of users' files.
type healthStatus struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Scanner  string `json:"scanner"` // ok, unavailable or off
	Version  string `json:"version"`
}

func (s *Server) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()

	h := healthStatus{Status: "ok", Database: "ok", Scanner: s.scannerState(ctx), Version: s.version}
	if err := s.store.Ping(ctx); err != nil {
		h.Status, h.Database = "unavailable", "unavailable"
		s.log.Warn("health check: database unavailable", "err", err)
		return c.JSON(http.StatusServiceUnavailable, h)
	}
	return c.JSON(http.StatusOK, h)
}

// scannerState is "off" when the operator turned scanning off, "ok" when
// the scanner answers a PING, and "unavailable" otherwise. An unavailable
// scanner does not make the server unhealthy: uploads wait as pending.
func (s *Server) scannerState(ctx context.Context) string {
	if s.scanning == nil || s.scanning.Off() {
		return "off"
	}
	sc, _ := s.scanning.Current()
	if sc == nil {
		return "unavailable"
	}
	if err := sc.Ping(ctx); err != nil {
		return "unavailable"
	}
	return "ok"
}
