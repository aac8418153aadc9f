package tokens

import "testing"

// A JWKS could name a different key with a kid the cache already holds;
// the cache compares the key itself, not only its name.
func TestHoldsComparesTheKeyNotOnlyTheKid(t *testing.T) {
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
