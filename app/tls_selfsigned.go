package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files of the self-signed certificate inside the data directory.
const (
	SelfSignedCertFile = "tls-self-signed.crt"
	SelfSignedKeyFile  = "tls-self-signed.key"
)

const (
	// selfSignedLifetime is how long a new self-signed certificate is
	// valid.
	selfSignedLifetime = 365 * 24 * time.Hour
	// selfSignedRenewBefore replaces a self-signed certificate this long
	// before it expires, so a server started near the end of its validity
	// does not run into the expiry.
	selfSignedRenewBefore = 30 * 24 * time.Hour
)

// SelfSignedCertPath returns the path of the self-signed certificate.
func SelfSignedCertPath(dataDir string) string {
	return filepath.Join(dataDir, SelfSignedCertFile)
}

// SelfSignedKeyPath returns the path of the self-signed certificate's key.
func SelfSignedKeyPath(dataDir string) string {
	return filepath.Join(dataDir, SelfSignedKeyFile)
}

// LoadOrCreateSelfSigned returns the self-signed certificate kept in
// dataDir for hosts. It reuses the stored certificate, so its fingerprint
// stays the same across restarts. It creates a new one (ECDSA P-256) only
// when none is stored, the stored one cannot be read, it expires within 30
// days, or it names other hosts. created reports a new one.
func LoadOrCreateSelfSigned(dataDir string, hosts []string, now time.Time) (cert tls.Certificate, created bool, err error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, false, errors.New("create self-signed certificate: no host names; give --tls-hosts")
	}
	certPath, keyPath := SelfSignedCertPath(dataDir), SelfSignedKeyPath(dataDir)

	// A missing, half-written or damaged pair is replaced, not served.
	stored, loadErr := LoadCertificate(certPath, keyPath)
	if loadErr == nil && reusable(stored.Leaf, hosts, now) {
		return stored, false, nil
	}

	cert, err = createSelfSigned(certPath, keyPath, hosts, now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	return cert, true, nil
}

// reusable reports whether a stored certificate is valid for the next 30
// days and names exactly the hosts asked for.
func reusable(leaf *x509.Certificate, hosts []string, now time.Time) bool {
	if now.Before(leaf.NotBefore) || now.Add(selfSignedRenewBefore).After(leaf.NotAfter) {
		return false
	}
	return slices.Equal(certHosts(leaf), normalizeHosts(hosts))
}

// certHosts returns the DNS names and IP addresses a certificate names,
// normalised and sorted.
func certHosts(leaf *x509.Certificate) []string {
	hosts := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return normalizeHosts(hosts)
}

// normalizeHosts lowercases names, writes IP addresses in their canonical
// form, removes duplicates and sorts.
func normalizeHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			out = append(out, ip.String())
			continue
		}
		out = append(out, strings.ToLower(h))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// createSelfSigned makes a new key and certificate for hosts and writes
// both with mode 0600. The key is written first: a crash between the two
// writes leaves a pair that does not load, which the next start replaces.
func createSelfSigned(certPath, keyPath string, hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate certificate serial number: %w", err)
	}

	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"vaultdrop self-signed"}},
		// An hour of slack keeps clients with a slightly slow clock from
		// rejecting a certificate made a moment ago.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, h)
		}
	}

	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("encode TLS key: %w", err)
	}

	if err := writePrivateFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePrivateFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return tls.Certificate{}, err
	}
	return LoadCertificate(certPath, keyPath)
}

// writePrivateFile replaces path with data, readable only by its owner,
// through a temporary file and a rename so readers never see half a file.
func writePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename

	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
