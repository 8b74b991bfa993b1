package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// tokenBytes is the entropy of every bearer secret: 256 bits.
const tokenBytes = 32

// Token prefixes. They let people and secret scanners tell a leaked
// vaultdrop token from other strings; they carry no entropy.
const (
	PrefixAPIToken = "vdt_"
	PrefixSession  = "vds_"
	PrefixSetup    = "vdsetup_"
	// PrefixWebhookSecret marks the key that signs webhook notices.
	PrefixWebhookSecret = "vdwhsec_"
)

// NewToken returns prefix followed by 256 random bits in unpadded
// base64url, safe in URLs, cookies and headers.
func NewToken(prefix string) string {
	b := make([]byte, tokenBytes)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the SHA-256 of a token, the only form that is stored.
// A fast hash is enough here: the token has 256 bits of entropy, so there
// is nothing to brute-force.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// HashTokenHex is HashToken in lowercase hex.
func HashTokenHex(token string) string {
	return hex.EncodeToString(HashToken(token))
}

// TokenMatchesHex reports whether token hashes to wantHex, in constant time.
func TokenMatchesHex(token, wantHex string) bool {
	got := HashTokenHex(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(wantHex))) == 1
}
