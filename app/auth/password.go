// Package auth holds the secrets of accounts: argon2id password hashes and
// random bearer tokens, stored only as hashes.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: the second recommended option of RFC 9106, section
// 4 (64 MiB of memory, 3 passes, 4 lanes), for machines without the 2 GiB
// per hash of the first option.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 4
	argonKeyLen  = 32
	saltLen      = 16
)

// Password length limits. The upper bound keeps a huge form field from
// costing more than an ordinary sign-in.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

// ErrPasswordPolicy means a new password is too short or too long.
var ErrPasswordPolicy = fmt.Errorf("password must be %d to %d characters long", MinPasswordLen, MaxPasswordLen)

// CheckPasswordPolicy checks a new password's length.
func CheckPasswordPolicy(password string) error {
	n := len([]rune(password))
	if n < MinPasswordLen || len(password) > MaxPasswordLen {
		return ErrPasswordPolicy
	}
	return nil
}

// HashPassword returns an argon2id hash in the PHC string format:
// $argon2id$v=19$m=65536,t=3,p=4$SALT$HASH.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)

	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time. It reads the parameters from the hash, so hashes made with
// older parameters keep working.
func VerifyPassword(hash, password string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLen {
		return false, nil
	}

	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// DummyVerify spends the time of one VerifyPassword, so that a sign-in for
// an unknown username takes as long as one with a wrong password.
func DummyVerify(password string) {
	salt := make([]byte, saltLen)
	argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
}

type phcParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

func parsePHC(hash string) (phcParams, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return phcParams{}, errBadHash
	}

	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phcParams{}, errBadHash
	}

	var p phcParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return phcParams{}, errBadHash
	}

	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return phcParams{}, errBadHash
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) == 0 {
		return phcParams{}, errBadHash
	}
	return p, nil
}
