package tokens

import (
	"crypto/sha256"
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
	// CacheSize is how many verified tokens are remembered (least recently
	// used dropped first), each until its exp and only while its key stays
	// in the set. Optional. Default 0: every token is checked in full.
	// Servers use DefaultVerifiedCacheSize.
	CacheSize int
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
	now    func() time.Time
	cache  *verifiedCache // nil: no cache
}

// NewVerifier checks cfg and returns a Verifier trusting exactly keys.
func NewVerifier(keys *VerificationKeys, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil || len(keys.byKid) == 0 {
		return nil, errors.New("tokens: verifier: no keys")
	}
	return newVerifier(func() *VerificationKeys { return keys }, keys.algs, cfg)
}

// NewKeyringVerifier checks cfg and returns a Verifier trusting exactly
// the verification keys of the set ring holds when each token is checked:
// a key removed from the ring stops verifying at once.
func NewKeyringVerifier(ring *Keyring, cfg VerifierConfig) (*Verifier, error) {
	if ring == nil {
		return nil, errors.New("tokens: verifier: no keyring")
	}
	// The set may change algorithm family on rotation; each key is still
	// pinned to its own algorithm in keyFunc.
	algs := []string{AlgES256, AlgEdDSA, AlgRS256, AlgHS256}
	return newVerifier(func() *VerificationKeys { return ring.Load().verification }, algs, cfg)
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
	if cfg.CacheSize < 0 {
		return nil, errors.New("tokens: verifier: negative cache size")
	}
	v := &Verifier{keys: keys, parser: parser, now: now}
	if cfg.CacheSize > 0 {
		v.cache = newVerifiedCache(cfg.CacheSize)
	}
	return v, nil
}

// Verify checks the token's signature with the key its kid names in the
// verifier's set (a token without kid: the set's only key, when that is
// HS256), pinned to that key's algorithm; then iss, aud, exp (required),
// iat, nbf, and Claims.Validate. Every error wraps ErrInvalidToken and
// golang-jwt's sentinel for the cause, e.g. jwt.ErrTokenExpired (see
// Expired), jwt.ErrTokenSignatureInvalid, jwt.ErrTokenMalformed,
// jwt.ErrTokenUnverifiable (unknown kid, key hints in the header),
// jwt.ErrTokenRequiredClaimMissing.
//
// With a cache (VerifierConfig.CacheSize), a token verified before is
// answered without the checks while it is unexpired and its key is still
// in the set; the claims returned are the caller's own copy.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if len(token) > MaxTokenLength {
		// Checked before hashing too, so a huge header costs nothing.
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, precheck(token))
	}
	var digest [sha256.Size]byte
	var keys *VerificationKeys
	if v.cache != nil {
		digest = sha256.Sum256([]byte(token))
		keys = v.keys()
		if claims, ok := v.cache.lookup(digest, v.now(), keys); ok {
			claims.verified = verifiedToken{token: token, digest: digest}
			return claims, nil
		}
	}
	if err := precheck(token); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	claims := &Claims{}
	var used VerificationKey
	keyFunc := func(t *jwt.Token) (any, error) {
		key, err := v.keyFor(t, keys)
		used = key
		return key.key, err
	}
	if _, err := v.parser.ParseWithClaims(token, claims, keyFunc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if v.cache != nil {
		v.cache.store(digest, claims, used, keys, v.now())
		claims.verified = verifiedToken{token: token, digest: digest}
	}
	return claims, nil
}

// CacheStats returns the counters of the cache of verified tokens (zero
// without one).
func (v *Verifier) CacheStats() CacheStats {
	if v.cache == nil {
		return CacheStats{}
	}
	return v.cache.stats()
}

// keyFor finds the key of the token's kid, from our set only (keys, or the
// set in use now when nil), and only for the algorithm that key is pinned
// to. jku, jwk, x5u and x5c are refused before this (precheck): a token
// cannot choose its own key.
func (v *Verifier) keyFor(t *jwt.Token, keys *VerificationKeys) (VerificationKey, error) {
	if keys == nil {
		keys = v.keys()
	}
	key, err := keys.lookup(t.Header)
	if err != nil {
		return VerificationKey{}, err
	}
	if t.Method != key.method {
		return VerificationKey{}, fmt.Errorf("signing method %v is not the key's %s", t.Header["alg"], key.alg)
	}
	if key.typ != "" {
		// Exactly our spelling: RFC 9068 tokens are "at+jwt", and one
		// spelling keeps other JWTs of the same key out.
		if typ, _ := t.Header["typ"].(string); typ != key.typ {
			return VerificationKey{}, fmt.Errorf("typ is not %q", key.typ)
		}
	}
	return key, nil
}
