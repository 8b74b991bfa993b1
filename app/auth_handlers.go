package app

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

const loginFailedMessage = "Invalid username or password."

// hashSlots bounds concurrent argon2id computations: each takes 64 MiB, so
// a burst of sign-ins must queue instead of exhausting memory.
var hashSlots = make(chan struct{}, 4)

func (s *Server) index(c echo.Context) error {
	if _, ok := currentUser(c); ok {
		return redirect(c, "/files")
	}
	return redirect(c, "/login")
}

func (s *Server) loginGet(c echo.Context) error {
	if _, ok := currentUser(c); ok {
		return redirect(c, "/files")
	}
	form := views.LoginForm{Next: safeNext(c.QueryParam("next"))}
	return s.render(c, http.StatusOK, views.Login(s.page(c, "Sign in", ""), form))
}

func (s *Server) loginPost(c echo.Context) error {
	username := strings.TrimSpace(c.FormValue("username"))
	password := c.FormValue("password")
	// No account name is longer than 64 bytes. A longer one is cut before
	// it keys the rate limiter, reaches the audit log or is echoed back in
	// the form, and then matches no account.
	if len(username) > 64 {
		username = strings.ToValidUTF8(username[:64], "")
	}
	form := views.LoginForm{Username: username, Next: safeNext(c.FormValue("next"))}

	if ok, wait := s.limits.allow(strings.ToLower(username), clientAddr(c)); !ok {
		s.auditRepeated(c, "anonymous", "login", "user:"+username, "rate limited")
		form.Error = "Too many sign-in attempts. Wait a minute, then try again."
		c.Response().Header().Set("Retry-After", retryAfterSeconds(wait))
		return s.render(c, http.StatusTooManyRequests, views.Login(s.page(c, "Sign in", ""), form))
	}

	user, err := s.checkPassword(c, username, password)
	if errors.Is(err, errBadCredentials) {
		s.audit(c, "anonymous", "login", "user:"+username, store.OutcomeFailure, "invalid username or password")
		form.Error = loginFailedMessage
		return s.render(c, http.StatusUnauthorized, views.Login(s.page(c, "Sign in", ""), form))
	}
	if err != nil {
		return err
	}

	if err := s.startSession(c, user, "login"); err != nil {
		return err
	}
	return redirect(c, form.Next)
}

var errBadCredentials = errors.New("invalid username or password")

// checkPassword returns the user when the password matches. An unknown
// username costs the same hashing time as a wrong password, so response
// times do not reveal which accounts exist.
func (s *Server) checkPassword(c echo.Context, username, password string) (store.User, error) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()

	user, err := s.store.UserByName(c.Request().Context(), username)
	if errors.Is(err, store.ErrNotFound) {
		auth.DummyVerify(password)
		return store.User{}, errBadCredentials
	}
	if err != nil {
		return store.User{}, err
	}

	ok, err := auth.VerifyPassword(user.PasswordHash, password)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, errBadCredentials
	}
	return user, nil
}

// startSession creates a session for user, sets its cookie and records
// action ("login" or "setup") in the audit log.
func (s *Server) startSession(c echo.Context, user store.User, action string) error {
	token := auth.NewToken(auth.PrefixSession)
	sess := store.Session{
		TokenHash:  auth.HashToken(token),
		UserID:     user.ID,
		ClientAddr: clientAddr(c),
		CreatedAt:  s.now(),
		ExpiresAt:  s.sessionExpiry(),
	}
	ev := s.auditEvent(c, user.Username, action, "user:"+user.Username, store.OutcomeSuccess, "session started")
	if err := s.store.CreateSession(auditCtx(c), sess, ev); err != nil {
		return err
	}
	s.logAudit(ev)

	c.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (s *Server) logout(c echo.Context) error {
	cookie, err := c.Cookie(SessionCookie)
	if err == nil && cookie.Value != "" {
		actor := "anonymous"
		if u, ok := currentUser(c); ok {
			actor = u.Username
		}
		ev := s.auditEvent(c, actor, "logout", "user:"+actor, store.OutcomeSuccess, "session ended")
		if err := s.store.DeleteSession(auditCtx(c), auth.HashToken(cookie.Value), ev); err != nil {
			return err
		}
		s.logAudit(ev)
	}

	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(c), SameSite: http.SameSiteLaxMode,
	})
	return redirect(c, "/login")
}

// secureCookies reports whether cookies must carry the Secure attribute.
func (s *Server) secureCookies(c echo.Context) bool {
	return c.IsTLS() || strings.HasPrefix(s.cfg.BaseURL, "https://")
}

// safeNext keeps a post-sign-in redirect on this site: only a local path,
// never "//host" or a scheme.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/files"
	}
	return next
}

// setupMu serialises the first-run page, so its check and its insert
// cannot interleave with a second request.
var setupMu sync.Mutex

func (s *Server) setupGet(c echo.Context) error {
	token := c.QueryParam("token")
	if !s.setupTokenValid(c, token) {
		return errNotFound
	}
	form := views.SetupForm{Token: token}
	return s.render(c, http.StatusOK, views.Setup(s.page(c, "Set up vaultdrop", ""), form))
}

func (s *Server) setupPost(c echo.Context) error {
	setupMu.Lock()
	defer setupMu.Unlock()

	token := c.FormValue("token")
	if !s.setupTokenValid(c, token) {
		return errNotFound
	}

	form := views.SetupForm{Token: token, Username: strings.TrimSpace(c.FormValue("username"))}
	password := c.FormValue("password")
	if msg := validateNewAccount(form.Username, password, c.FormValue("password_confirm")); msg != "" {
		form.Error = msg
		return s.render(c, http.StatusBadRequest, views.Setup(s.page(c, "Set up vaultdrop", ""), form))
	}

	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	ev := s.auditEvent(c, form.Username, "setup", "", store.OutcomeSuccess, "first administrator created")
	user, err := s.store.CreateFirstAdmin(auditCtx(c), store.User{Username: form.Username, PasswordHash: hash}, ev)
	if errors.Is(err, store.ErrConflict) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	s.logAudit(ev)

	if err := s.startSession(c, user, "login"); err != nil {
		return err
	}
	return redirect(c, "/files")
}

// setupTokenValid reports whether token is the current one-time setup token.
// After setup there is none, so the page returns 404 like any unknown page.
func (s *Server) setupTokenValid(c echo.Context, token string) bool {
	if token == "" {
		return false
	}
	want, err := s.store.SetupTokenHash(c.Request().Context())
	if err != nil {
		return false
	}
	return auth.TokenMatchesHex(token, want)
}

// validateNewAccount returns a message for the first problem with a new
// account's username or password, or "".
func validateNewAccount(username, password, confirm string) string {
	if err := ValidateUsername(username); err != nil {
		return err.Error()
	}
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return "The password must be 10 to 1024 characters long."
	}
	if password != confirm {
		return "The two passwords differ. Type the same password twice."
	}
	return ""
}

// ValidateUsername checks a new username: 1 to 64 letters, digits, dots,
// dashes, underscores or @, so it is safe in logs, URLs and audit text.
func ValidateUsername(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("the username must be 1 to 64 characters long")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)
		if !ok {
			return errors.New("the username may contain only letters a-z, digits, dots, dashes, underscores and @")
		}
	}
	return nil
}
