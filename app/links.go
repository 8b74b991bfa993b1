package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/store"
)

// This file contains what share links (/s/TOKEN) and drop links (/d/TOKEN)
// have in common: their tokens, the response for a dead link, passwords
// with their rate limits and unlock cookie, and the link's URL and QR code.

// linkTokenLength is the length of a link token: 256 random bits in
// unpadded base64url, without a prefix so that links stay short.
const linkTokenLength = 43

// linkPasswordHeader carries a link's password from scripts.
const linkPasswordHeader = "X-Share-Password"

// linkUnlockCookie proves that a browser entered a link's password. Its
// path is the link's own, so it is never sent to another link.
const linkUnlockCookie = "vaultdrop_link"

// unlockLifetime is how long a browser may use a link after entering its
// password, unless the link expires sooner.
const unlockLifetime = time.Hour

// Link lifetimes. A link without an expiry gets the default; the maximum
// bounds how long a forgotten link stays usable.
const (
	defaultLinkLifetime = 7 * 24 * time.Hour
	minLinkLifetime     = time.Minute
	maxLinkLifetime     = 365 * 24 * time.Hour
)

var (
	// errLinkNotFound is the one response for an unknown, expired, used-up
	// or revoked link, and for a file that is no longer served through it,
	// so that holders of a dead link learn nothing about why it is dead.
	errLinkNotFound = apiError(http.StatusNotFound, "not_found",
		"This link does not exist, or it has expired, been used up or been revoked. Ask the person who sent it for a new link.")
	// errLinkPassword is the one response for a missing or wrong link
	// password.
	errLinkPassword = apiError(http.StatusUnauthorized, "unauthorized",
		"This link needs its password, and the password was missing or wrong. Enter it on the link's page, or send it in the X-Share-Password header.")
)

// linkNotFound responds to any other path under a link prefix exactly as
// to a dead link.
func linkNotFound(echo.Context) error {
	return errLinkNotFound
}

// newLinkToken returns a new link token and the SHA-256 hash that is stored.
func newLinkToken() (token string, hash []byte) {
	token = auth.NewToken("")
	return token, auth.HashToken(token)
}

// validLinkToken reports whether s has the form newLinkToken produces, so a
// malformed token never reaches a query.
func validLinkToken(s string) bool {
	if len(s) != linkTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newUnlockKey returns a random HMAC key for a link's unlock cookie.
func newUnlockKey() []byte {
	key := make([]byte, 32)
	rand.Read(key)
	return key
}

// linkWantsJSON reports whether a request to a link route comes from a
// script: it sends the link password header, or it posts to a drop without
// asking for an HTML page. handleError responds to those in JSON.
func linkWantsJSON(r *http.Request) bool {
	if r.Header.Get(linkPasswordHeader) != "" {
		return true
	}
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/d/") && strings.HasSuffix(r.URL.Path, "/files") &&
		!strings.Contains(r.Header.Get("Accept"), "text/html")
}

// linkURL returns the absolute URL of a link path such as /s/TOKEN: under
// --base-url when it is set, else under the request's own scheme and Host.
// X-Forwarded-Proto is ignored, since any client can send it; behind a
// proxy that ends TLS, --base-url gives the public address.
func (s *Server) linkURL(c echo.Context, path string) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL + path
	}
	scheme := "http"
	if c.IsTLS() {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host + path
}

// qrDataURI returns a QR code of text as a PNG data: URI, which the page
// CSP allows as an image, so no other service ever receives the link.
func qrDataURI(text string) (string, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, 256)
	if err != nil {
		return "", fmt.Errorf("encode QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// lifetime turns an optional expires_in_seconds into a duration, with the
// default for nil.
func lifetime(seconds *int64) (time.Duration, error) {
	if seconds == nil {
		return defaultLinkLifetime, nil
	}
	// Check the range before converting, which could overflow.
	if *seconds < int64(minLinkLifetime/time.Second) || *seconds > int64(maxLinkLifetime/time.Second) {
		return 0, apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("expires_in_seconds must be between %d (one minute) and %d (one year).",
				int64(minLinkLifetime/time.Second), int64(maxLinkLifetime/time.Second)))
	}
	return time.Duration(*seconds) * time.Second, nil
}

// optionalLimit checks an optional positive limit; nil means no limit and
// is returned as 0.
func optionalLimit(field string, value *int64) (int64, error) {
	if value == nil {
		return 0, nil
	}
	if *value < 1 {
		return 0, apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("%s must be at least 1, or left out for no limit.", field))
	}
	return *value, nil
}

// hashLinkPassword checks an optional link password and returns its
// argon2id hash, or "" for none.
func hashLinkPassword(password string) (string, error) {
	if password == "" {
		return "", nil
	}
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return "", apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("A link password must be %d to %d characters long, or left out.", auth.MinPasswordLen, auth.MaxPasswordLen))
	}

	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return auth.HashPassword(password)
}

// maxJSONBody is the largest JSON request body the link API reads.
const maxJSONBody = 64 << 10

// decodeJSON reads a JSON object into v, refusing other media types,
// unknown fields and trailing data.
func decodeJSON(c echo.Context, v any) error {
	mediaType, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mediaType != echo.MIMEApplicationJSON {
		return apiError(http.StatusBadRequest, "invalid_request",
			"Send a JSON body with the header Content-Type: application/json.")
	}

	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiError(http.StatusRequestEntityTooLarge, "too_large", "The JSON body is larger than 64 KiB.")
		}
		return apiError(http.StatusBadRequest, "invalid_request", "The JSON body is invalid: "+err.Error()+".")
	}
	if dec.More() {
		return apiError(http.StatusBadRequest, "invalid_request", "The body contains more than one JSON value. Send one object.")
	}
	return nil
}

// cleanText makes visitor-supplied text safe to store and show: valid
// UTF-8 without control or invisible format characters (a multi-line text
// keeps its line feeds and tabs), trimmed, and cut to at most maxRunes.
func cleanText(text string, maxRunes int, multiline bool) string {
	text = strings.ToValidUTF8(text, string(utf8.RuneError))
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.Map(func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return -1
		}
		return r
	}, text)
	text = strings.TrimSpace(text)

	if utf8.RuneCountInString(text) > maxRunes {
		text = strings.TrimSpace(string([]rune(text)[:maxRunes]))
	}
	return text
}

// unlockCookieValue signs "the password of link id was entered, valid
// until expires" with the link's key. The value is the expiry, a random
// nonce and an HMAC-SHA256 over both and the link id, in base64url. It
// never contains the password or anything derived from it.
func unlockCookieValue(key []byte, linkID string, expires time.Time) string {
	payload := make([]byte, 8+16)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	rand.Read(payload[8:])
	return base64.RawURLEncoding.EncodeToString(append(payload, unlockMAC(key, linkID, payload)...))
}

// validUnlockCookie reports whether value is an unexpired unlock cookie
// of link id, comparing the HMAC in constant time.
func validUnlockCookie(key []byte, linkID, value string, now time.Time) bool {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) != 8+16+sha256.Size {
		return false
	}
	payload, mac := raw[:8+16], raw[8+16:]
	if !hmac.Equal(mac, unlockMAC(key, linkID, payload)) {
		return false
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload)), 0)
	return now.Before(expires)
}

func unlockMAC(key []byte, linkID string, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("vaultdrop link unlock\x00" + linkID + "\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// lockedLink is the part of a share or a drop that the password check
// needs.
type lockedLink struct {
	kind         string // "share" or "drop", for audit and log records
	id           string
	passwordHash string
	unlockKey    []byte
	path         string // "/s/TOKEN" or "/d/TOKEN": the unlock cookie's path
	expiresAt    time.Time
}

// unlocked reports whether the request carries a valid unlock cookie for
// the link. It never hashes, so it costs nothing to call.
func (s *Server) unlocked(c echo.Context, link lockedLink) bool {
	cookie, err := c.Cookie(linkUnlockCookie)
	return err == nil && validUnlockCookie(link.unlockKey, link.id, cookie.Value, s.now())
}

// checkLinkPassword lets a request through a link that has no password, or
// whose browser entered it (the unlock cookie), or whose script sends it in
// the X-Share-Password header. Otherwise it returns errLinkPassword, or a
// 429 when the attempts are over their limit.
func (s *Server) checkLinkPassword(c echo.Context, link lockedLink) error {
	if link.passwordHash == "" || s.unlocked(c, link) {
		return nil
	}
	password := c.Request().Header.Get(linkPasswordHeader)
	if password == "" {
		return errLinkPassword
	}
	return s.verifyLinkPassword(c, link, password)
}

// verifyLinkPassword compares password with the link's hash. Each attempt
// takes a token from the link's limiters before the hash is computed, so
// guessing is throttled and cannot make the server hash without bound. A
// right password gives its tokens back.
func (s *Server) verifyLinkPassword(c echo.Context, link lockedLink, password string) error {
	refund, wait := s.linkLimits.take(link.kind+":"+link.id, clientAddr(c))
	if refund == nil {
		s.auditRepeated(c, "anonymous", link.kind+"_password", link.kind+":"+link.id, "rate limited")
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests",
			Message: "Too many password attempts for this link. Wait a minute, then try again.", RetryAfter: wait}
	}

	ok, err := verifyPasswordSlot(link.passwordHash, password)
	if err != nil {
		return err
	}
	if !ok {
		s.audit(c, "anonymous", link.kind+"_password", link.kind+":"+link.id, store.OutcomeFailure, "wrong password")
		return errLinkPassword
	}
	refund()
	return nil
}

// verifyPasswordSlot runs auth.VerifyPassword in one of the shared hashing
// slots, which bound the memory concurrent argon2id hashes take.
func verifyPasswordSlot(hash, password string) (bool, error) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return auth.VerifyPassword(hash, password)
}

// setUnlockCookie lets this browser use the link without its password
// until unlockLifetime passes or the link expires.
func (s *Server) setUnlockCookie(c echo.Context, link lockedLink) {
	expires := s.now().Add(unlockLifetime)
	if link.expiresAt.Before(expires) {
		expires = link.expiresAt
	}
	c.SetCookie(&http.Cookie{
		Name:     linkUnlockCookie,
		Value:    unlockCookieValue(link.unlockKey, link.id, expires),
		Path:     link.path,
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
}

// linkLimits throttles link password attempts. One client address may try
// 5 passwords on a link quickly, then one every 20 seconds. A link takes 20
// attempts from all addresses together, then one every 30 seconds, so
// guessing from many addresses is slow too.
type linkLimits struct {
	client *keyedLimiter
	link   *keyedLimiter
}

func newLinkLimits(now func() time.Time) *linkLimits {
	return &linkLimits{
		client: newKeyedLimiter(20*time.Second, 5, now),
		link:   newKeyedLimiter(30*time.Second, 20, now),
	}
}

// take takes a token from the client's and the link's bucket. It returns a
// function that gives both back, or nil and the wait when either is empty.
func (l *linkLimits) take(link, client string) (refund func(), wait time.Duration) {
	refundClient, wait := l.client.take(link + "|" + client)
	if refundClient == nil {
		return nil, wait
	}
	refundLink, wait := l.link.take(link)
	if refundLink == nil {
		refundClient()
		return nil, wait
	}
	return func() { refundClient(); refundLink() }, 0
}

// linkRoutes registers share links, drop links, and the admin settings
// page that sets the drop webhook.
func (s *Server) linkRoutes(e *echo.Echo, pages *echo.Group) {
	s.shareRoutes(e, pages)
	s.dropRoutes(e, pages)
	s.settingsRoutes(pages)
}
