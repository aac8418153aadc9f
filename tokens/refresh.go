package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// RefreshTokenBytes is the number of random bytes in a refresh token (256 bits).
const RefreshTokenBytes = 32

// refreshTokenLength is the length of a refresh token: 32 bytes in unpadded
// base64url.
var refreshTokenLength = base64.RawURLEncoding.EncodedLen(RefreshTokenBytes)

// ErrMalformedRefreshToken is returned by HashRefreshToken for anything that
// NewRefreshToken cannot have produced.
var ErrMalformedRefreshToken = errors.New("tokens: malformed refresh token")

// NewRefreshToken returns a new opaque refresh token (32 random bytes,
// base64url without padding, 43 characters) and the hash to store in its
// place. The token itself is never stored.
func NewRefreshToken() (token, hash string, err error) {
	b := make([]byte, RefreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("tokens: refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefreshToken(token), nil
}

// HashRefreshToken checks that token has the shape of a refresh token and
// returns the hex SHA-256 under which it is stored. It returns
// ErrMalformedRefreshToken for anything else, so junk never reaches the store.
func HashRefreshToken(token string) (string, error) {
	if len(token) != refreshTokenLength {
		return "", ErrMalformedRefreshToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != RefreshTokenBytes {
		return "", ErrMalformedRefreshToken
	}
	return hashRefreshToken(token), nil
}

// hashRefreshToken is plain SHA-256: the token has 256 bits of entropy, so a
// slow hash would add nothing.
func hashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
