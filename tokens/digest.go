package tokens

import "crypto/sha256"

// verifiedToken is the token claims were verified from and its digest,
// which a caching Verifier computes anyway for its cache key.
type verifiedToken struct {
	token  string
	digest [sha256.Size]byte
}

// Digest returns the SHA-256 of token, the token these claims were read
// from: the one a caching Verifier already computed when token is the very
// token it verified (so a request hashes its token once), else computed
// here. Any token gives its own digest, never another's.
func (c *Claims) Digest(token string) [sha256.Size]byte {
	if c != nil && c.verified.token == token && c.verified.token != "" {
		return c.verified.digest
	}
	return sha256.Sum256([]byte(token))
}
