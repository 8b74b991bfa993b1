package app

import (
	"fmt"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/store"
)

// repeatAuditInterval is how often a repeated rejection is written to the
// audit log per action, client address and target.
const repeatAuditInterval = time.Minute

// auditThrottle lets one event per key through per interval and counts
// the ones it holds back.
type auditThrottle struct {
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]*heldBack
	lastGC  time.Time
}

// heldBack is one key's current interval.
type heldBack struct {
	since time.Time
	count int // events held back since since
}

func newAuditThrottle(every time.Duration, now func() time.Time) *auditThrottle {
	return &auditThrottle{every: every, now: now, entries: map[string]*heldBack{}}
}

// pass reports whether the event for key may be recorded now and, when it
// may, how many were held back in the interval before.
func (t *auditThrottle) pass(key string) (ok bool, heldBefore int) {
	t.mu.Lock()
	defer t.mu.Unlock()

	now := t.now()
	t.collect(now)
	e, found := t.entries[key]
	if found && now.Sub(e.since) < t.every {
		e.count++
		return false, 0
	}
	if found {
		heldBefore = e.count
	}
	t.entries[key] = &heldBack{since: now}
	return true, heldBefore
}

// collect drops keys whose interval ended an interval ago, at most once
// per interval or when 10,000 keys pile up. The count of a key dropped
// this way, one that went quiet, is never reported.
func (t *auditThrottle) collect(now time.Time) {
	if now.Sub(t.lastGC) < t.every && len(t.entries) < 10000 {
		return
	}
	t.lastGC = now
	for key, e := range t.entries {
		if now.Sub(e.since) >= 2*t.every {
			delete(t.entries, key)
		}
	}
}

// auditRepeated records a rejection that a client can repeat at no cost,
// such as a rate-limited sign-in, at most once a minute per action, client
// address and target, with the number held back. Each audit event is a
// database write with an fsync, so a flood recorded in full would queue
// thousands of writes ahead of other users' uploads.
func (s *Server) auditRepeated(c echo.Context, actor, action, target, detail string) {
	// A target can hold client text (a username), so only its start keys
	// the throttle.
	key := action + "\x00" + clientAddr(c) + "\x00" + target[:min(len(target), 128)]
	ok, heldBefore := s.auditRepeats.pass(key)
	if !ok {
		return
	}
	if heldBefore > 0 {
		detail = fmt.Sprintf("%s (and %d more in the minute before, not recorded one by one)", detail, heldBefore)
	}
	s.audit(c, actor, action, target, store.OutcomeFailure, detail)
}
