package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Deployment holds the settings for how the server is reached: HTTPS, a
// reverse proxy in front of it, a desktop launch that opens the browser,
// and the metrics endpoint.
type Deployment struct {
	// TLSCert and TLSKey are PEM files of an operator's certificate chain
	// and its private key.
	TLSCert string
	TLSKey  string
	// TLSSelfSigned serves HTTPS with a certificate that vaultdrop creates
	// in the data directory and reuses after restarts.
	TLSSelfSigned bool
	// TLSHosts are the DNS names and IP addresses the self-signed
	// certificate is valid for. Empty means localhost, the loopback
	// addresses and the host of --addr.
	TLSHosts []string

	// BehindProxy allows plain HTTP on a non-loopback address because a
	// reverse proxy in front of the server terminates TLS.
	BehindProxy bool

	// Metrics serves GET /metrics in the Prometheus text format.
	Metrics bool

	// Desktop runs the server for one person at this computer: on
	// loopback, with the browser opened at the right page.
	Desktop bool
	// NoBrowser keeps a desktop launch from opening the browser.
	NoBrowser bool
}

// bindDeployment registers the flags of Deployment.
func (d *Deployment) bindDeployment(fs *FlagSet) {
	fs.StringVar(&d.TLSCert, "tls-cert", d.TLSCert,
		"PEM `file` with the certificate chain to serve HTTPS with; needs --tls-key")
	fs.StringVar(&d.TLSKey, "tls-key", d.TLSKey,
		"PEM `file` with the private key of --tls-cert")
	fs.BoolVar(&d.TLSSelfSigned, "tls-self-signed", d.TLSSelfSigned,
		"serve HTTPS with a self-signed certificate kept in the data directory; its SHA-256 fingerprint is logged at start")
	fs.Var((*listValue)(&d.TLSHosts), "tls-hosts",
		"comma-separated host `names` and IP addresses for the self-signed certificate; default: localhost, 127.0.0.1, ::1 and the --addr host")
	fs.BoolVar(&d.BehindProxy, "behind-proxy", d.BehindProxy,
		"allow plain HTTP on a non-loopback --addr because a TLS reverse proxy is in front; needs --trusted-proxies and --base-url")
	fs.BoolVar(&d.Metrics, "metrics", d.Metrics,
		"serve Prometheus metrics at /metrics to loopback clients and to API tokens of admins")
	fs.BoolVar(&d.Desktop, "desktop", d.Desktop,
		"run for one person at this computer: listen on 127.0.0.1 and open the browser at the setup or sign-in page")
	fs.BoolVar(&d.NoBrowser, "no-browser", d.NoBrowser,
		"with --desktop, print the address instead of opening the browser")
}

// TLSEnabled reports whether the server itself serves HTTPS.
func (d Deployment) TLSEnabled() bool {
	return d.TLSCert != "" || d.TLSSelfSigned
}

// validateDeployment checks the TLS, proxy and base URL settings against
// the listen address. A server on a non-loopback address must not send
// passwords, session cookies and files unencrypted, so plain HTTP there
// is rejected unless a TLS reverse proxy is declared in front of it.
func (c *Config) validateDeployment() []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("--tls-cert and --tls-key go together: give both files, or neither")
	}
	if c.TLSCert != "" && c.TLSSelfSigned {
		add("give either --tls-cert and --tls-key, or --tls-self-signed, not both")
	}
	if len(c.TLSHosts) > 0 && !c.TLSSelfSigned {
		add("--tls-hosts applies only to the certificate of --tls-self-signed; add --tls-self-signed or drop --tls-hosts")
	}
	for _, host := range c.TLSHosts {
		if !validCertHost(host) {
			add("--tls-hosts: %q is neither a host name nor an IP address; write names such as files.example.com or addresses such as 192.0.2.10, without ports", host)
		}
	}

	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.BehindProxy && len(c.TrustedProxies) == 0 {
		add("--behind-proxy needs --trusted-proxies: give the proxy's address or CIDR, such as 127.0.0.1/32, so client addresses are taken from its X-Forwarded-For header")
	}
	if c.BehindProxy && c.BaseURL == "" {
		add("--behind-proxy needs --base-url: give the public address people open, such as https://files.example.com, so links point there")
	}
	if c.BehindProxy && c.TLSEnabled() {
		add("--behind-proxy means the proxy terminates TLS; drop it, or drop --tls-cert, --tls-key and --tls-self-signed")
	}

	if !c.TLSEnabled() && !c.BehindProxy && !IsLoopbackAddr(c.Addr) {
		add("--addr %s is not a loopback address, and plain HTTP would send passwords and files unencrypted over the network. "+
			"Either serve HTTPS with --tls-cert and --tls-key (or --tls-self-signed), "+
			"or put a TLS reverse proxy in front and give --behind-proxy with --trusted-proxies and --base-url", c.Addr)
	}
	return errs
}

// IsLoopbackAddr reports whether the host of a host:port listen address is
// "localhost" or a loopback IP address. An empty host means every
// interface, which is not loopback.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return IsLoopbackHost(host)
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP
// address such as 127.0.0.1 or ::1. Other names are not resolved.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// checkBaseURL accepts an absolute http or https URL with a host and no
// query or fragment, because links are built by appending paths to it.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--base-url %q is not an absolute http or https URL; write it as https://files.example.com", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--base-url %q has a query, fragment or user name; give only the scheme, host and an optional path", raw)
	}
	return nil
}

// validCertHost reports whether host can go into a certificate's subject
// alternative names: an IP address, or a DNS name of letters, digits,
// hyphens and dots.
func validCertHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "" || len(host) > 253 || strings.HasPrefix(host, ".") || strings.Contains(host, "..") {
		return false
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
