package tokens

// The verifying side of published keys: a gateway or service reads the
// auth server's JWKS (RFC 7517) into VerificationKeys, each key pinned to
// the algorithm the document names for it, and checks tokens with a
// Verifier that never accepts HS256: a public key is public, so a verifier
// that let it serve as an HMAC secret would accept anyone's token.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// publishedRSAMinBits is the smallest RSA modulus a published key may have.
const publishedRSAMinBits = 2048

// MaxJWKSKeys bounds how many keys one JWKS document may hold; a rotating
// auth server publishes three (next, current, previous).
const MaxJWKSKeys = 32

// ErrUnknownKid: the token names a kid the verifier's set does not hold.
// A verifier whose keys come from a JWKS may refetch it once (at a bounded
// rate) and try again; any other verifier refuses the token.
var ErrUnknownKid = errors.New("tokens: unknown kid")

// ErrBadJWKS wraps every error of ParseJWKS.
var ErrBadJWKS = errors.New("tokens: bad JWKS")

// publishedKey is one JWK as read from a JWKS: public members only.
type publishedKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// ParseJWKS reads a JWK Set into verification keys. Every key must name
// its kid and its alg (ES256 on an EC P-256 key, EdDSA on an OKP Ed25519
// key, RS256 on an RSA key of at least 2048 bits); use, when present, must
// be "sig". A key this package cannot use (another algorithm, a symmetric
// "oct" key, an encryption key) is skipped, not trusted with a guess; a key
// that claims a supported algorithm but is malformed, or two keys with one
// kid, make the whole document an error, so a broken publication never
// half-replaces the keys a verifier holds. Keys verify only tokens whose
// typ header is "at+jwt". An empty set is valid: every token is then
// refused as signed by an unknown kid.
func ParseJWKS(data []byte) (*VerificationKeys, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadJWKS, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("%w: no keys member", ErrBadJWKS)
	}
	if len(doc.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("%w: %d keys, limit %d", ErrBadJWKS, len(doc.Keys), MaxJWKSKeys)
	}
	var keys []VerificationKey
	for i, raw := range doc.Keys {
		var pk publishedKey
		if err := json.Unmarshal(raw, &pk); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrBadJWKS, i, err)
		}
		key, usable, err := pk.verificationKey()
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrBadJWKS, i, err)
		}
		if usable {
			keys = append(keys, key)
		}
	}
	vk, err := newVerificationKeys(keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadJWKS, err)
	}
	return vk, nil
}

// verificationKey turns a JWK into a key pinned to its alg. usable is false
// for a key this package does not verify with.
func (pk publishedKey) verificationKey() (key VerificationKey, usable bool, err error) {
	if pk.Use != "" && pk.Use != "sig" {
		return VerificationKey{}, false, nil
	}
	var method jwt.SigningMethod
	var pub any
	switch pk.Alg {
	case jwt.SigningMethodES256.Alg():
		method = jwt.SigningMethodES256
		pub, err = pk.ecdsaP256()
	case jwt.SigningMethodEdDSA.Alg():
		method = jwt.SigningMethodEdDSA
		pub, err = pk.ed25519()
	case jwt.SigningMethodRS256.Alg():
		method = jwt.SigningMethodRS256
		pub, err = pk.rsa()
	default:
		// HS256 among them: a published document never carries a secret
		// we would agree to verify with.
		return VerificationKey{}, false, nil
	}
	if err != nil {
		return VerificationKey{}, false, fmt.Errorf("%s: %w", pk.Alg, err)
	}
	if pk.Kid == "" {
		return VerificationKey{}, false, errors.New("no kid")
	}
	return VerificationKey{alg: pk.Alg, kid: pk.Kid, method: method, key: pub, typ: AccessTokenType}, true, nil
}

func (pk publishedKey) ecdsaP256() (*ecdsa.PublicKey, error) {
	if pk.Kty != "EC" || pk.Crv != "P-256" {
		return nil, fmt.Errorf("want kty EC, crv P-256, got %q, %q", pk.Kty, pk.Crv)
	}
	x, errX := decodeFixed(pk.X, 32)
	y, errY := decodeFixed(pk.Y, 32)
	if err := errors.Join(errX, errY); err != nil {
		return nil, err
	}
	// ParseUncompressedPublicKey refuses a point that is not on the curve
	// (an invalid-curve attack needs one).
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}

func (pk publishedKey) ed25519() (ed25519.PublicKey, error) {
	if pk.Kty != "OKP" || pk.Crv != "Ed25519" {
		return nil, fmt.Errorf("want kty OKP, crv Ed25519, got %q, %q", pk.Kty, pk.Crv)
	}
	x, err := decodeFixed(pk.X, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(x), nil
}

func (pk publishedKey) rsa() (*rsa.PublicKey, error) {
	if pk.Kty != "RSA" {
		return nil, fmt.Errorf("want kty RSA, got %q", pk.Kty)
	}
	n, errN := base64.RawURLEncoding.Strict().DecodeString(pk.N)
	e, errE := base64.RawURLEncoding.Strict().DecodeString(pk.E)
	if err := errors.Join(errN, errE); err != nil {
		return nil, err
	}
	modulus := new(big.Int).SetBytes(n)
	if modulus.BitLen() < publishedRSAMinBits {
		return nil, fmt.Errorf("a %d-bit modulus, want at least %d", modulus.BitLen(), publishedRSAMinBits)
	}
	exponent := new(big.Int).SetBytes(e)
	if !exponent.IsInt64() || exponent.Int64() < 3 || exponent.Int64() > 1<<31-1 || exponent.Bit(0) == 0 {
		return nil, errors.New("exponent out of range")
	}
	return &rsa.PublicKey{N: modulus, E: int(exponent.Int64())}, nil
}

// decodeFixed decodes a base64url member that must be exactly size bytes.
func decodeFixed(member string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(member)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("a %d-byte member, want %d", len(b), size)
	}
	return b, nil
}

// NewPublishedKeyVerifier checks cfg and returns a Verifier trusting the
// set keys returns when each token is checked (a JWKS cache's latest), so
// a key that left the JWKS stops verifying at the next check. It accepts
// ES256, EdDSA and RS256 only, each key pinned to its own algorithm, and
// requires typ "at+jwt"; the checks of Verify (strict header and payload,
// no key hints, iss, aud, exp) are the same as everywhere. keys must not
// return nil.
func NewPublishedKeyVerifier(keys func() *VerificationKeys, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("tokens: verifier: no key source")
	}
	algs := []string{jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodRS256.Alg()}
	return newVerifier(keys, algs, cfg)
}

// NoVerificationKeys is the empty set: what a JWKS cache holds before its
// first fetch.
func NoVerificationKeys() *VerificationKeys {
	return &VerificationKeys{byKid: map[string]VerificationKey{}}
}

// Kids returns the kids of the set, for logs and tests. Kids are not secret.
func (vk *VerificationKeys) Kids() []string {
	kids := make([]string, 0, len(vk.byKid))
	for kid := range vk.byKid {
		kids = append(kids, kid)
	}
	return kids
}

// Has reports whether the set holds a key named kid.
func (vk *VerificationKeys) Has(kid string) bool {
	_, ok := vk.byKid[kid]
	return ok
}
