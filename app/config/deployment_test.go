package config_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vaultdrop/vaultdrop/app/config"
)

func TestValidateDeployment(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name    string
		change  func(*config.Config)
		wantErr string // "" means valid
	}{
		{"loopback plain HTTP", func(c *config.Config) {}, ""},
		{"localhost plain HTTP", func(c *config.Config) { c.Addr = "localhost:8080" }, ""},
		{"IPv6 loopback plain HTTP", func(c *config.Config) { c.Addr = "[::1]:8080" }, ""},
		{"all interfaces plain HTTP", func(c *config.Config) { c.Addr = "0.0.0.0:8080" }, "not a loopback address"},
		{"empty host plain HTTP", func(c *config.Config) { c.Addr = ":8080" }, "not a loopback address"},
		{"LAN address plain HTTP", func(c *config.Config) { c.Addr = "192.0.2.10:8080" }, "--behind-proxy with --trusted-proxies and --base-url"},
		{"all interfaces self-signed", func(c *config.Config) { c.Addr = "0.0.0.0:8443"; c.TLSSelfSigned = true }, ""},
		{"all interfaces with certificate", func(c *config.Config) {
			c.Addr, c.TLSCert, c.TLSKey = "0.0.0.0:8443", "cert.pem", "key.pem"
		}, ""},
		{"certificate without key", func(c *config.Config) { c.TLSCert = "cert.pem" }, "--tls-cert and --tls-key go together"},
		{"certificate and self-signed", func(c *config.Config) {
			c.TLSCert, c.TLSKey, c.TLSSelfSigned = "cert.pem", "key.pem", true
		}, "not both"},
		{"hosts without self-signed", func(c *config.Config) { c.TLSHosts = []string{"files.example.test"} }, "--tls-hosts applies only"},
		{"invalid host", func(c *config.Config) {
			c.TLSSelfSigned, c.TLSHosts = true, []string{"files.example.test:8443"}
		}, "neither a host name nor an IP address"},
		{"behind proxy complete", func(c *config.Config) {
			c.Addr, c.BehindProxy, c.TrustedProxies, c.BaseURL = "0.0.0.0:8080", true, proxies, "https://files.example.test"
		}, ""},
		{"behind proxy without proxies", func(c *config.Config) {
			c.Addr, c.BehindProxy, c.BaseURL = "0.0.0.0:8080", true, "https://files.example.test"
		}, "--behind-proxy needs --trusted-proxies"},
		{"behind proxy without base URL", func(c *config.Config) {
			c.Addr, c.BehindProxy, c.TrustedProxies = "0.0.0.0:8080", true, proxies
		}, "--behind-proxy needs --base-url"},
		{"behind proxy with TLS", func(c *config.Config) {
			c.BehindProxy, c.TrustedProxies, c.BaseURL, c.TLSSelfSigned = true, proxies, "https://files.example.test", true
		}, "the proxy terminates TLS"},
		{"base URL without scheme", func(c *config.Config) { c.BaseURL = "files.example.test" }, "not an absolute http or https URL"},
		{"base URL with query", func(c *config.Config) { c.BaseURL = "https://files.example.test/?a=b" }, "has a query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Defaults()
			c.DataDir = t.TempDir()
			tt.change(&c)

			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate() = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true, "localhost": true, "LOCALHOST.": true,
		"::ffff:127.0.0.1": true, "0.0.0.0": false, "": false, "192.0.2.1": false, "files.example.test": false, "localhost.example.test": false,
	} {
		if got := config.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %t, want %t", host, got, want)
		}
	}
}
