package store

import (
	"crypto/rand"
	"encoding/hex"
)

// idBytes is the size of a random identifier: 128 bits, so ids cannot be
// guessed or enumerated.
const idBytes = 16

// NewID returns a random 32-character lowercase hex identifier.
func NewID() string {
	b := make([]byte, idBytes)
	rand.Read(b) // never returns an error; it crashes the program instead
	return hex.EncodeToString(b)
}

// ValidID reports whether s has the form NewID produces. Handlers check it
// before any lookup, so a malformed id never reaches a query or a path.
func ValidID(s string) bool {
	if len(s) != 2*idBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
