// Package tokens issues and verifies the short-lived access tokens (JWTs)
// and creates the opaque refresh tokens of tokenflow. It knows nothing about
// HTTP: handlers decide where tokens travel and how failures are reported.
package tokens

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken wraps every error returned by Verifier.Verify. golang-jwt's
// sentinels (jwt.ErrTokenExpired, jwt.ErrTokenSignatureInvalid, ...) stay
// reachable through errors.Is on the same error.
var ErrInvalidToken = errors.New("tokens: invalid access token")

// Claims are the claims of a tokenflow access token. Subject is the user id,
// ID (jti) a random 128-bit value. Nothing here is secret: the payload is only
// base64url-encoded.
type Claims struct {
	Username  string `json:"username"`
	SessionID string `json:"sid"`
	jwt.RegisteredClaims

	// verified: the token a caching Verifier read these claims from, and
	// its SHA-256 (see Digest). Unexported: never part of the JSON.
	verified verifiedToken
}

// Validate checks the claims golang-jwt does not know are required: sub,
// sid and iat. The parser calls it (jwt.ClaimsValidator) after the
// registered claims; the error wraps jwt.ErrTokenRequiredClaimMissing.
func (c Claims) Validate() error {
	var missing []string
	if c.Subject == "" {
		missing = append(missing, "sub")
	}
	if c.SessionID == "" {
		missing = append(missing, "sid")
	}
	if c.IssuedAt == nil {
		missing = append(missing, "iat")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", jwt.ErrTokenRequiredClaimMissing, strings.Join(missing, ", "))
	}
	return nil
}

var _ jwt.ClaimsValidator = Claims{}

// Config configures a Manager: one HS256 key, as set by JWT_SECRET, or a
// Keyring whose keys rotate.
type Config struct {
	// Secret is the HS256 key. Required unless Keys is set; at least
	// MinSecretLength bytes (production asks for MinProductionSecretLength).
	Secret []byte
	// Keys is the keyring to sign and verify with. Optional; when set,
	// Secret must be empty.
	Keys *Keyring
	// Issuer is written to and required in the iss claim. Required.
	Issuer string
	// Audience is written to and required in the aud claim. Required.
	Audience string
	// TTL is the access-token lifetime. Required, > 0.
	TTL time.Duration
	// Leeway is the clock skew allowed when checking exp, iat and nbf.
	// Optional. Default 0; at most MaxLeeway.
	Leeway time.Duration
	// Now is the clock used both to stamp and to verify tokens.
	// Optional. Default time.Now.
	Now func() time.Time
	// VerifiedCacheSize: see VerifierConfig.CacheSize. Optional. Default 0.
	VerifiedCacheSize int
}

// Manager is the auth server's pair: an Issuer and a Verifier sharing one
// key set. Services that only check tokens use a Verifier alone.
type Manager struct {
	*Issuer
	*Verifier
	keys *Keyring
}

// NewManager checks cfg and returns a Manager. It refuses an empty or short
// secret, an empty issuer or audience, a TTL <= 0 and a leeway outside
// [0, MaxLeeway].
func NewManager(cfg Config) (*Manager, error) {
	ring := cfg.Keys
	verifierConfig := VerifierConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, Now: cfg.Now, CacheSize: cfg.VerifiedCacheSize}
	var verifier *Verifier
	if ring == nil {
		keys, err := NewHS256KeySet(cfg.Secret)
		if err != nil {
			return nil, err
		}
		if ring, err = NewKeyring(keys); err != nil {
			return nil, err
		}
		if verifier, err = NewVerifier(keys.Verification(), verifierConfig); err != nil {
			return nil, err
		}
	} else {
		if len(cfg.Secret) > 0 {
			return nil, errors.New("tokens: manager: both a secret and a keyring")
		}
		var err error
		if verifier, err = NewKeyringVerifier(ring, verifierConfig); err != nil {
			return nil, err
		}
	}
	issuer, err := NewKeyringIssuer(ring, IssuerConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TTL, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	return &Manager{Issuer: issuer, Verifier: verifier, keys: ring}, nil
}

// Keys returns the manager's key set in use now.
func (m *Manager) Keys() *KeySet { return m.keys.Load() }

// Keyring returns the manager's keyring, for a second Issuer that follows
// the same rotations (the development tool's, with a shifted clock).
func (m *Manager) Keyring() *Keyring { return m.keys }

// Expired reports whether err says the token has expired, which is the one
// failure a client can cure by refreshing.
func Expired(err error) bool {
	return errors.Is(err, jwt.ErrTokenExpired)
}
