package tokens

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A JWKS could name a different key with a kid the cache already holds;
// the cache compares the key itself, not only its name.
func TestHoldsComparesTheKeyNotOnlyTheKid(t *testing.T) {
	a, set := impostorSet(t)
	if set.holds(a.VerificationKey) {
		t.Fatal("a set with another key under the same kid holds the old key")
	}
	same, err := newVerificationKeys([]VerificationKey{a.VerificationKey})
	if err != nil {
		t.Fatal(err)
	}
	if !same.holds(a.VerificationKey) {
		t.Fatal("a set does not hold its own key")
	}
	// The same key read again (a JWKS refetch) is another object: compared
	// by value, still held.
	der, err := a.VerificationKey.MarshalPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	reread, err := ParsePublicKey(AlgES256, der)
	if err != nil {
		t.Fatal(err)
	}
	reread.kid = a.kid
	if reread.key == a.VerificationKey.key {
		t.Fatal("the re-read key is the same object; the case tests nothing")
	}
	rereadSet, err := newVerificationKeys([]VerificationKey{reread})
	if err != nil {
		t.Fatal(err)
	}
	if !rereadSet.holds(a.VerificationKey) {
		t.Fatal("a set holding the same key, read again, does not hold it")
	}
	hs, err := NewHS256Key([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewHS256Key([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	other.kid = hs.kid
	hsSet, err := newVerificationKeys([]VerificationKey{other.VerificationKey})
	if err != nil {
		t.Fatal(err)
	}
	if hsSet.holds(hs.VerificationKey) {
		t.Fatal("HS256: another secret under the same kid holds the old key")
	}
}

// impostorSet is an ES256 key and a set that names another key under its
// kid (a JWKS republished with an impostor).
func impostorSet(t *testing.T) (SigningKey, *VerificationKeys) {
	t.Helper()
	a, err := GenerateKey(AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey(AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	impostor := b.VerificationKey
	impostor.kid = a.kid
	set, err := newVerificationKeys([]VerificationKey{impostor})
	if err != nil {
		t.Fatal(err)
	}
	return a, set
}

// A new set naming another key under the cached token's kid (a JWKS
// republished with an impostor) must not answer the token from the cache.
func TestVerifiedCacheRefusesAnImpostorUnderTheSameKid(t *testing.T) {
	a, setB := impostorSet(t)
	setA, err := newVerificationKeys([]VerificationKey{a.VerificationKey})
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
