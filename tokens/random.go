package tokens

import (
	"crypto/rand"
	"encoding/base64"
)

// RandomID returns 128 random bits in base64url without padding
// (22 characters), as used for the jti claim.
func RandomID() string {
	b := make([]byte, 16)
	// Since Go 1.24 crypto/rand.Read never returns an error; it crashes the
	// program if the system's random source fails.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
