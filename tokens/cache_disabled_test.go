package tokens_test

import (
	"testing"

	"tokenflow/tokens"
)

// VerifiedCacheSize 0 (the default of Config and VerifierConfig) is no
// cache at all, not a cache that holds nothing: no digest is kept and
// CacheStats reports zero, as documented, so a deployment that turned the
// cache off does not show lookups of a cache it does not have. Every
// token is checked in full, each time.
func TestCacheSizeZeroIsNoCache(t *testing.T) {
	m := managerAt(t, 0)
	token, _, err := m.Issue("user-1", "alice", "session-1")
	fatalIf(t, err)
	for range 3 {
		if _, err := m.Verify(token); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Verify(token + "x"); err == nil {
		t.Fatal("an altered token verified")
	}
	if st := m.CacheStats(); st != (tokens.CacheStats{}) {
		t.Errorf("CacheStats without a cache = %+v, want zero", st)
	}
}
