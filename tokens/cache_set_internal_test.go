package tokens

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A new set naming another key under the cached token's kid (a JWKS
// republished with an impostor) must not answer the token from the cache.
func TestVerifiedCacheRefusesAnImpostorUnderTheSameKid(t *testing.T) {
	a, err := GenerateKey(AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey(AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	setA, err := newVerificationKeys([]VerificationKey{a.VerificationKey})
	if err != nil {
		t.Fatal(err)
	}
	impostor := b.VerificationKey
	impostor.kid = a.kid
	setB, err := newVerificationKeys([]VerificationKey{impostor})
	if err != nil {
		t.Fatal(err)
	}
	c := newVerifiedCache(4)
	now := time.Unix(1_800_000_000, 0)
	var d [32]byte
	d[0] = 1
	claims := &Claims{}
	exp := now.Add(time.Hour)
	claims.ExpiresAt = jwt.NewNumericDate(exp)
	c.store(d, claims, a.VerificationKey, setA, now)
	if _, ok := c.lookup(d, now, setA); !ok {
		t.Fatal("no hit against the set that verified")
	}
	if _, ok := c.lookup(d, now, setB); ok {
		t.Fatal("a hit against a set holding another key under the same kid")
	}
	if _, ok := c.lookup(d, now, setA); ok {
		t.Fatal("the entry survived its key's replacement")
	}
}
