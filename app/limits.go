package app

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// uploadRetryAfter is the Retry-After of an upload refused by a
// concurrency cap. Uploads take seconds to minutes, so the hint is only a
// pause before the next try, not a promise that a slot is free by then.
const uploadRetryAfter = 5 * time.Second

// uploadGate counts uploads in flight per user, per client address and in
// total, and rejects one more past any cap.
type uploadGate struct {
	perUser   int
	perClient int
	total     int

	mu       sync.Mutex
	byUser   map[string]int
	byClient map[string]int
	running  int
}

func newUploadGate(limits config.Limits) *uploadGate {
	return &uploadGate{
		perUser:   limits.MaxUploadsPerUser,
		perClient: limits.MaxUploadsPerClient,
		total:     limits.MaxUploads,
		byUser:    map[string]int{},
		byClient:  map[string]int{},
	}
}

// acquire takes a slot for an upload by userID ("" for an anonymous drop
// upload) from client. On success it returns the function that gives the
// slot back; otherwise the 429 rejection that names the cap.
func (g *uploadGate) acquire(userID, client string) (release func(), err *Error) {
	g.mu.Lock()
	defer g.mu.Unlock()

	switch {
	case g.total > 0 && g.running >= g.total:
		return nil, tooManyUploads(fmt.Sprintf("The server is already receiving %d uploads, its maximum.", g.total))
	case g.perClient > 0 && g.byClient[client] >= g.perClient:
		return nil, tooManyUploads(fmt.Sprintf("Your address already has %d uploads in progress, the maximum.", g.perClient))
	case userID != "" && g.perUser > 0 && g.byUser[userID] >= g.perUser:
		return nil, tooManyUploads(fmt.Sprintf("You already have %d uploads in progress, the maximum.", g.perUser))
	}

	g.running++
	g.byClient[client]++
	if userID != "" {
		g.byUser[userID]++
	}

	var once sync.Once
	return func() { once.Do(func() { g.release(userID, client) }) }, nil
}

func (g *uploadGate) release(userID, client string) {
	g.mu.Lock()
	defer g.mu.Unlock()

	g.running--
	decrement(g.byClient, client)
	if userID != "" {
		decrement(g.byUser, userID)
	}
}

// decrement lowers a count and drops the key at zero, so the maps hold
// only keys with uploads in flight.
func decrement(counts map[string]int, key string) {
	if counts[key] <= 1 {
		delete(counts, key)
		return
	}
	counts[key]--
}

func tooManyUploads(reason string) *Error {
	return &Error{
		Status:  http.StatusTooManyRequests,
		Code:    "too_many_requests",
		Message: reason + " Wait for an upload to finish, then try again.",
		// Sent as the Retry-After header.
		RetryAfter: uploadRetryAfter,
	}
}

// LimitUploads is the middleware for every route that receives file bytes
// (the file API, the browser form, drop links and resumable uploads). It
// holds one upload slot while the handler runs and responds with 429
// too_many_requests and Retry-After past --max-uploads-per-user,
// --max-uploads-per-client or --max-uploads. Attach it after
// authentication, so the signed-in user is known; an anonymous upload
// counts against its client address and the server's total only. It also
// marks an admitted request, so that restoreBody delivers a refusal to a
// client that is still sending.
func (s *Server) LimitUploads(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		userID := ""
		if u, ok := currentUser(c); ok {
			userID = u.ID
		}

		release, rejection := s.uploadGate.acquire(userID, clientAddr(c))
		if rejection != nil {
			// Logged once a minute per client, so a flood cannot flood the log.
			if ok, heldBefore := s.auditRepeats.pass("upload_cap\x00" + clientAddr(c)); ok {
				s.log.Warn("upload rejected by a concurrency cap", "user_id", userID, "client_addr", clientAddr(c),
					"route", c.Path(), "reason", rejection.Message, "earlier_rejections_not_logged", heldBefore)
			}
			return rejection
		}
		defer release()

		c.Set(lingerKey, true)
		return next(c)
	}
}

// apiRateLimit returns the middleware that throttles /api/ requests per
// client address with a token bucket of --api-rate requests per second and
// --api-burst. It runs before authentication, so a flood costs no database
// lookup. Echo builds the middleware chain on every request, so the
// buckets are made here, once.
func (s *Server) apiRateLimit() echo.MiddlewareFunc {
	if s.cfg.APIRate <= 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	every := time.Duration(float64(time.Second) / s.cfg.APIRate)
	limiter := newKeyedLimiter(every, s.cfg.APIBurst, s.now)

	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !strings.HasPrefix(c.Request().URL.Path, "/api/") {
				return next(c)
			}
			if ok, wait := limiter.allow(clientAddr(c)); !ok {
				return &Error{
					Status:     http.StatusTooManyRequests,
					Code:       "too_many_requests",
					Message:    fmt.Sprintf("Too many API requests from your address: the limit is %g per second. Wait for the time in Retry-After, then try again.", s.cfg.APIRate),
					RetryAfter: wait,
				}
			}
			return next(c)
		}
	}
}

// ipExtractor decides the client address that audit events and every rate
// limit use. Without --trusted-proxies it is the peer address. With it,
// X-Forwarded-For is believed only when the peer is one of those proxies,
// and the address taken is the nearest one that is not a trusted proxy.
// Loopback and private ranges are not trusted unless listed.
func ipExtractor(limits config.Limits) echo.IPExtractor {
	if len(limits.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}

	options := []echo.TrustOption{
		echo.TrustLoopback(false),
		echo.TrustLinkLocal(false),
		echo.TrustPrivateNet(false),
	}
	for _, prefix := range limits.TrustedProxies {
		_, ipNet, err := net.ParseCIDR(prefix.String())
		if err != nil {
			continue // config.parsePrefix produced it, so it parses
		}
		options = append(options, echo.TrustIPRange(ipNet))
	}
	return echo.ExtractIPFromXFFHeader(options...)
}

// errDiskFull is the response to a write that failed on a full disk
// outside the intake's own checks, such as a database write.
var errDiskFull = apiError(http.StatusInsufficientStorage, "insufficient_storage",
	"The server's disk is full, so nothing was saved. Try again later, and tell the operator.")
