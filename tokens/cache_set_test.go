package tokens_test

import (
	"errors"
	"testing"

	"tokenflow/tokens"
)

// A cached token stays answerable across rotations that keep its key (each
// a new set, the entry's remembered set moving along), and fails at once
// when a later set drops the key, whichever set the entry last saw.
func TestVerifiedCacheRevocationAfterRotations(t *testing.T) {
	s := newCached(t, 10, 0)
	token := s.issue(t, "sid-1")
	if _, err := s.manager.Verify(token); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // three fresh sets, all holding the token's key
		set, err := tokens.NewKeySet(s.next, s.current.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		s.ring.Replace(set)
		for range 2 {
			if _, err := s.manager.Verify(token); err != nil {
				t.Fatalf("rotation %d: %v", i, err)
			}
		}
	}
	if st := s.manager.CacheStats(); st.Hits != 6 || st.Misses != 1 {
		t.Fatalf("stats = %+v, want 6 hits, 1 miss", st)
	}
	revoked, err := tokens.NewKeySet(s.next)
	if err != nil {
		t.Fatal(err)
	}
	s.ring.Replace(revoked)
	for i := range 2 {
		if _, err := s.manager.Verify(token); !errors.Is(err, tokens.ErrUnknownKid) {
			t.Fatalf("Verify #%d after revocation = %v, want ErrUnknownKid", i+1, err)
		}
	}
	if st := s.manager.CacheStats(); st.Entries != 0 {
		t.Fatalf("entries = %d, want the revoked key's token dropped", st.Entries)
	}
}
