// Package config holds vaultdrop's settings: one struct, filled from flags
// and VAULTDROP_* environment variables, checked once at startup.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DefaultAddr is where the server listens when --addr is not given. When
// its port is taken the server moves on to the next free port.
const DefaultAddr = "127.0.0.1:8080"

// Config is every setting of one vaultdrop process.
type Config struct {
	DataDir string

	Addr         string
	AddrExplicit bool // --addr or VAULTDROP_ADDR was given, so never move to another port
	BaseURL      string

	SessionLifetime time.Duration

	MaxFileSize    Size
	MaxRequestSize Size
	MinFreeSpace   Size
	Allow          []string
	Deny           []string

	Scanner      string // auto, clamd, clamscan or off
	ClamdAddress string
	ClamscanPath string
	ScanTimeout  time.Duration
	ScanWait     time.Duration

	LogLevel  string
	LogFormat string

	Limits // body timeouts, upload caps, rate limits, quotas, retention

	Resumable ResumableUploads // tus upload expiry and chunk size

	Deployment // TLS, reverse proxy, desktop launch, metrics
}

// Scanner modes.
const (
	ScannerAuto     = "auto"
	ScannerClamd    = "clamd"
	ScannerClamscan = "clamscan"
	ScannerOff      = "off"
)

// ScannerOff reports whether the operator turned scanning off.
func (c Config) ScannerOff() bool { return c.Scanner == ScannerOff }

// Defaults returns the settings used when nothing is given.
func Defaults() Config {
	return Config{
		Addr:            DefaultAddr,
		SessionLifetime: 7 * 24 * time.Hour,
		MaxFileSize:     2 << 30,
		MaxRequestSize:  0, // 0 means: max file size plus room for the multipart framing
		MinFreeSpace:    1 << 30,
		Scanner:         ScannerAuto,
		ClamscanPath:    "clamscan",
		ScanTimeout:     5 * time.Minute,
		ScanWait:        30 * time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
		Limits:          DefaultLimits(),
		Resumable:       DefaultResumableUploads(),
	}
}

// Validate checks every value and fills in the derived ones. Bad values stop
// the program instead of being silently clamped.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}

	check(c.DataDir != "", "--data-dir is empty: give a folder for the database and the vault")
	check(c.MaxFileSize > 0, "--max-file-size must be positive, got %s", c.MaxFileSize)
	check(c.MaxRequestSize >= 0, "--max-request-size must not be negative")
	check(c.MinFreeSpace >= 0, "--min-free-space must not be negative")
	check(c.SessionLifetime >= time.Minute, "--session-lifetime must be at least 1m, got %s", c.SessionLifetime)
	check(c.ScanTimeout > 0, "--scan-timeout must be positive, got %s", c.ScanTimeout)
	check(c.ScanWait > 0, "--scan-wait must be positive, got %s", c.ScanWait)
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.Resumable.validate()...)
	errs = append(errs, c.validateDeployment()...)

	switch c.Scanner {
	case ScannerAuto, ScannerClamd, ScannerClamscan, ScannerOff:
	default:
		errs = append(errs, fmt.Errorf("--scanner must be auto, clamd, clamscan or off, got %q", c.Scanner))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", c.LogLevel))
	}

	if c.MaxRequestSize == 0 {
		// Multipart framing adds a few hundred bytes per part.
		c.MaxRequestSize = c.MaxFileSize + 1<<20
	}
	check(c.MaxRequestSize >= c.MaxFileSize, "--max-request-size (%s) must not be below --max-file-size (%s)", c.MaxRequestSize, c.MaxFileSize)
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")

	return errors.Join(errs...)
}

// DefaultDataDir returns the user's data folder for this operating system:
// $XDG_DATA_HOME/vaultdrop or ~/.local/share/vaultdrop on Linux and other
// Unix systems, %AppData%\vaultdrop on Windows and
// ~/Library/Application Support/vaultdrop on macOS.
func DefaultDataDir(getenv func(string) string) (string, error) {
	switch runtime.GOOS {
	case "windows", "darwin":
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find the user data folder: %w; give --data-dir", err)
		}
		return filepath.Join(dir, "vaultdrop"), nil
	}

	if xdg := getenv("XDG_DATA_HOME"); xdg != "" && filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "vaultdrop"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("neither XDG_DATA_HOME nor HOME is set; give --data-dir")
	}
	return filepath.Join(home, ".local", "share", "vaultdrop"), nil
}

// PrepareDataDir creates the data directory with mode 0700, and tightens an
// existing one that others could read.
func PrepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check data directory %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("data directory %s is not a folder", dir)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict data directory %s to its owner: %w", dir, err)
		}
	}
	return nil
}
