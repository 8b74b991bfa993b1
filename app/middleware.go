package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/store"
)

// pageCSP is the Content-Security-Policy of every HTML page: scripts and
// styles only from our own embedded assets, never inline, and no framing.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// downloadCSP is sent with file bytes: a browser that renders them anyway
// gets no script, no subresources and a unique origin.
const downloadCSP = "default-src 'none'; sandbox"

// Bounds on the body that restoreBody reads and drops after a refused
// upload.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 4 << 20
)

// lingerKey marks a request whose refusal restoreBody delivers by reading
// on. LimitUploads sets it on the uploads it admits, on every route that
// takes file bytes: the only routes where clients stream large bodies.
const lingerKey = "vaultdrop.linger"

// restoreBody puts the request's own body back when the handler returns.
// Body limits and timeouts wrap r.Body; net/http drains an unread body and
// lingers before closing only when r.Body is still its own type, so without
// this a refused upload's response is often lost to a connection reset.
//
// net/http drains at most 256 KiB (maxPostHandlerReadBytes in its
// server.go) and then closes the connection while the client may still be
// sending. The kernel responds to the unread bytes with a reset, which can
// destroy the response before a single-threaded client such as curl has
// read it. So after a refused upload (4xx or 5xx) the response is flushed
// at once. Then the rest of the body is read and dropped for up to
// lingerTime or lingerBytes, long enough for the client to see the refusal
// and stop sending.
func restoreBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		original := r.Body
		defer func() { r.Body = original }()

		err := next(c)
		if c.Get(lingerKey) == true && lingersAfter(c.Response().Status) && r.ContentLength != 0 {
			lingerOnBody(c.Response(), original)
		}
		return err
	}
}

// lingersAfter reports whether a response with status refuses an upload's
// content, so that restoreBody should make sure the client reads it. A 404
// (unknown drop link) is left out, because it goes to a prober, who is not
// owed the wait.
func lingersAfter(status int) bool {
	return status >= http.StatusBadRequest && status != http.StatusNotFound
}

// lingerOnBody flushes the response and reads body until it ends, or for
// lingerTime or lingerBytes, whichever comes first.
func lingerOnBody(w *echo.Response, body io.Reader) {
	if !w.Committed {
		return
	}
	w.Flush()

	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(lingerTime)); err != nil {
		return
	}
	_, err := io.CopyN(io.Discard, body, lingerBytes)
	if errors.Is(err, io.EOF) || errors.Is(err, http.ErrBodyReadAfterClose) {
		// The whole body arrived (net/http closes a body it drained to its
		// end when it writes the response), so the connection may serve
		// another request.
		rc.SetReadDeadline(time.Time{})
		return
	}
	// Leave an expired deadline: net/http reads on after the handler to
	// drain the body, and that read must fail at once instead of waiting
	// for a client that stopped sending.
	rc.SetReadDeadline(time.Now())
}

// securityHeaders sets the headers every response carries. Download
// handlers replace the CSP with downloadCSP.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		return next(c)
	}
}

// crossOriginProtection refuses state-changing requests that a browser sent
// from another origin, using the standard library's Sec-Fetch-Site and
// Origin checks. Scripts that send neither header (curl) pass, which is
// safe because they cannot carry a victim's cookie.
func crossOriginProtection() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return apiError(http.StatusForbidden, "cross_origin",
					"This request came from another site and was refused. Open vaultdrop directly and try again.")
			}
			return next(c)
		}
	}
}

// requestLog logs one record per request. It logs the route pattern, not
// the path, so tokens inside paths (share and drop links) never reach the
// log.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}

		route := c.Path()
		if route == "" {
			route = "(no route)"
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelDebug, "request",
			slog.String("method", c.Request().Method),
			slog.String("route", route),
			slog.Int("status", c.Response().Status),
			slog.Int64("bytes_out", c.Response().Size),
			slog.String("client_addr", c.RealIP()),
			slog.Duration("duration", s.now().Sub(start)),
		)
		return nil
	}
}

const userKey = "vaultdrop.user"

// SessionCookie is the name of the session cookie.
const SessionCookie = "vaultdrop_session"

// authenticate finds the caller from the Authorization header or the
// session cookie. Credentials in the query string are ignored on purpose:
// URLs end up in logs, histories and Referer headers.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()

		if header := c.Request().Header.Get(echo.HeaderAuthorization); header != "" {
			token, ok := strings.CutPrefix(header, "Bearer ")
			if !ok || token == "" {
				return errUnauthorized
			}
			u, err := s.store.TokenUser(ctx, auth.HashToken(strings.TrimSpace(token)))
			if errors.Is(err, store.ErrNotFound) {
				return errUnauthorized
			}
			if err != nil {
				return err
			}
			c.Set(userKey, u)
			return next(c)
		}

		if cookie, err := c.Cookie(SessionCookie); err == nil && cookie.Value != "" {
			u, err := s.store.SessionUser(ctx, auth.HashToken(cookie.Value))
			if err == nil {
				c.Set(userKey, u)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return next(c)
	}
}

func currentUser(c echo.Context) (store.User, bool) {
	u, ok := c.Get(userKey).(store.User)
	return u, ok
}

// requireUser returns 401 to scripts and redirects browsers to the sign-in page.
func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := currentUser(c); ok {
			return next(c)
		}
		if wantsJSON(c) || c.Request().Method != http.MethodGet {
			return errUnauthorized
		}
		return redirect(c, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
}

// requireAdmin returns 404 to non-admins, so the admin pages cannot be
// discovered.
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u, ok := currentUser(c); ok && u.IsAdmin {
			return next(c)
		}
		return errNotFound
	}
}

// errRequestCanceled marks a request whose client went away.
var errRequestCanceled = errors.New("request canceled by the client")

// clientAddr is the address audit events and rate limits use.
func clientAddr(c echo.Context) string {
	return c.RealIP()
}

// sessionExpiry returns when a session started now ends.
func (s *Server) sessionExpiry() time.Time {
	return s.now().Add(s.cfg.SessionLifetime)
}

// auditCtx detaches an audit write from the request, so a client that hangs
// up cannot cancel the record of what it did.
func auditCtx(c echo.Context) context.Context {
	return context.WithoutCancel(c.Request().Context())
}
