package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxLeeway is the largest clock skew a Verifier tolerates: more would keep
// expired tokens alive.
const MaxLeeway = 5 * time.Second

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer is required in the iss claim. Required.
	Issuer string
	// Audience is required in the aud claim. Required.
	Audience string
	// Leeway is the clock skew allowed when checking exp, iat and nbf.
	// Optional. Default 0; at most MaxLeeway.
	Leeway time.Duration
	// Now is the clock tokens are checked against. Optional. Default time.Now.
	Now func() time.Time
}

// CheckLeeway refuses a leeway outside [0, MaxLeeway].
func CheckLeeway(leeway time.Duration) error {
	if leeway < 0 || leeway > MaxLeeway {
		return fmt.Errorf("tokens: leeway %v must be between 0 and %v", leeway, MaxLeeway)
	}
	return nil
}

// Verifier checks access tokens against its own verification keys. It has
// no signing key and no way to get one: it is what a gateway or service
// imports. It is safe for concurrent use.
type Verifier struct {
	keys   func() *VerificationKeys
	parser *jwt.Parser
}

// NewVerifier checks cfg and returns a Verifier trusting exactly keys.
func NewVerifier(keys *VerificationKeys, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil || len(keys.byKid) == 0 {
		return nil, errors.New("tokens: verifier: no keys")
	}
	return newVerifier(func() *VerificationKeys { return keys }, keys.algs, cfg)
}

func newVerifier(keys func() *VerificationKeys, algs []string, cfg VerifierConfig) (*Verifier, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("tokens: issuer is empty")
	case cfg.Audience == "":
		return nil, errors.New("tokens: audience is empty")
	}
	if err := CheckLeeway(cfg.Leeway); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		// Refuse non-canonical base64 (e.g. altered unused trailing bits),
		// so one signature has exactly one spelling.
		jwt.WithStrictDecoding(),
	)
	return &Verifier{keys: keys, parser: parser}, nil
}

// Verify checks the token's signature with the key its kid names in the
// verifier's set (a token without kid: the set's only key, when that is
// HS256), pinned to that key's algorithm; then iss, aud, exp (required),
// iat, nbf, and Claims.Validate. Every error wraps ErrInvalidToken and
// golang-jwt's sentinel for the cause, e.g. jwt.ErrTokenExpired (see
// Expired), jwt.ErrTokenSignatureInvalid, jwt.ErrTokenMalformed,
// jwt.ErrTokenUnverifiable (unknown kid, key hints in the header),
// jwt.ErrTokenRequiredClaimMissing.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if err := precheck(token); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	claims := &Claims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFunc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return claims, nil
}

// keyFunc hands golang-jwt the key of the token's kid, from our set only,
// and only for the algorithm that key is pinned to. jku, jwk, x5u and x5c
// are refused before this (precheck): a token cannot choose its own key.
func (v *Verifier) keyFunc(t *jwt.Token) (any, error) {
	key, err := v.keys().lookup(t.Header)
	if err != nil {
		return nil, err
	}
	if t.Method != key.method {
		return nil, fmt.Errorf("signing method %v is not the key's %s", t.Header["alg"], key.alg)
	}
	if key.typ != "" {
		// Exactly our spelling: RFC 9068 tokens are "at+jwt", and one
		// spelling keeps other JWTs of the same key out.
		if typ, _ := t.Header["typ"].(string); typ != key.typ {
			return nil, fmt.Errorf("typ is not %q", key.typ)
		}
	}
	return key.key, nil
}
