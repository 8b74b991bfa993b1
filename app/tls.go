package app

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
)

// certCheckInterval is how often a served --tls-cert file is checked for a
// replacement, so a renewed certificate is picked up without a restart.
const certCheckInterval = time.Minute

// NewTLSConfig returns the TLS settings for serving HTTPS, or nil when the
// configuration serves plain HTTP. It loads --tls-cert and --tls-key, or
// loads (creating when needed) the self-signed certificate in the data
// directory, and logs the certificate's SHA-256 fingerprint. Protocol
// versions and cipher suites are Go's defaults, which start at TLS 1.2.
func NewTLSConfig(cfg config.Config, log *slog.Logger, now time.Time) (*tls.Config, error) {
	switch {
	case cfg.TLSCert != "":
		return operatorTLS(cfg.TLSCert, cfg.TLSKey, log)
	case cfg.TLSSelfSigned:
		return selfSignedTLS(cfg, log, now)
	}
	return nil, nil
}

// operatorTLS serves the operator's certificate and reloads it when its
// files change, as they do when a certificate is renewed.
func operatorTLS(certPath, keyPath string, log *slog.Logger) (*tls.Config, error) {
	r := &certReloader{certPath: certPath, keyPath: keyPath, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}

	leaf := r.cert.Leaf
	log.Info("serving HTTPS", "tls_cert", certPath, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC(), "sha256_fingerprint", CertFingerprint(leaf.Raw))
	return newTLSConfig(r.getCertificate), nil
}

// selfSignedTLS serves the self-signed certificate of the data directory.
func selfSignedTLS(cfg config.Config, log *slog.Logger, now time.Time) (*tls.Config, error) {
	hosts := cfg.TLSHosts
	if len(hosts) == 0 {
		hosts = DefaultTLSHosts(cfg.Addr)
	}

	cert, created, err := LoadOrCreateSelfSigned(cfg.DataDir, hosts, now)
	if err != nil {
		return nil, err
	}

	log.Info("serving HTTPS with a self-signed certificate; browsers warn about it until it is trusted",
		"created", created, "tls_cert", SelfSignedCertPath(cfg.DataDir), "hosts", strings.Join(hosts, ","),
		"not_after", cert.Leaf.NotAfter.UTC(), "sha256_fingerprint", CertFingerprint(cert.Leaf.Raw))
	return newTLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }), nil
}

func newTLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		GetCertificate: getCertificate,
		// HTTP/2 needs its ALPN name here because the listener, not
		// http.Server, performs the TLS handshake.
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// CertFingerprint returns the SHA-256 fingerprint of a DER certificate as
// browsers and "openssl x509 -fingerprint -sha256" show it: upper-case hex
// bytes separated by colons.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// LoadCertificate reads a PEM certificate chain and its key and parses the
// leaf, so callers can check its names and validity.
func LoadCertificate(certPath, keyPath string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load TLS certificate %s with key %s: %w", certPath, keyPath, err)
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("parse TLS certificate %s: %w", certPath, err)
		}
		cert.Leaf = leaf
	}
	return cert, nil
}

// certReloader serves a certificate from files and loads them again when
// their modification times change. A failed reload keeps the certificate
// already served and logs the error.
type certReloader struct {
	certPath, keyPath string
	log               *slog.Logger

	mu        sync.Mutex
	cert      tls.Certificate
	modTimes  [2]time.Time
	checkedAt time.Time
}

func (r *certReloader) load() error {
	times, err := r.fileTimes()
	if err != nil {
		return err
	}
	cert, err := LoadCertificate(r.certPath, r.keyPath)
	if err != nil {
		return err
	}
	r.cert, r.modTimes, r.checkedAt = cert, times, time.Now()
	return nil
}

func (r *certReloader) fileTimes() ([2]time.Time, error) {
	var times [2]time.Time
	for i, path := range []string{r.certPath, r.keyPath} {
		info, err := os.Stat(path)
		if err != nil {
			return times, fmt.Errorf("check TLS file %s: %w", path, err)
		}
		times[i] = info.ModTime()
	}
	return times, nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if time.Since(r.checkedAt) >= certCheckInterval {
		r.checkedAt = time.Now()
		r.reloadIfChanged()
	}
	cert := r.cert
	return &cert, nil
}

func (r *certReloader) reloadIfChanged() {
	times, err := r.fileTimes()
	if err != nil {
		r.log.Error("check the TLS certificate for renewal; serving the loaded one", "err", err)
		return
	}
	if times == r.modTimes {
		return
	}
	if err := r.load(); err != nil {
		r.log.Error("reload the renewed TLS certificate; serving the loaded one", "err", err)
		return
	}
	r.log.Info("reloaded the TLS certificate", "tls_cert", r.certPath,
		"not_after", r.cert.Leaf.NotAfter.UTC(), "sha256_fingerprint", CertFingerprint(r.cert.Leaf.Raw))
}

// DefaultTLSHosts returns the names a self-signed certificate covers when
// --tls-hosts is not given: the --addr host first (the machine's host name
// when --addr listens on every interface), then localhost and the loopback
// addresses.
func DefaultTLSHosts(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host, _ = os.Hostname()
	}

	var hosts []string
	seen := map[string]bool{}
	for _, h := range []string{host, "localhost", "127.0.0.1", "::1"} {
		if h != "" && !seen[strings.ToLower(h)] {
			seen[strings.ToLower(h)] = true
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// strictTransportSecurity makes browsers use only HTTPS for this host for
// a year. It is sent over TLS, and behind a reverse proxy whose
// --base-url is https; browsers ignore it on plain HTTP (RFC 6797).
func (s *Server) strictTransportSecurity(next echo.HandlerFunc) echo.HandlerFunc {
	publicHTTPS := strings.HasPrefix(s.cfg.BaseURL, "https://")
	return func(c echo.Context) error {
		if c.IsTLS() || publicHTTPS {
			c.Response().Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}
