package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// Thresholds of the doctor's checks.
const (
	// staleSignatures is the signature age past which the doctor warns,
	// as the admin page does; freshclam updates them several times a day.
	staleSignatures = 7 * 24 * time.Hour
	// certExpiryWarning is how long before its expiry a certificate is
	// reported, leaving time to renew it.
	certExpiryWarning = 30 * 24 * time.Hour
	// probeTimeout bounds the measurement of the scanner's size limit.
	probeTimeout = 5 * time.Minute
)

// runDoctor runs "vaultdrop doctor". It checks what a server started with
// the same flags and VAULTDROP_* variables needs: the configuration, the
// data directory, the database, free space, the scanner, TLS files and the
// clock. It prints one line per check and fails when any check fails. It
// only reads, so it can run next to a server on the same data directory.
func runDoctor(ctx context.Context, args []string, e env) error {
	cfg := config.Defaults()
	fs, dataDir := newCommandFlags("doctor", "vaultdrop doctor [serve flags]", e)
	cfg.BindServe(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	cfg.DataDir = *dataDir
	cfg.AddrExplicit = fs.Given("addr")

	d := &doctor{w: e.stdout, now: time.Now()}
	d.checkConfig(cfg)
	if d.checkDataDir(cfg.DataDir) {
		d.checkDatabase(ctx, cfg.DataDir)
		d.checkFreeSpace(cfg)
	}
	signatureDate := d.checkScanner(ctx, cfg)
	d.checkTLS(cfg)
	d.checkClock(signatureDate)

	if d.failed > 0 {
		return fmt.Errorf("%d of %d checks failed; see the lines marked FAIL above for the fix", d.failed, d.checks)
	}
	fmt.Fprintf(e.stdout, "all %d checks passed", d.checks)
	if d.warned > 0 {
		fmt.Fprintf(e.stdout, ", %d with a warning", d.warned)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// doctor prints check results and counts them.
type doctor struct {
	w   io.Writer
	now time.Time

	checks, warned, failed int
}

func (d *doctor) ok(check, format string, args ...any) {
	d.checks++
	fmt.Fprintf(d.w, "ok    %-15s %s\n", check, fmt.Sprintf(format, args...))
}

func (d *doctor) warn(check, detail, fix string) {
	d.checks++
	d.warned++
	fmt.Fprintf(d.w, "warn  %-15s %s\n", check, detail)
	if fix != "" {
		fmt.Fprintf(d.w, "      %-15s fix: %s\n", "", fix)
	}
}

func (d *doctor) fail(check, detail, fix string) {
	d.checks++
	d.failed++
	fmt.Fprintf(d.w, "FAIL  %-15s %s\n", check, detail)
	fmt.Fprintf(d.w, "      %-15s fix: %s\n", "", fix)
}

// checkConfig reports every setting that would stop the server.
func (d *doctor) checkConfig(cfg config.Config) {
	err := cfg.Validate()
	if err == nil {
		d.ok("configuration", "valid")
		return
	}
	var joined interface{ Unwrap() []error }
	problems := []error{err}
	if errors.As(err, &joined) {
		problems = joined.Unwrap()
	}
	for _, p := range problems {
		d.fail("configuration", p.Error(), "change the flag or VAULTDROP_* variable named above")
	}
}

// checkDataDir checks that the data directory exists and only its owner
// can enter it. It reports whether the directory exists.
func (d *doctor) checkDataDir(dir string) bool {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.fail("data directory", dir+" does not exist",
			"start the server once to create it, or give the --data-dir the server uses")
		return false
	case err != nil:
		d.fail("data directory", err.Error(), "run the doctor as the user the server runs as")
		return false
	case !info.IsDir():
		d.fail("data directory", dir+" is not a folder", "give --data-dir a folder")
		return false
	}

	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		d.fail("data directory", fmt.Sprintf("%s has mode %04o, so other users can read it", dir, perm),
			fmt.Sprintf("chmod 700 %s (the server also tightens it at start)", dir))
		return true
	}
	d.ok("data directory", "%s, mode 0700", dir)
	return true
}

// checkDatabase checks the database file's mode and runs SQLite's
// quick_check through a read-only connection.
func (d *doctor) checkDatabase(ctx context.Context, dir string) {
	path := filepath.Join(dir, store.DatabaseFile)
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		d.fail("database", path+" does not exist", "start the server once to create it, or give the --data-dir the server uses")
		return
	}
	if err != nil {
		d.fail("database", err.Error(), "run the doctor as the user the server runs as")
		return
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		d.fail("database", fmt.Sprintf("%s has mode %04o, so other users can read it", path, perm), "chmod 600 "+path)
		return
	}

	problems, err := store.QuickCheck(ctx, dir)
	if err != nil {
		d.fail("database", err.Error(), "check that the file is a vaultdrop database and readable by this user")
		return
	}
	if len(problems) > 0 {
		d.fail("database", fmt.Sprintf("quick_check found %d problems, the first: %s", len(problems), problems[0]),
			"stop the server and restore the latest backup (vaultdrop restore)")
		return
	}
	d.ok("database", "%s, mode 0600, quick_check ok", path)
}

// checkFreeSpace compares the free space of the data directory's disk with
// --min-free-space, the reserve below which uploads are rejected.
func (d *doctor) checkFreeSpace(cfg config.Config) {
	free, err := diskFree(cfg.DataDir)
	if err != nil {
		d.fail("free space", err.Error(), "check that the data directory's disk is mounted")
		return
	}

	freeText := config.FormatBytes(int64(free))
	reserve := int64(cfg.MinFreeSpace)
	switch {
	case int64(free) <= reserve:
		d.fail("free space", fmt.Sprintf("%s free, at or below the --min-free-space reserve of %s, so every upload is rejected", freeText, cfg.MinFreeSpace),
			"free disk space, or lower --min-free-space")
	case int64(free)-reserve < int64(cfg.MaxFileSize):
		d.warn("free space", fmt.Sprintf("%s free above the %s reserve, less than one file of --max-file-size (%s)", config.FormatBytes(int64(free)-reserve), cfg.MinFreeSpace, cfg.MaxFileSize),
			"free disk space, or lower --max-file-size")
	default:
		d.ok("free space", "%s free, reserve %s", freeText, cfg.MinFreeSpace)
	}
}

// checkScanner checks that the scanner responds, how old its signatures
// are, and the file size it was measured to scan. It returns the
// signature date, zero when unknown.
func (d *doctor) checkScanner(ctx context.Context, cfg config.Config) time.Time {
	if cfg.ScannerOff() {
		d.warn("scanner", "off (--scanner off): uploads are stored and served unscanned",
			"install ClamAV (Debian and Ubuntu: apt install clamav-daemon) and drop --scanner off")
		return time.Time{}
	}

	quiet := slog.New(slog.DiscardHandler)
	sc, err := scanner.New(ctx, cfg.Scanner, detectConfig(cfg), quiet)
	if err != nil {
		d.fail("scanner", "none found: "+err.Error(), scannerFix(cfg))
		return time.Time{}
	}

	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sc.Ping(pingCtx); err != nil {
		d.fail("scanner", fmt.Sprintf("%s did not answer: %v", scannerName(sc), err), scannerFix(cfg))
		return time.Time{}
	}
	v, err := sc.Version(pingCtx)
	if err != nil {
		d.fail("scanner", fmt.Sprintf("%s did not report its version: %v", scannerName(sc), err), scannerFix(cfg))
		return time.Time{}
	}
	d.ok("scanner", "%s answers, engine %s", scannerName(sc), v)

	d.checkSignatures(v)
	d.checkScannableSize(ctx, sc, cfg)
	return v.SignatureDate
}

func (d *doctor) checkSignatures(v scanner.Version) {
	if v.SignatureDate.IsZero() {
		d.warn("signatures", "the scanner reports no signature version or date (a local database?)",
			"install the official signatures with freshclam (Debian package clamav-freshclam)")
		return
	}
	age := d.now.Sub(v.SignatureDate)
	if age > staleSignatures {
		d.warn("signatures", fmt.Sprintf("version %d from %s is %d days old", v.Signatures, v.SignatureDate.Format(time.DateOnly), int(age.Hours()/24)),
			"check that freshclam runs (systemctl status clamav-freshclam) and can reach its mirrors")
		return
	}
	d.ok("signatures", "version %d from %s", v.Signatures, v.SignatureDate.Format(time.DateOnly))
}

// checkScannableSize measures, as the server does at start, the largest
// file in which the scanner still finds the EICAR test file.
func (d *doctor) checkScannableSize(ctx context.Context, sc scanner.Scanner, cfg config.Config) {
	probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()

	limit, err := scanner.ProbeLimit(probeCtx, sc, int64(cfg.MaxFileSize))
	if err != nil {
		d.fail("scannable size", "measuring failed: "+err.Error(), scannerFix(cfg))
		return
	}
	if limit < int64(cfg.MaxFileSize) {
		d.warn("scannable size", fmt.Sprintf("the scanner checks files up to %s, below --max-file-size %s; larger uploads are rejected as unscannable",
			config.FormatBytes(limit), cfg.MaxFileSize),
			"raise StreamMaxLength, MaxFileSize and MaxScanSize in clamd.conf (see docs/clamav.md), or lower --max-file-size")
		return
	}
	d.ok("scannable size", "files up to --max-file-size %s are scanned", cfg.MaxFileSize)
}

func scannerName(sc scanner.Scanner) string {
	if c, ok := sc.(*scanner.Clamd); ok {
		return "clamd at " + c.Address()
	}
	return sc.Name()
}

func scannerFix(cfg config.Config) string {
	if cfg.Scanner == config.ScannerClamscan {
		return "check that clamscan runs and finds its signatures (freshclam, Debian package clamav-freshclam), or use clamd with --scanner clamd"
	}
	fix := "start clamd (sudo systemctl start clamav-daemon; Debian and Ubuntu install it with apt install clamav-daemon)"
	if cfg.ClamdAddress != "" {
		fix += ", or correct --clamd-address " + cfg.ClamdAddress
	}
	return fix
}

// checkTLS checks the certificate the server would serve: the operator's
// --tls-cert, or the self-signed one in the data directory.
func (d *doctor) checkTLS(cfg config.Config) {
	switch {
	case cfg.TLSCert != "":
		d.checkCertificate(cfg.TLSCert, cfg.TLSKey, "renew the certificate and replace --tls-cert and --tls-key; the server reloads them within a minute")
	case fileExists(app.SelfSignedCertPath(cfg.DataDir)):
		d.checkCertificate(app.SelfSignedCertPath(cfg.DataDir), app.SelfSignedKeyPath(cfg.DataDir),
			"restart the server with --tls-self-signed; it replaces a certificate that expires within 30 days")
	case cfg.TLSSelfSigned:
		d.ok("tls", "no self-signed certificate yet; the server creates %s at its next start", app.SelfSignedCertPath(cfg.DataDir))
	case cfg.BehindProxy:
		d.ok("tls", "terminated by the reverse proxy in front (--behind-proxy)")
	default:
		d.ok("tls", "not used: plain HTTP on loopback")
	}
}

func (d *doctor) checkCertificate(certPath, keyPath, fix string) {
	cert, err := app.LoadCertificate(certPath, keyPath)
	if err != nil {
		d.fail("tls", err.Error(), "give a PEM certificate and the private key that belongs to it")
		return
	}

	leaf := cert.Leaf
	names := strings.Join(append(leaf.DNSNames, ipStrings(leaf)...), ", ")
	expires := leaf.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case d.now.After(leaf.NotAfter):
		d.fail("tls", fmt.Sprintf("%s expired on %s", certPath, expires), fix)
	case d.now.Before(leaf.NotBefore):
		d.fail("tls", fmt.Sprintf("%s is not valid before %s", certPath, leaf.NotBefore.UTC().Format(time.DateTime)),
			"check the system clock, or wait until the certificate is valid")
	case leaf.NotAfter.Sub(d.now) < certExpiryWarning:
		d.warn("tls", fmt.Sprintf("%s expires on %s", certPath, expires), fix)
	default:
		d.ok("tls", "%s for %s, valid until %s, SHA-256 %s", certPath, names, expires, app.CertFingerprint(leaf.Raw))
	}
}

func ipStrings(leaf *x509.Certificate) []string {
	out := make([]string, len(leaf.IPAddresses))
	for i, ip := range leaf.IPAddresses {
		out[i] = ip.String()
	}
	return out
}

// checkClock catches a clock far off: before this code was written, far in
// the future, or behind the scanner's signature date.
func (d *doctor) checkClock(signatureDate time.Time) {
	year := d.now.Year()
	if year < 2025 || year > 2100 {
		d.fail("clock", fmt.Sprintf("the system clock says %s", d.now.UTC().Format(time.DateTime)),
			"set the clock, for example with NTP (timedatectl set-ntp true)")
		return
	}
	if !signatureDate.IsZero() && signatureDate.After(d.now.Add(24*time.Hour)) {
		d.fail("clock", fmt.Sprintf("the system clock (%s) is behind the scanner's signature date (%s)",
			d.now.UTC().Format(time.DateTime), signatureDate.UTC().Format(time.DateTime)),
			"set the clock, for example with NTP (timedatectl set-ntp true)")
		return
	}
	d.ok("clock", "%s", d.now.UTC().Format(time.DateTime+" MST"))
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
