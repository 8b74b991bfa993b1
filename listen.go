package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/config"
)

// listen opens the listener of --addr, with TLS when --tls-cert or
// --tls-self-signed is given. The certificate is loaded before the port
// is taken, so a bad certificate stops the start without binding.
func listen(cfg config.Config, log *slog.Logger) (net.Listener, error) {
	tlsConfig, err := app.NewTLSConfig(cfg, log, time.Now())
	if err != nil {
		return nil, err
	}

	ln, err := app.Listen(cfg.Addr, cfg.AddrExplicit)
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

// listenURL is the URL of the listener itself: https with TLS, and a name
// of the certificate in place of an address that means every interface,
// such as 0.0.0.0, which no browser can open.
func listenURL(cfg config.Config, ln net.Listener) string {
	scheme := "http"
	if cfg.TLSEnabled() {
		scheme = "https"
	}

	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return scheme + "://" + ln.Addr().String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		hosts := cfg.TLSHosts
		if len(hosts) == 0 {
			hosts = app.DefaultTLSHosts(cfg.Addr)
		}
		host = hosts[0]
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
