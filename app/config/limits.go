package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Limits are the settings that keep one client, one user or a full disk
// from taking the server down: body timeouts, upload concurrency caps,
// the API rate limit, storage quotas and retention.
type Limits struct {
	// HeaderTimeout is how long a client may take to send a request's
	// headers.
	HeaderTimeout time.Duration
	// BodyIdleTimeout ends a request whose body sends no byte for this long.
	BodyIdleTimeout time.Duration
	// MinUploadRate is the slowest accepted body transfer in bytes per
	// second, measured over MinUploadRateWindow of time spent waiting for
	// the client. 0 turns the check off.
	MinUploadRate       Size
	MinUploadRateWindow time.Duration

	// Uploads in flight at once: per signed-in user, per client address and
	// for the whole server. 0 turns a cap off.
	MaxUploadsPerUser   int
	MaxUploadsPerClient int
	MaxUploads          int

	// APIRate is the sustained number of /api/ requests per second allowed
	// from one client address, with bursts of up to APIBurst. 0 turns the
	// limit off.
	APIRate  float64
	APIBurst int

	// TrustedProxies are the peers whose X-Forwarded-For header is believed.
	// Empty means the peer address is always the client's address.
	TrustedProxies []netip.Prefix

	// UserQuota is the storage each user may fill unless an admin set their
	// own quota. 0 means unlimited.
	UserQuota Size
	// Retention deletes files older than this. 0 keeps files forever.
	Retention time.Duration
}

// DefaultLimits returns the limits used when no flag is given.
func DefaultLimits() Limits {
	return Limits{
		HeaderTimeout:       10 * time.Second,
		BodyIdleTimeout:     30 * time.Second,
		MinUploadRate:       1 << 10,
		MinUploadRateWindow: time.Minute,
		MaxUploadsPerUser:   4,
		MaxUploadsPerClient: 8,
		MaxUploads:          64,
		APIRate:             20,
		APIBurst:            100,
	}
}

// bindLimits registers the flags of Limits.
func (l *Limits) bindLimits(fs *FlagSet) {
	fs.DurationVar(&l.HeaderTimeout, "header-timeout", l.HeaderTimeout,
		"longest a client may take to send a request's headers, as a Go `duration`")
	fs.DurationVar(&l.BodyIdleTimeout, "body-idle-timeout", l.BodyIdleTimeout,
		"end a request whose body sends nothing for this long, as a Go `duration`")
	fs.Var(&l.MinUploadRate, "min-upload-rate",
		"slowest accepted upload, a `size` per second such as 1KiB, measured over --min-upload-window; 0 turns the check off")
	fs.DurationVar(&l.MinUploadRateWindow, "min-upload-window", l.MinUploadRateWindow,
		"time `duration` over which --min-upload-rate is measured")

	fs.IntVar(&l.MaxUploadsPerUser, "max-uploads-per-user", l.MaxUploadsPerUser,
		"uploads one user may run at once (`count`); past it, uploads get 429; 0 means no cap")
	fs.IntVar(&l.MaxUploadsPerClient, "max-uploads-per-client", l.MaxUploadsPerClient,
		"uploads one client address may run at once (`count`); 0 means no cap")
	fs.IntVar(&l.MaxUploads, "max-uploads", l.MaxUploads,
		"uploads the whole server runs at once (`count`); 0 means no cap")

	fs.Float64Var(&l.APIRate, "api-rate", l.APIRate,
		"API `requests` per second allowed from one client address; 0 turns the limit off")
	fs.IntVar(&l.APIBurst, "api-burst", l.APIBurst,
		"API `requests` one client address may send in a burst above --api-rate")
	fs.Var((*prefixList)(&l.TrustedProxies), "trusted-proxies",
		"comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For header is believed, such as 127.0.0.1/32")

	fs.Var(&l.UserQuota, "user-quota",
		"storage `size` each user may fill, such as 10GiB; an admin can set another per user; 0 means unlimited")
	fs.DurationVar(&l.Retention, "retention", l.Retention,
		"delete files older than this Go `duration`, such as 720h; 0 keeps files forever")
}

// validateLimits returns one error per invalid limit.
func (l *Limits) validateLimits() []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}

	check(l.HeaderTimeout > 0, "--header-timeout must be positive, got %s", l.HeaderTimeout)
	check(l.BodyIdleTimeout > 0, "--body-idle-timeout must be positive, got %s", l.BodyIdleTimeout)
	check(l.MinUploadRate >= 0, "--min-upload-rate must not be negative")
	check(l.MinUploadRateWindow >= time.Second, "--min-upload-window must be at least 1s, got %s", l.MinUploadRateWindow)
	check(l.MaxUploadsPerUser >= 0, "--max-uploads-per-user must not be negative, got %d", l.MaxUploadsPerUser)
	check(l.MaxUploadsPerClient >= 0, "--max-uploads-per-client must not be negative, got %d", l.MaxUploadsPerClient)
	check(l.MaxUploads >= 0, "--max-uploads must not be negative, got %d", l.MaxUploads)
	check(l.APIRate >= 0, "--api-rate must not be negative, got %g", l.APIRate)
	check(l.APIRate == 0 || l.APIBurst >= 1, "--api-burst must be at least 1 while --api-rate is on, got %d", l.APIBurst)
	check(l.UserQuota >= 0, "--user-quota must not be negative")
	check(l.Retention == 0 || l.Retention >= time.Hour, "--retention must be 0 (keep forever) or at least 1h, got %s", l.Retention)
	return errs
}

// prefixList is a comma-separated list of CIDRs. A bare address counts as
// a prefix of its full length, and repeating the flag appends.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	if p == nil {
		return ""
	}
	texts := make([]string, len(*p))
	for i, prefix := range *p {
		texts[i] = prefix.String()
	}
	return strings.Join(texts, ",")
}

func (p *prefixList) Set(text string) error {
	var errs []error
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		prefix, err := parsePrefix(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*p = append(*p, prefix)
	}
	return errors.Join(errs...)
}

func parsePrefix(text string) (netip.Prefix, error) {
	if !strings.Contains(text, "/") {
		addr, err := netip.ParseAddr(text)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid proxy address %q: write a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1", text)
		}
		return netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()), nil
	}
	prefix, err := netip.ParsePrefix(text)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid proxy CIDR %q: write a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1", text)
	}
	return prefix.Masked(), nil
}

// ParseQuota reads a user's quota setting as an admin writes it: a size
// such as 10GiB, "unlimited" (or 0) for no quota, or "default" (or "") for
// the server's --user-quota, which it returns as nil.
func ParseQuota(text string) (*int64, error) {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "", "default":
		return nil, nil
	case "unlimited", "none":
		var zero int64
		return &zero, nil
	}
	size, err := ParseSize(text)
	if err != nil {
		return nil, fmt.Errorf("%w; or write unlimited, or default for the server's --user-quota", err)
	}
	bytes := int64(size)
	return &bytes, nil
}

// DescribeQuota returns a quota setting in words, where nil is the
// server's default.
func DescribeQuota(quota *int64) string {
	switch {
	case quota == nil:
		return "the server's default"
	case *quota == 0:
		return "unlimited"
	}
	return FormatBytes(*quota)
}
