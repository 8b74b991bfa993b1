package app

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is a token bucket per key (a client address, an account).
// Buckets that have refilled carry no state and are dropped, so a flood of
// distinct keys costs memory only while those keys are being throttled.
type keyedLimiter struct {
	mu      sync.Mutex
	every   time.Duration
	burst   int
	now     func() time.Time
	buckets map[string]*rate.Limiter
	lastGC  time.Time
}

func newKeyedLimiter(every time.Duration, burst int, now func() time.Time) *keyedLimiter {
	return &keyedLimiter{every: every, burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// allow takes one token for key. When none is left it returns false and how
// long until one is.
func (l *keyedLimiter) allow(key string) (bool, time.Duration) {
	refund, wait := l.take(key)
	return refund != nil, wait
}

// take takes one token for key and returns a function that gives it back,
// or nil and the wait when none is left.
func (l *keyedLimiter) take(key string) (refund func(), wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	now := l.now()
	l.collect(now)
	lim, ok := l.buckets[key]
	if !ok {
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.buckets[key] = lim
	}

	r := lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return nil, delay
	}
	return func() { r.CancelAt(l.now()) }, 0
}

// collect drops full buckets, at most once a minute.
func (l *keyedLimiter) collect(now time.Time) {
	if now.Sub(l.lastGC) < time.Minute && len(l.buckets) < 10000 {
		return
	}
	l.lastGC = now
	for key, lim := range l.buckets {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, key)
		}
	}
}

// loginLimits throttles sign-in attempts per account and per client address.
// An account allows 5 quick attempts, then one every 20 seconds. An address,
// which a whole office may share, allows 20 and then one every 3 seconds.
type loginLimits struct {
	account *keyedLimiter
	client  *keyedLimiter
}

func newLoginLimits(now func() time.Time) *loginLimits {
	return &loginLimits{
		account: newKeyedLimiter(20*time.Second, 5, now),
		client:  newKeyedLimiter(3*time.Second, 20, now),
	}
}

// allow takes a token from both buckets and returns the longer wait when
// either is empty.
func (l *loginLimits) allow(account, client string) (bool, time.Duration) {
	okClient, waitClient := l.client.allow(client)
	if !okClient {
		return false, waitClient
	}
	okAccount, waitAccount := l.account.allow(account)
	return okAccount, waitAccount
}
