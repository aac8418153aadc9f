package tokens

// The key set: one current signing key, and the keys that verify, found by
// kid. HS256 keys are here; asymmetric ones (ES256, EdDSA, RS256) are in
// asymmetric.go. The signing half and the verifying half are separate
// types, so a Verifier never holds anything that signs.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLength is the shortest HS256 key NewHS256Key accepts: a floor
// against obvious mistakes, low enough for development and tests.
const MinSecretLength = 16

// MinProductionSecretLength is the shortest HS256 key for production
// (RFC 7518 §3.2: a key at least as long as the hash output). The caller
// that knows the environment asks for it with CheckSecretLength.
const MinProductionSecretLength = 32

// hs256KidLabel separates our kid derivation from any other SHA-256 of the
// key, so the kid says nothing about the key beyond naming it.
const hs256KidLabel = "tokenflow-hs256-kid"

// kidBytes is how much of the digest names a key: 64 bits tell a handful of
// keys apart and reveal nothing usable about the secret.
const kidBytes = 8

// CheckSecretLength refuses an HS256 key shorter than minimum or than
// MinSecretLength, whichever is longer. The error names lengths, never
// the key.
func CheckSecretLength(secret []byte, minimum int) error {
	minimum = max(minimum, MinSecretLength)
	switch {
	case len(secret) == 0:
		return errors.New("tokens: secret is empty")
	case len(secret) < minimum:
		return fmt.Errorf("tokens: secret is %d bytes, want at least %d", len(secret), minimum)
	}
	return nil
}

// VerificationKey is what a verifier holds: the algorithm it is pinned to,
// its kid, and the key that checks signatures. For HS256 that key is the
// shared secret itself (symmetric); for asymmetric algorithms it is the
// public key, and the private half never reaches a Verifier.
type VerificationKey struct {
	alg    string
	kid    string
	method jwt.SigningMethod
	key    any
	// typ is the typ header the token must carry ("" for HS256, whose
	// tokens predate it); AccessTokenType for asymmetric keys.
	typ string
	// public and jwkBase are the published half of an asymmetric key;
	// nil and empty for HS256, which is never published.
	public  any
	jwkBase JWK
}

// Alg is the one JWS algorithm this key verifies.
func (k VerificationKey) Alg() string { return k.alg }

// Kid is the key's id as written in the token header. It is not secret.
func (k VerificationKey) Kid() string { return k.kid }

// SigningKey is a key that signs, with its verification half.
type SigningKey struct {
	VerificationKey
	signingKey any
}

// NewHS256Key makes a signing key from an HS256 secret of at least
// MinSecretLength bytes. The secret is copied, so a caller reusing its
// slice cannot change the key. Its kid is derived from the secret with a
// one-way hash (HS256Kid).
func NewHS256Key(secret []byte) (SigningKey, error) {
	if err := CheckSecretLength(secret, MinSecretLength); err != nil {
		return SigningKey{}, err
	}
	key := bytes.Clone(secret)
	return SigningKey{
		VerificationKey: VerificationKey{
			alg:    jwt.SigningMethodHS256.Alg(),
			kid:    HS256Kid(key),
			method: jwt.SigningMethodHS256,
			key:    key,
		},
		signingKey: key,
	}, nil
}

// HS256Kid is the kid of an HS256 secret: base64url of the first bytes of
// SHA-256("tokenflow-hs256-kid" || secret). Instances sharing JWT_SECRET
// derive the same kid without coordinating.
func HS256Kid(secret []byte) string {
	h := sha256.New()
	h.Write([]byte(hs256KidLabel))
	h.Write(secret)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:kidBytes])
}

// KeySet is the current signing key and every key that verifies (the
// current one included), by kid. It is immutable and safe for concurrent
// use; rotation builds a new set and swaps it into a Keyring.
type KeySet struct {
	current      SigningKey
	verification *VerificationKeys
}

// NewKeySet returns a set signing with current and verifying with current
// and the others. Kids must be unique.
func NewKeySet(current SigningKey, others ...VerificationKey) (*KeySet, error) {
	if current.signingKey == nil {
		return nil, errors.New("tokens: key set: no current signing key")
	}
	vk, err := newVerificationKeys(append([]VerificationKey{current.VerificationKey}, others...))
	if err != nil {
		return nil, err
	}
	return &KeySet{current: current, verification: vk}, nil
}

// NewHS256KeySet is the set of today's deployments: one HS256 key.
func NewHS256KeySet(secret []byte) (*KeySet, error) {
	k, err := NewHS256Key(secret)
	if err != nil {
		return nil, err
	}
	return NewKeySet(k)
}

// Verification returns the verifying half of the set, the only part a
// Verifier (and later a gateway or service) gets.
func (s *KeySet) Verification() *VerificationKeys { return s.verification }

// VerificationKeys are the keys a Verifier trusts, by kid. Nothing in it
// signs.
type VerificationKeys struct {
	byKid map[string]VerificationKey
	algs  []string
	// sole is the key a token without kid is checked with: set only when
	// the set holds exactly one HS256 key, as tokens issued before kids
	// existed (still in users' cookies) carry none.
	sole *VerificationKey
}

func newVerificationKeys(keys []VerificationKey) (*VerificationKeys, error) {
	vk := &VerificationKeys{byKid: map[string]VerificationKey{}}
	for _, k := range keys {
		if k.kid == "" || k.key == nil || k.method == nil {
			return nil, errors.New("tokens: key set: a key has no kid, algorithm or key")
		}
		if _, dup := vk.byKid[k.kid]; dup {
			return nil, fmt.Errorf("tokens: key set: kid %q appears twice", k.kid)
		}
		vk.byKid[k.kid] = k
		if !slices.Contains(vk.algs, k.alg) {
			vk.algs = append(vk.algs, k.alg)
		}
	}
	if len(keys) == 1 && keys[0].alg == jwt.SigningMethodHS256.Alg() {
		sole := keys[0]
		vk.sole = &sole
	}
	return vk, nil
}

// Keys returns the keys of the set in kid order.
func (vk *VerificationKeys) Keys() []VerificationKey {
	kids := make([]string, 0, len(vk.byKid))
	for kid := range vk.byKid {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	keys := make([]VerificationKey, 0, len(kids))
	for _, kid := range kids {
		keys = append(keys, vk.byKid[kid])
	}
	return keys
}

// Current returns the key the set signs with.
func (s *KeySet) Current() SigningKey { return s.current }

// Keyring holds the key set in use, replaced whole when keys rotate or
// are revoked, so an Issuer or Verifier built on it follows without being
// rebuilt. It is safe for concurrent use.
type Keyring struct {
	set atomic.Pointer[KeySet]
}

// NewKeyring returns a keyring holding set.
func NewKeyring(set *KeySet) (*Keyring, error) {
	if set == nil {
		return nil, errors.New("tokens: keyring: no key set")
	}
	r := &Keyring{}
	r.set.Store(set)
	return r, nil
}

// Load returns the key set in use.
func (r *Keyring) Load() *KeySet { return r.set.Load() }

// Replace makes set the one in use; tokens issued from now on are signed
// with its current key, and only its keys verify. A nil set is ignored.
func (r *Keyring) Replace(set *KeySet) {
	if set != nil {
		r.set.Store(set)
	}
}

// lookup finds the key for a token header. It looks only in the set: the
// kid is a map key, never a path, query or URL.
func (vk *VerificationKeys) lookup(header map[string]any) (VerificationKey, error) {
	raw, present := header["kid"]
	if !present {
		if vk.sole == nil {
			return VerificationKey{}, errors.New("token has no kid")
		}
		return *vk.sole, nil
	}
	kid, ok := raw.(string)
	if !ok {
		return VerificationKey{}, errors.New("kid is not a string")
	}
	k, ok := vk.byKid[kid]
	if !ok {
		// The kid is the attacker's text: do not echo it into errors.
		return VerificationKey{}, ErrUnknownKid
	}
	return k, nil
}
