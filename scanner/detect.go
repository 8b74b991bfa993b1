package scanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// ErrNotFound means Detect found neither a clamd that responds to PING nor
// a working clamscan.
var ErrNotFound = errors.New("no ClamAV scanner found")

// DefaultPingTimeout bounds each PING and VERSION that Detect sends.
const DefaultPingTimeout = 2 * time.Second

// Scanner modes for New.
const (
	ModeAuto     = "auto"
	ModeClamd    = "clamd"
	ModeClamscan = "clamscan"
)

// DefaultClamdAddresses returns the clamd sockets that distributions and
// Homebrew configure, followed by clamd's usual TCP port on loopback.
func DefaultClamdAddresses() []string {
	return []string{
		"/run/clamav/clamd.ctl",                   // Debian, Ubuntu
		"/var/run/clamav/clamd.ctl",               // older Debian and Ubuntu
		"/run/clamd.scan/clamd.sock",              // Fedora, RHEL
		"/opt/homebrew/var/run/clamav/clamd.sock", // Homebrew on Apple silicon
		"/usr/local/var/run/clamav/clamd.sock",    // Homebrew on Intel
		"127.0.0.1:3310",
	}
}

// DetectConfig configures Detect and New.
type DetectConfig struct {
	// ClamdAddress is the clamd to try first, in a form ParseAddress
	// accepts. It is required in ModeClamd.
	ClamdAddress string

	// ClamdCandidates are the addresses tried after ClamdAddress. Nil means
	// DefaultClamdAddresses; an empty non-nil slice tries none.
	ClamdCandidates []string

	// PingTimeout bounds the PING and VERSION to each candidate. Zero
	// means DefaultPingTimeout.
	PingTimeout time.Duration

	// ConnectTimeout, IOTimeout, ScanTimeout and ChunkSize configure the
	// clamd client chosen, as in ClamdConfig.
	ConnectTimeout time.Duration
	IOTimeout      time.Duration
	ScanTimeout    time.Duration
	ChunkSize      int

	// ClamscanPath, DatabaseDir, ClamscanTimeout, TempDir and ClamscanArgs
	// configure the clamscan fallback, as in ClamscanConfig.
	ClamscanPath    string
	DatabaseDir     string
	ClamscanTimeout time.Duration
	TempDir         string
	ClamscanArgs    []string
}

func (c DetectConfig) clamd(addr string) ClamdConfig {
	return ClamdConfig{
		Address:        addr,
		ConnectTimeout: c.ConnectTimeout,
		IOTimeout:      c.IOTimeout,
		ScanTimeout:    c.ScanTimeout,
		ChunkSize:      c.ChunkSize,
	}
}

func (c DetectConfig) clamscan() ClamscanConfig {
	return ClamscanConfig{
		Path:        c.ClamscanPath,
		DatabaseDir: c.DatabaseDir,
		Timeout:     c.ClamscanTimeout,
		TempDir:     c.TempDir,
		Args:        c.ClamscanArgs,
	}
}

func (c DetectConfig) pingTimeout() time.Duration {
	if c.PingTimeout == 0 {
		return DefaultPingTimeout
	}
	return c.PingTimeout
}

// candidates returns ClamdAddress followed by the other candidates, each
// once.
func (c DetectConfig) candidates() []string {
	others := c.ClamdCandidates
	if others == nil {
		others = DefaultClamdAddresses()
	}

	var addrs []string
	if c.ClamdAddress != "" {
		addrs = append(addrs, c.ClamdAddress)
	}
	for _, addr := range others {
		if !slices.Contains(addrs, addr) {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}

// Detect returns the first scanner that works: ClamdAddress if set, then
// the candidate clamd addresses, each of which must respond to PING
// and VERSION within PingTimeout, and then clamscan. It logs the choice with
// the engine and signature versions. When nothing works it returns an error
// wrapping ErrNotFound that lists what it tried.
//
// An invalid ClamdAddress or timeout is an error. A valid ClamdAddress
// that does not respond is logged as a warning and skipped, so the server
// still starts on another scanner.
func Detect(ctx context.Context, cfg DetectConfig, log *slog.Logger) (Scanner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ClamdAddress != "" {
		if err := cfg.clamd(cfg.ClamdAddress).Validate(); err != nil {
			return nil, err
		}
	}

	var tried []string
	for _, addr := range cfg.candidates() {
		c := NewClamd(cfg.clamd(addr))
		if err := tryScanner(ctx, c, cfg.pingTimeout(), log, "address", addr); err != nil {
			logSkipped(log, addr == cfg.ClamdAddress, err, "scanner", c.Name(), "address", addr)
			tried = append(tried, "clamd at "+addr)
			continue
		}
		return c, nil
	}

	ccfg := cfg.clamscan()
	ccfg.Log = log
	cs := NewClamscan(ccfg)
	err := tryScanner(ctx, cs, cfg.pingTimeout(), log, "path", cs.cfg.Path)
	if err == nil {
		return cs, nil
	}
	logSkipped(log, false, err, "scanner", cs.Name(), "path", cs.cfg.Path)
	tried = append(tried, "clamscan at "+cs.cfg.Path)

	return nil, fmt.Errorf("%w: tried %s; install ClamAV (Debian: clamav-daemon or clamav) or set the clamd address",
		ErrNotFound, strings.Join(tried, ", "))
}

// tryScanner pings s and reads its version. On success it logs the choice,
// with where as the key and value naming the socket or program.
func tryScanner(ctx context.Context, s Scanner, timeout time.Duration, log *slog.Logger, where ...any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if err := s.Ping(ctx); err != nil {
		return err
	}
	v, err := s.Version(ctx)
	if err != nil {
		return err
	}

	logSelected(log, s, v, where...)
	return nil
}

// logSkipped logs a scanner that did not work: a warning when the operator
// configured it, debug detail for the default candidates.
func logSkipped(log *slog.Logger, configured bool, err error, attrs ...any) {
	attrs = append(attrs, "error", err)
	if configured {
		log.Warn("configured scanner not reachable, trying others", attrs...)
		return
	}
	log.Debug("scanner not available", attrs...)
}

func logSelected(log *slog.Logger, s Scanner, v Version, where ...any) {
	attrs := append([]any{"scanner", s.Name()}, where...)
	attrs = append(attrs, "engine", v.Engine, "signatures", v.Signatures)
	if !v.SignatureDate.IsZero() {
		attrs = append(attrs, "signature_date", v.SignatureDate.Format(time.DateOnly))
	}
	log.Info("scanner selected", attrs...)
}

// New returns the scanner for mode: ModeAuto (or "") runs Detect, ModeClamd
// uses cfg.ClamdAddress and ModeClamscan uses cfg.ClamscanPath. An explicit
// mode rejects an invalid configuration but does not require the scanner to
// be up: it logs the version if the scanner responds within PingTimeout
// and a warning if not, and scans fail with ErrUnavailable until it is up.
func New(ctx context.Context, mode string, cfg DetectConfig, log *slog.Logger) (Scanner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	switch mode {
	case ModeAuto, "":
		return Detect(ctx, cfg, log)
	case ModeClamd:
		return newClamd(ctx, cfg, log)
	case ModeClamscan:
		ccfg := cfg.clamscan()
		ccfg.Log = log
		s := NewClamscan(ccfg)
		checkExplicit(ctx, s, cfg.pingTimeout(), log, "path", s.cfg.Path)
		return s, nil
	default:
		return nil, fmt.Errorf("invalid scanner mode %q: want %s, %s or %s", mode, ModeAuto, ModeClamd, ModeClamscan)
	}
}

func newClamd(ctx context.Context, cfg DetectConfig, log *slog.Logger) (Scanner, error) {
	if cfg.ClamdAddress == "" {
		return nil, fmt.Errorf("scanner mode %s needs a clamd address", ModeClamd)
	}

	ccfg := cfg.clamd(cfg.ClamdAddress)
	if err := ccfg.Validate(); err != nil {
		return nil, err
	}

	c := NewClamd(ccfg)
	checkExplicit(ctx, c, cfg.pingTimeout(), log, "address", cfg.ClamdAddress)
	return c, nil
}

func checkExplicit(ctx context.Context, s Scanner, timeout time.Duration, log *slog.Logger, where ...any) {
	if err := tryScanner(ctx, s, timeout, log, where...); err != nil {
		attrs := append([]any{"scanner", s.Name()}, where...)
		attrs = append(attrs, "error", err)
		log.Warn("scanner not reachable, scans fail until it responds", attrs...)
	}
}
