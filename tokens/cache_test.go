package tokens_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// cachedSetup is an ES256 manager with a cache of verified tokens, a clock
// the test moves, and a second key in the set that can take over.
type cachedSetup struct {
	now     time.Time
	ring    *tokens.Keyring
	current tokens.SigningKey
	next    tokens.SigningKey
	manager *tokens.Manager
}

func newCached(t *testing.T, size int, leeway time.Duration) *cachedSetup {
	t.Helper()
	s := &cachedSetup{now: testNow}
	var err error
	if s.current, err = tokens.GenerateKey(tokens.AlgES256); err != nil {
		t.Fatal(err)
	}
	if s.next, err = tokens.GenerateKey(tokens.AlgES256); err != nil {
		t.Fatal(err)
	}
	set, err := tokens.NewKeySet(s.current, s.next.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.ring, err = tokens.NewKeyring(set); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(testNow)
	cfg.Secret, cfg.Keys, cfg.Leeway = nil, s.ring, leeway
	cfg.Now = func() time.Time { return s.now }
	cfg.VerifiedCacheSize = size
	if s.manager, err = tokens.NewManager(cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *cachedSetup) issue(t *testing.T, session string) string {
	t.Helper()
	token, _, err := s.manager.Issue("user-1", "alice", session)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestVerifiedCacheAnswersARepeat(t *testing.T) {
	s := newCached(t, 10, 0)
	token := s.issue(t, "sid-1")
	// Each caller changes what it got (the first from the full check, the
	// second from the cache); the next caller must not see it.
	for i := range 3 {
		got, err := s.manager.Verify(token)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != "user-1" || got.Audience[0] != testAudience || !got.ExpiresAt.Equal(testNow.Add(testTTL)) {
			t.Fatalf("Verify #%d = sub %q aud %v exp %v: a caller's change reached the cache", i+1, got.Subject, got.Audience, got.ExpiresAt)
		}
		got.Subject, got.Audience[0] = "user-2", "elsewhere"
		*got.ExpiresAt = *jwt.NewNumericDate(testNow.Add(time.Hour))
	}
	if st := s.manager.CacheStats(); st.Hits != 2 || st.Misses != 1 || st.Entries != 1 {
		t.Fatalf("stats = %+v, want 2 hits, 1 miss, 1 entry", st)
	}
}

// A revoked key's tokens must fail at once, as without the cache: the key
// is checked on every hit.
func TestVerifiedCacheForgetsARevokedKey(t *testing.T) {
	s := newCached(t, 10, 0)
	token := s.issue(t, "sid-1")
	for range 2 {
		if _, err := s.manager.Verify(token); err != nil {
			t.Fatal(err)
		}
	}
	set, err := tokens.NewKeySet(s.next) // the current key revoked
	if err != nil {
		t.Fatal(err)
	}
	s.ring.Replace(set)
	_, err = s.manager.Verify(token)
	if !errors.Is(err, tokens.ErrInvalidToken) || !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("Verify after revocation = %v, want ErrUnknownKid", err)
	}
	if st := s.manager.CacheStats(); st.Entries != 0 {
		t.Fatalf("entries after revocation = %d, want the token dropped", st.Entries)
	}
}

// A rotation that keeps the old key verifying keeps its tokens cached.
func TestVerifiedCacheSurvivesARotation(t *testing.T) {
	s := newCached(t, 10, 0)
	token := s.issue(t, "sid-1")
	if _, err := s.manager.Verify(token); err != nil {
		t.Fatal(err)
	}
	set, err := tokens.NewKeySet(s.next, s.current.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	s.ring.Replace(set)
	if _, err := s.manager.Verify(token); err != nil {
		t.Fatal(err)
	}
	if st := s.manager.CacheStats(); st.Hits != 1 {
		t.Fatalf("stats = %+v, want a hit after the rotation", st)
	}
}

// The cache never carries a token past exp, and never adds the leeway:
// past exp the full check decides, leeway and all.
func TestVerifiedCacheStopsAtExp(t *testing.T) {
	for _, leeway := range []time.Duration{0, 2 * time.Second} {
		s := newCached(t, 10, leeway)
		token := s.issue(t, "sid-1")
		if _, err := s.manager.Verify(token); err != nil {
			t.Fatal(err)
		}
		exp := testNow.Add(testTTL)
		s.now = exp.Add(-time.Nanosecond)
		if _, err := s.manager.Verify(token); err != nil {
			t.Fatalf("leeway %v, just before exp: %v", leeway, err)
		}
		hits := s.manager.CacheStats().Hits
		s.now = exp
		_, err := s.manager.Verify(token)
		if leeway == 0 && !tokens.Expired(err) {
			t.Fatalf("leeway 0, at exp: %v, want expired", err)
		}
		if leeway > 0 && err != nil {
			t.Fatalf("leeway %v, at exp: %v, want the full check's leeway", leeway, err)
		}
		s.now = exp.Add(leeway)
		if _, err := s.manager.Verify(token); !tokens.Expired(err) {
			t.Fatalf("leeway %v, at exp+leeway: %v, want expired", leeway, err)
		}
		if got := s.manager.CacheStats().Hits; got != hits {
			t.Fatalf("leeway %v: %d hits at or after exp, want none", leeway, got-hits)
		}
	}
}

// A clock set back before the first check does not find the entry: a
// token not yet valid (iat in the future) is checked in full.
func TestVerifiedCacheIgnoresAClockSetBack(t *testing.T) {
	s := newCached(t, 10, 0)
	token := s.issue(t, "sid-1")
	if _, err := s.manager.Verify(token); err != nil {
		t.Fatal(err)
	}
	s.now = testNow.Add(-time.Minute)
	if _, err := s.manager.Verify(token); err == nil {
		t.Fatal("Verify before iat succeeded from the cache")
	}
}

// Failures are never cached: a forged token stays refused and takes no
// slot, so an attacker cannot push real sessions out.
func TestVerifiedCacheKeepsOnlySuccesses(t *testing.T) {
	s := newCached(t, 10, 0)
	token := s.issue(t, "sid-1")
	forged := token[:strings.LastIndexByte(token, '.')+1] + signatureOf(s.issue(t, "sid-2"))
	for range 3 {
		if _, err := s.manager.Verify(forged); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Fatalf("forged token: %v, want a bad signature", err)
		}
	}
	if st := s.manager.CacheStats(); st.Entries != 0 || st.Hits != 0 {
		t.Fatalf("stats = %+v, want nothing cached", st)
	}
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	s := newCached(t, 2, 0)
	a, b, c := s.issue(t, "a"), s.issue(t, "b"), s.issue(t, "c")
	for _, token := range []string{a, b, a, c} { // b is least recently used when c arrives
		if _, err := s.manager.Verify(token); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.manager.CacheStats(); st.Entries != 2 || st.Size != 2 {
		t.Fatalf("stats = %+v, want 2 entries of 2", st)
	}
	before := s.manager.CacheStats()
	for _, token := range []string{a, c, b} {
		if _, err := s.manager.Verify(token); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.manager.CacheStats(); st.Hits-before.Hits != 2 || st.Misses-before.Misses != 1 {
		t.Fatalf("after eviction: %d hits, %d misses; want a and c hit, b checked again", st.Hits-before.Hits, st.Misses-before.Misses)
	}
}

func TestVerifiedCacheSizeMustNotBeNegative(t *testing.T) {
	cfg := testConfig(testNow)
	cfg.VerifiedCacheSize = -1
	if _, err := tokens.NewManager(cfg); err == nil {
		t.Fatal("NewManager accepted a negative cache size")
	}
}

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
