package tokens

// The cache of verified tokens. An ES256 signature check costs tens of
// microseconds of CPU per request; a browser sends the same access token
// with every request for its whole lifetime. Remembering the outcome, keyed
// by a digest of the whole token, turns a repeat into a SHA-256 and a map
// lookup. What it must never do is make a token live longer than Verify
// would: an entry is used only before the token's exp (the leeway is not
// added), and only while the key that verified it is still in the
// verifier's set, checked on every hit (a compare of pointers while the
// set is the one last checked; the key itself when the set has changed),
// so a revoked key's tokens fail at once, as without the cache. Only successes are kept: a forged or expired
// token is checked in full each time and cannot take a slot.

import (
	"container/list"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultVerifiedCacheSize is the number of verified tokens a server keeps:
// one live access token per active browser, so ten thousand sessions active
// within one token lifetime, about 650 bytes of heap each, 6.5 MB in all
// (see docs/PERFORMANCE.md).
const DefaultVerifiedCacheSize = 10_000

// CacheStats counts the lookups of a Verifier's cache of verified tokens.
type CacheStats struct {
	// Hits are tokens answered from the cache; Misses, tokens checked in
	// full (absent, expired, or their key gone).
	Hits, Misses uint64
	// Entries is how many tokens are held now; Size the most it holds.
	Entries, Size int
}

// verifiedCache is a bounded LRU of verified tokens, safe for concurrent
// use. One mutex: the critical section is a map lookup and a list move.
type verifiedCache struct {
	size int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element
	order   *list.List // of *verifiedEntry, most recently used first

	hits, misses atomic.Uint64
}

type verifiedEntry struct {
	digest [sha256.Size]byte
	claims Claims
	key    VerificationKey // the key whose signature check passed
	// set is the last key set found to hold key. A set never changes once
	// built, so a hit against that same set needs no compare; a new set
	// (a JWKS refetch, a rotation, a revocation) is checked once.
	set        *VerificationKeys
	verifiedAt time.Time // no hit before this (a clock set back)
	expires    time.Time // exp itself, without leeway
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{size: size, entries: make(map[[sha256.Size]byte]*list.Element, size), order: list.New()}
}

// lookup returns the claims of token when a usable entry exists at now with
// keys as the verifier's set; an entry whose key left the set is dropped.
func (c *verifiedCache) lookup(digest [sha256.Size]byte, now time.Time, keys *VerificationKeys) (*Claims, bool) {
	c.mu.Lock()
	el, ok := c.entries[digest]
	if !ok {
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	e := el.Value.(*verifiedEntry)
	if (e.set != keys && !keys.holds(e.key)) || !now.Before(e.expires) || now.Before(e.verifiedAt) {
		c.order.Remove(el)
		delete(c.entries, digest)
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	e.set = keys
	c.order.MoveToFront(el)
	claims := e.claims.clone()
	c.mu.Unlock()
	c.hits.Add(1)
	return claims, true
}

// store remembers a token that key, of the set keys, verified at now.
func (c *verifiedCache) store(digest [sha256.Size]byte, claims *Claims, key VerificationKey, keys *VerificationKeys, now time.Time) {
	if claims.ExpiresAt == nil {
		return // Verify requires exp; never cache without a bound
	}
	e := &verifiedEntry{digest: digest, claims: *claims.clone(), key: key, set: keys, verifiedAt: now, expires: claims.ExpiresAt.Time}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[digest]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.entries[digest] = c.order.PushFront(e)
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*verifiedEntry).digest)
	}
}

func (c *verifiedCache) stats() CacheStats {
	c.mu.Lock()
	n := c.order.Len()
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n, Size: c.size}
}

// clone copies the claims deeply enough that a caller changing what it got
// cannot change what the cache hands the next request. The copy, its dates
// and a one-audience slice come from one allocation: clone runs on every
// cache hit.
func (c *Claims) clone() *Claims {
	block := &struct {
		claims         Claims
		exp, iat, nbf  jwt.NumericDate
		singleAudience [1]string
	}{claims: *c}
	out := &block.claims
	switch n := len(c.Audience); {
	case n == 1:
		block.singleAudience[0] = c.Audience[0]
		out.Audience = block.singleAudience[:]
	case c.Audience != nil:
		out.Audience = append(make(jwt.ClaimStrings, 0, n), c.Audience...)
	}
	for _, d := range []struct {
		field **jwt.NumericDate
		room  *jwt.NumericDate
	}{{&out.ExpiresAt, &block.exp}, {&out.IssuedAt, &block.iat}, {&out.NotBefore, &block.nbf}} {
		if *d.field != nil {
			*d.room = **d.field
			*d.field = d.room
		}
	}
	return out
}

// holds reports whether the set still has key: same kid, same algorithm,
// same key material. A kid alone is not enough: a JWKS could name a
// different key with an old kid.
func (vk *VerificationKeys) holds(key VerificationKey) bool {
	held, ok := vk.byKid[key.kid]
	if !ok || held.alg != key.alg || held.method != key.method || held.typ != key.typ {
		return false
	}
	switch a := held.key.(type) {
	case []byte: // HS256
		b, ok := key.key.([]byte)
		return ok && hmac.Equal(a, b)
	case interface{ Equal(crypto.PublicKey) bool }: // ECDSA, Ed25519, RSA public keys
		return a.Equal(key.key)
	}
	return false
}
