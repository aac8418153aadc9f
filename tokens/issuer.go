package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// Issuer is written to the iss claim. Required.
	Issuer string
	// Audience is written to the aud claim. Required.
	Audience string
	// TTL is the access-token lifetime. Required, > 0.
	TTL time.Duration
	// Now stamps iat and exp. Optional. Default time.Now.
	Now func() time.Time
}

// Issuer signs access tokens with the current key of its set and names
// that key in the kid header. It is safe for concurrent use.
type Issuer struct {
	keys     *Keyring
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer checks cfg and returns an Issuer signing with keys' current key.
func NewIssuer(keys *KeySet, cfg IssuerConfig) (*Issuer, error) {
	if keys == nil {
		return nil, errors.New("tokens: issuer: no key set")
	}
	ring, err := NewKeyring(keys)
	if err != nil {
		return nil, err
	}
	return NewKeyringIssuer(ring, cfg)
}

// NewKeyringIssuer checks cfg and returns an Issuer signing with the
// current key of whatever set ring holds at the time of each Issue.
func NewKeyringIssuer(ring *Keyring, cfg IssuerConfig) (*Issuer, error) {
	switch {
	case ring == nil:
		return nil, errors.New("tokens: issuer: no keyring")
	case cfg.Issuer == "":
		return nil, errors.New("tokens: issuer is empty")
	case cfg.Audience == "":
		return nil, errors.New("tokens: audience is empty")
	case cfg.TTL <= 0:
		return nil, fmt.Errorf("tokens: TTL %v must be positive", cfg.TTL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Issuer{keys: ring, issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.TTL, now: now}, nil
}

// TTL returns the access-token lifetime.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs a new access token for the user in the session. It returns the
// claims it signed, with times truncated to seconds as they appear in the
// token. userID and sessionID must not be empty.
func (i *Issuer) Issue(userID, username, sessionID string) (string, Claims, error) {
	iat := i.now()
	claims := Claims{
		Username:  username,
		SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(i.ttl)),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        RandomID(),
		},
	}
	// The verifier's own check, so the issuer never signs what it refuses.
	if err := claims.Validate(); err != nil {
		return "", Claims{}, fmt.Errorf("tokens: issue: %w", err)
	}
	key := i.keys.Load().current
	t := jwt.NewWithClaims(key.method, claims)
	t.Header["kid"] = key.kid
	if key.typ != "" {
		t.Header["typ"] = key.typ
	}
	token, err := t.SignedString(key.signingKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("tokens: issue: %w", err)
	}
	return token, claims, nil
}
