package app

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// Error is a response meant for the client: a status, a stable code that
// scripts match on, and a message that says what was wrong and what to do.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // sent as Retry-After when set
}

func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

func apiError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

var (
	errUnauthorized = apiError(http.StatusUnauthorized, "unauthorized",
		"Sign in, or send an API token in the Authorization header as: Bearer TOKEN.")
	errNotFound = apiError(http.StatusNotFound, "not_found",
		"No such file or page. It may have been deleted, or the link may be wrong.")
)

// errorBody is the JSON form of every API error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handleError is the one place where errors become responses. Only it logs
// server errors, and users never see internal error text.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}

	e := s.classify(err)
	if e.Status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "route", c.Path(), "err", err)
	}
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}

	if wantsJSON(c) {
		var body errorBody
		body.Error.Code, body.Error.Message = e.Code, e.Message
		if c.Request().Method == http.MethodHead {
			c.NoContent(e.Status)
			return
		}
		c.JSON(e.Status, body)
		return
	}

	page := s.page(c, http.StatusText(e.Status), "")
	s.render(c, e.Status, views.ErrorPage(page, e.Status, e.Message))
}

// classify maps an error to the client's response.
func (s *Server) classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}

	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromHTTPError(he)
	}

	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if errors.Is(err, errRequestCanceled) {
		return apiError(499, "canceled", "The request was canceled by the client.")
	}

	if mapped := classifyIntake(err); mapped != nil {
		return mapped
	}
	if store.IsDiskFull(err) {
		return errDiskFull
	}
	return apiError(http.StatusInternalServerError, "internal",
		"Something went wrong on the server. Try again; if it keeps happening, tell the operator.")
}

func fromHTTPError(he *echo.HTTPError) *Error {
	switch he.Code {
	case http.StatusNotFound:
		return errNotFound
	case http.StatusMethodNotAllowed:
		return apiError(he.Code, "method_not_allowed", "This address does not take that request method.")
	case http.StatusRequestEntityTooLarge:
		return apiError(he.Code, "too_large", "The request is too large.")
	case http.StatusUnauthorized:
		return errUnauthorized
	}
	if he.Code >= 500 {
		return apiError(http.StatusInternalServerError, "internal",
			"Something went wrong on the server. Try again; if it keeps happening, tell the operator.")
	}
	return apiError(he.Code, "invalid_request", http.StatusText(he.Code)+".")
}

// wantsJSON reports whether the client is a script (the API, or a request
// that asks for JSON) rather than a browser page.
func wantsJSON(c echo.Context) bool {
	r := c.Request()
	if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/healthz" || linkWantsJSON(r) {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
