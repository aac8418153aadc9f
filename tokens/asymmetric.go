package tokens

// Asymmetric signing keys (ES256, EdDSA, RS256): the auth server signs with
// the private half, and publishes the public half (JWKS) so gateways and
// services verify without ever holding anything that signs. A key's kid is
// its RFC 7638 thumbprint, so every party derives the same name from the
// key itself.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms this package signs and verifies.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
	AlgHS256 = "HS256"
)

// AccessTokenType is the typ header of an access token signed with an
// asymmetric key (RFC 9068 §2.1). Verifiers of such keys require it, so a
// JWT of another kind signed by the same key (an ID token, say) is not
// taken for an access token.
const AccessTokenType = "at+jwt"

// MinRSABits is the smallest RSA modulus accepted for RS256.
const MinRSABits = 2048

// IsAsymmetric reports whether alg is one of the asymmetric algorithms
// this package supports.
func IsAsymmetric(alg string) bool {
	return alg == AlgES256 || alg == AlgEdDSA || alg == AlgRS256
}

// CheckAlg refuses an algorithm this package does not support.
func CheckAlg(alg string) error {
	if alg == AlgHS256 || IsAsymmetric(alg) {
		return nil
	}
	return fmt.Errorf("tokens: algorithm %q is not one of %s, %s, %s, %s", alg, AlgES256, AlgEdDSA, AlgRS256, AlgHS256)
}

// GenerateKey makes a new random signing key for an asymmetric alg.
func GenerateKey(alg string) (SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	default:
		return SigningKey{}, fmt.Errorf("tokens: cannot generate a key for %q: not an asymmetric algorithm", alg)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("tokens: generate %s key: %w", alg, err)
	}
	return NewAsymmetricKey(alg, priv)
}

// NewAsymmetricKey makes a signing key for alg from its private key: an
// *ecdsa.PrivateKey on P-256 for ES256, an ed25519.PrivateKey for EdDSA, an
// *rsa.PrivateKey of at least MinRSABits for RS256. Any other pairing is
// refused: the key decides the algorithm, once.
func NewAsymmetricKey(alg string, priv crypto.Signer) (SigningKey, error) {
	vk, err := NewPublicKey(alg, priv.Public())
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{VerificationKey: vk, signingKey: priv}, nil
}

// NewPublicKey makes a verification key pinned to alg from a public key,
// checking that the key fits the algorithm. Its kid is the key's RFC 7638
// thumbprint.
func NewPublicKey(alg string, pub crypto.PublicKey) (VerificationKey, error) {
	var method jwt.SigningMethod
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if alg != AlgES256 || k.Curve != elliptic.P256() {
			return VerificationKey{}, fmt.Errorf("tokens: an ECDSA key on %s is not a %s key", k.Curve.Params().Name, alg)
		}
		method = jwt.SigningMethodES256
	case ed25519.PublicKey:
		if alg != AlgEdDSA || len(k) != ed25519.PublicKeySize {
			return VerificationKey{}, fmt.Errorf("tokens: an Ed25519 key is not a %s key", alg)
		}
		method = jwt.SigningMethodEdDSA
	case *rsa.PublicKey:
		if alg != AlgRS256 || k.N.BitLen() < MinRSABits {
			return VerificationKey{}, fmt.Errorf("tokens: a %d-bit RSA key is not a %s key (RS256 needs at least %d bits)", k.N.BitLen(), alg, MinRSABits)
		}
		method = jwt.SigningMethodRS256
	default:
		return VerificationKey{}, fmt.Errorf("tokens: unsupported public key type %T", pub)
	}
	jwk, err := publicJWK(pub)
	if err != nil {
		return VerificationKey{}, err
	}
	return VerificationKey{
		alg:     alg,
		kid:     jwk.thumbprint(),
		method:  method,
		key:     pub,
		typ:     AccessTokenType,
		public:  pub,
		jwkBase: jwk,
	}, nil
}

// ParsePrivateKey reads a PKCS#8 DER private key for alg (what
// MarshalPrivateKey writes).
func ParsePrivateKey(alg string, der []byte) (SigningKey, error) {
	raw, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return SigningKey{}, fmt.Errorf("tokens: parse %s private key: %w", alg, err)
	}
	var priv crypto.Signer
	switch k := raw.(type) {
	case *ecdsa.PrivateKey:
		priv = k
	case ed25519.PrivateKey:
		priv = k
	case *rsa.PrivateKey:
		priv = k
	default:
		return SigningKey{}, fmt.Errorf("tokens: unsupported private key type %T", raw)
	}
	return NewAsymmetricKey(alg, priv)
}

// MarshalPrivateKey writes the private half as PKCS#8 DER. It is secret:
// seal it before it is stored anywhere.
func (k SigningKey) MarshalPrivateKey() ([]byte, error) {
	if !IsAsymmetric(k.alg) {
		return nil, errors.New("tokens: only asymmetric keys are marshalled")
	}
	return x509.MarshalPKCS8PrivateKey(k.signingKey)
}

// ParsePublicKey reads a PKIX DER public key for alg (what
// MarshalPublicKey writes).
func ParsePublicKey(alg string, der []byte) (VerificationKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return VerificationKey{}, fmt.Errorf("tokens: parse %s public key: %w", alg, err)
	}
	return NewPublicKey(alg, pub)
}

// MarshalPublicKey writes the public half as PKIX DER.
func (k VerificationKey) MarshalPublicKey() ([]byte, error) {
	if k.public == nil {
		return nil, errors.New("tokens: only asymmetric keys have a public half")
	}
	return x509.MarshalPKIXPublicKey(k.public)
}

// JWK is a public key as published in a JWKS (RFC 7517). It has no member
// for private material, so none can be filled in by mistake.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWK returns the key's public JWK; ok is false for an HS256 key, which
// has no public half and is never published.
func (k VerificationKey) JWK() (jwk JWK, ok bool) {
	if k.public == nil {
		return JWK{}, false
	}
	jwk = k.jwkBase
	jwk.Kid, jwk.Alg, jwk.Use = k.kid, k.alg, "sig"
	return jwk, true
}

// JWKS is a JWK Set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public keys of the set, in kid order. It is empty when
// the set holds only HS256 keys.
func (vk *VerificationKeys) JWKS() JWKS {
	doc := JWKS{Keys: []JWK{}}
	for _, k := range vk.Keys() {
		if jwk, ok := k.JWK(); ok {
			doc.Keys = append(doc.Keys, jwk)
		}
	}
	return doc
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWK returns the key members of a public key (kty, crv, x, y, n, e).
func publicJWK(pub crypto.PublicKey) (JWK, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ek, err := k.ECDH()
		if err != nil {
			return JWK{}, fmt.Errorf("tokens: EC key: %w", err)
		}
		point := ek.Bytes() // 0x04 || X || Y, each 32 bytes on P-256
		return JWK{Kty: "EC", Crv: "P-256", X: b64(point[1:33]), Y: b64(point[33:])}, nil
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return JWK{}, fmt.Errorf("tokens: unsupported public key type %T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint: base64url SHA-256 of the
// required members in lexicographic order, no whitespace. The values are
// base64url or fixed names, so they need no JSON escaping.
func (j JWK) thumbprint() string {
	var canonical string
	switch j.Kty {
	case "EC":
		canonical = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "OKP":
		canonical = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "RSA":
		canonical = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}
