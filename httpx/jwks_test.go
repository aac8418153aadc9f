package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/httpx"
	"tokenflow/httpx/jwkstest"
	"tokenflow/internal/testkit"
	"tokenflow/tokens"
)

// newJWKSVerifier returns a cache over srv with a hand clock and
// synchronous background fetches, already loaded.
func newJWKSVerifier(t *testing.T, srv *jwkstest.Server, clock *testkit.Clock) (*httpx.JWKS, *httpx.JWKSVerifier) {
	t.Helper()
	return newJWKSVerifierRunning(t, srv, clock, func(f func()) { f() })
}

// newJWKSVerifierRunning is newJWKSVerifier with background fetches handed
// to background. An unknown kid waits for them as long as they take (the
// tests that bound the wait set their own), so a test that runs them late
// under load cannot flake.
func newJWKSVerifierRunning(t *testing.T, srv *jwkstest.Server, clock *testkit.Clock, background func(func())) (*httpx.JWKS, *httpx.JWKSVerifier) {
	t.Helper()
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{
		URL: srv.JWKSURL(), Now: clock.Now, Go: background,
		UnknownKidInterval: 10 * time.Second, RetryInterval: 5 * time.Second, UnknownKidWait: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return cache, v
}

// wantVerifies fails the test unless v accepts a token that key signs at
// the clock's time; what says which token it is.
func wantVerifies(t *testing.T, v *httpx.JWKSVerifier, key jwkstest.Key, clock *testkit.Clock, what string) {
	t.Helper()
	if _, err := v.Verify(jwkstest.Token(t, key, "u1", clock.Now())); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestJWKSVerifiesPublishedKey(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	_, v := newJWKSVerifier(t, srv, clock)
	claims, err := v.Verify(jwkstest.Token(t, key, "u1", clock.Now()))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != "u1" {
		t.Fatalf("sub = %q", claims.Subject)
	}
}

func TestJWKSOutageKeepsCachedKeys(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	_, v := newJWKSVerifier(t, srv, clock)

	srv.SetDown(true)
	clock.Advance(10 * time.Minute) // past max-age: a refetch is due and fails
	wantVerifies(t, v, key, clock, "cached key refused while the JWKS is down")
	if srv.Fetches() < 2 {
		t.Fatalf("no refetch attempted once stale (fetches = %d)", srv.Fetches())
	}
	// An unknown kid during the outage is refused as such, not an error
	// of the server.
	other := jwkstest.NewKey(t)
	_, err := v.Verify(jwkstest.Token(t, other, "u1", clock.Now()))
	if !errors.Is(err, tokens.ErrInvalidToken) || !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("unknown kid during outage: err = %v", err)
	}
	// Failed fetches are retried at RetryInterval, not per request.
	before := srv.Fetches()
	for range 50 {
		_, _ = v.Verify(jwkstest.Token(t, key, "u1", clock.Now()))
	}
	if got := srv.Fetches() - before; got != 0 {
		t.Fatalf("%d fetches within the retry interval, want 0", got)
	}
}

func TestJWKSBogusKidFloodIsBounded(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	_, v := newJWKSVerifier(t, srv, clock)
	before := srv.Fetches()

	for i := range 1000 {
		s := jwkstest.SignHeader(t, jwt.SigningMethodES256, key.Private, map[string]any{"kid": fmt.Sprintf("bogus-%d", i), "typ": "at+jwt"}, jwkstest.Claims("u1", clock.Now()))
		if _, err := v.Verify(s); !errors.Is(err, tokens.ErrUnknownKid) {
			t.Fatalf("bogus kid %d: err = %v", i, err)
		}
		if i == 499 {
			clock.Advance(10 * time.Second) // one more interval
		}
	}
	if got := srv.Fetches() - before; got != 2 {
		t.Fatalf("1000 bogus kids over two intervals caused %d fetches, want 2", got)
	}
	// The real key kept verifying throughout.
	wantVerifies(t, v, key, clock, "real key after the flood")
}

func TestJWKSUnknownKidPicksUpRotatedKey(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	oldKey, newKey := jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, oldKey)
	_, v := newJWKSVerifier(t, srv, clock)

	srv.Publish(oldKey, newKey)
	wantVerifies(t, v, newKey, clock, "a freshly published kid is refused")
}

// A token of a freshly rotated key that arrives once the cache is stale:
// looking its kid up starts the stale refetch in the background, and the
// token must wait for that fetch rather than be refused because a fetch
// is running (what the notes service did behind Apache under load).
func TestJWKSUnknownKidWaitsForRefetchInFlight(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	oldKey, newKey := jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, oldKey)
	srv.SetMaxAge(2)
	background := make(chan func())
	_, v := newJWKSVerifierRunning(t, srv, clock, func(f func()) { background <- f })
	srv.Publish(oldKey, newKey)
	clock.Advance(3 * time.Second) // past max-age: the next lookup refetches in the background

	verified := make(chan error, 1)
	token := jwkstest.Token(t, newKey, "u1", clock.Now())
	go func() {
		_, err := v.Verify(token)
		verified <- err
	}()
	fetch := <-background // started by the token's own lookup, not run yet
	fetch()
	if err := <-verified; err != nil {
		t.Fatalf("a new kid during a refetch in flight: %v", err)
	}
	if got := srv.Fetches(); got != 2 {
		t.Fatalf("%d fetches, want 2 (the first and the stale refetch, waited for)", got)
	}
}

// oneKeyToLeave is a JWKS that publishes revoked and kept with max-age=2,
// for a test that then drops revoked, and a clock at its start.
func oneKeyToLeave(t *testing.T) (clock *testkit.Clock, revoked, kept jwkstest.Key, srv *jwkstest.Server) {
	t.Helper()
	clock = testkit.NewClock(time.Unix(1_800_000_000, 0))
	revoked, kept = jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv = jwkstest.NewServer(t, revoked, kept)
	srv.SetMaxAge(2)
	return clock, revoked, kept, srv
}

func TestJWKSMaxAgeDropsKeyThatLeft(t *testing.T) {
	clock, revoked, kept, srv := oneKeyToLeave(t)
	_, v := newJWKSVerifier(t, srv, clock)
	wantVerifies(t, v, revoked, clock, "a token of the published key")

	srv.Publish(kept) // revoked: left the JWKS
	clock.Advance(1 * time.Second)
	wantVerifies(t, v, revoked, clock, "within max-age the held key still verifies")
	clock.Advance(2 * time.Second) // past max-age=2
	// The first check after max-age refetches (here synchronously); the
	// revoked kid is gone at once, and its early refetch is rate-bounded.
	_, _ = v.Verify(jwkstest.Token(t, kept, "u1", clock.Now()))
	if _, err := v.Verify(jwkstest.Token(t, revoked, "u1", clock.Now())); !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("a key that left the JWKS still verifies: err = %v", err)
	}
	wantVerifies(t, v, kept, clock, "kept key")
}

// With a cache of verified tokens, the same token already verified fails
// as soon as a JWKS refresh has dropped its key.
func TestJWKSCachedTokenFailsOnceItsKeyLeft(t *testing.T) {
	clock, revoked, kept, srv := oneKeyToLeave(t)
	cache, v := cachingJWKSVerifier(t, srv, clock)
	token := jwkstest.Token(t, revoked, "u1", clock.Now())
	for range 2 {
		if _, err := v.Verify(token); err != nil {
			t.Fatal(err)
		}
	}
	srv.Publish(kept)
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(token); !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("a cached token of a key that left the JWKS: err = %v, want ErrUnknownKid", err)
	}
}

// Refetches that keep a cached token's key (each a new set) keep it
// answered; the refetch that drops the key, or names another key under
// its kid, fails it at once.
func TestJWKSCachedTokenAcrossRefetches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(revoked, kept jwkstest.Key) []jwkstest.Key
		want  error
	}{
		{"key left", func(_, kept jwkstest.Key) []jwkstest.Key { return []jwkstest.Key{kept} }, tokens.ErrUnknownKid},
		{"impostor under its kid", func(revoked, kept jwkstest.Key) []jwkstest.Key {
			return []jwkstest.Key{{Private: kept.Private, Kid: revoked.Kid}}
		}, jwt.ErrTokenSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock, revoked, kept, srv := oneKeyToLeave(t)
			cache, v := cachingJWKSVerifier(t, srv, clock)
			token := jwkstest.Token(t, revoked, "u1", clock.Now())
			for i := range 3 { // each refetch: a new *VerificationKeys with the same keys
				before := cache.Keys()
				if err := cache.Refresh(context.Background()); err != nil {
					t.Fatal(err)
				}
				if cache.Keys() == before {
					t.Fatal("a refetch kept the same set object; the case tests nothing")
				}
				for range 2 {
					if _, err := v.Verify(token); err != nil {
						t.Fatalf("refetch %d: %v", i, err)
					}
				}
			}
			srv.Publish(tc.after(revoked, kept)...)
			if err := cache.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(token); !errors.Is(err, tc.want) {
				t.Fatalf("cached token after the change: err = %v, want %v", err, tc.want)
			}
		})
	}
}

// cachingJWKSVerifier is a JWKS cache of srv, fetched once, whose later
// fetches run on the caller's goroutine, and its verifier with a cache of
// verified tokens.
func cachingJWKSVerifier(t *testing.T, srv *jwkstest.Server, clock *testkit.Clock) (*httpx.JWKS, *httpx.JWKSVerifier) {
	t.Helper()
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: srv.JWKSURL(), Now: clock.Now, Go: func(f func()) { f() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience, Now: clock.Now, CacheSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	return cache, v
}

// heldJWKS is a cache loaded from a JWKS of one key whose later fetches
// the server holds unanswered (a slow auth server) until the test ends;
// entered closes when the first held fetch arrives. wait is the
// cache's UnknownKidWait (0: the default).
func heldJWKS(t *testing.T, wait time.Duration) (v *httpx.JWKSVerifier, entered <-chan struct{}) {
	t.Helper()
	srv := jwkstest.NewServer(t, jwkstest.NewKey(t))
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: srv.JWKSURL(), Client: &http.Client{Timeout: 20 * time.Second}, UnknownKidWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err = cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	return v, srv.Hold(t)
}

// verifyingInBackground runs verify and hands its error over; a verify
// still running after a generous bound (well under the held fetch's 20 s
// timeout) fails the test as parked for the whole fetch.
func verifyingInBackground(t *testing.T, verify func() error) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- verify() }()
	return func() error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("an unknown kid is still waiting for the held JWKS fetch")
			return nil
		}
	}
}

// An unknown kid waits for a JWKS fetch at most UnknownKidWait, not for
// the whole fetch: here the fetch is held past the verify's return.
func TestJWKSUnknownKidWaitIsBounded(t *testing.T) {
	v, entered := heldJWKS(t, 0)
	token := jwkstest.Token(t, jwkstest.NewKey(t), "u1", time.Now())
	result := verifyingInBackground(t, func() error { _, err := v.Verify(token); return err })
	<-entered // the early refetch is at the auth server, held
	if err := result(); !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("err = %v, want ErrUnknownKid", err)
	}
}

// A client that goes away ends its wait at once: with an UnknownKidWait
// of an hour, only the request's context can end it before the fetch.
func TestJWKSUnknownKidWaitEndsWithTheRequest(t *testing.T) {
	v, entered := heldJWKS(t, time.Hour)
	token := jwkstest.Token(t, jwkstest.NewKey(t), "u1", time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := verifyingInBackground(t, func() error { _, err := v.VerifyContext(ctx, token); return err })
	<-entered
	cancel() // the client disconnected
	if err := result(); !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("err = %v, want ErrUnknownKid", err)
	}
}

// staleWithFetchInFlight is a cache over srv (max-age 2) that is stale,
// with background fetches handed over on the channel instead of run.
func staleWithFetchInFlight(t *testing.T, srv *jwkstest.Server, clock *testkit.Clock) (*httpx.JWKSVerifier, <-chan func()) {
	t.Helper()
	srv.SetMaxAge(2)
	background := make(chan func())
	_, v := newJWKSVerifierRunning(t, srv, clock, func(f func()) { background <- f })
	clock.Advance(3 * time.Second) // past max-age: the next lookup refetches in the background
	return v, background
}

// The fetch an unknown kid waited for settles it when it failed (the auth
// server is down: the next try is RetryInterval away) and when it was
// asked for after the token arrived (its document is as new as the
// token): neither is followed by a fetch of the token's own.
func TestJWKSUnknownKidNoSecondFetch(t *testing.T) {
	for name, down := range map[string]bool{
		"the awaited fetch failed": true,
		"the awaited fetch started after the token arrived and lacks its kid": false,
	} {
		t.Run(name, func(t *testing.T) {
			clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
			srv := jwkstest.NewServer(t, jwkstest.NewKey(t))
			v, background := staleWithFetchInFlight(t, srv, clock)
			srv.SetDown(down)
			token := jwkstest.Token(t, jwkstest.NewKey(t), "u1", clock.Now()) // a kid never published
			result := verifyingInBackground(t, func() error { _, err := v.Verify(token); return err })
			fetch := <-background // the stale refetch the token's own lookup started
			fetch()
			if err := result(); !errors.Is(err, tokens.ErrUnknownKid) {
				t.Fatalf("err = %v, want ErrUnknownKid", err)
			}
			if got := srv.Fetches(); got != 2 {
				t.Fatalf("%d fetches, want 2 (the first and the awaited one)", got)
			}
		})
	}
}

// After a failed fetch, an unknown kid does not ask the auth server again
// before RetryInterval has passed; then it does.
func TestJWKSUnknownKidRespectsRetryInterval(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	oldKey, newKey := jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, oldKey)
	cache, v := newJWKSVerifier(t, srv, clock)
	srv.SetDown(true)
	if err := cache.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh of a JWKS that is down succeeded")
	}
	srv.SetDown(false)
	srv.Publish(oldKey, newKey)
	before := srv.Fetches()
	if _, err := v.Verify(jwkstest.Token(t, newKey, "u1", clock.Now())); !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("within the retry interval: err = %v, want ErrUnknownKid", err)
	}
	if got := srv.Fetches() - before; got != 0 {
		t.Fatalf("%d fetches within the retry interval, want 0", got)
	}
	clock.Advance(5 * time.Second)
	wantVerifies(t, v, newKey, clock, "the new kid once the retry interval has passed")
}

// panickingTransport panics on its first round trip, then passes on.
type panickingTransport struct{ panicked atomic.Bool }

func (p *panickingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !p.panicked.Swap(true) {
		panic("transport bug")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A fetch that panics (a custom Client's transport, say) still ends: had
// it left the cache believing a fetch runs, no refetch would ever start
// again, and a key that left the JWKS would keep verifying.
func TestJWKSFetchThatPanicsStillEnds(t *testing.T) {
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: srv.JWKSURL(), Client: &http.Client{Transport: &panickingTransport{}}})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the transport's panic was swallowed")
			}
		}()
		_ = cache.Refresh(context.Background())
	}()
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh after a fetch panicked: %v", err)
	}
}

// A fetch that began before the token arrived may have asked for the
// document before the token's key was published: when it lacks the kid,
// the early refetch follows, within the same wait.
func TestJWKSUnknownKidRefetchesAfterAnOlderFetch(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	oldKey, newKey := jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, oldKey)
	srv.SetMaxAge(2)
	background := make(chan func(), 2)
	cache, v := newJWKSVerifierRunning(t, srv, clock, func(f func()) { background <- f })
	clock.Advance(3 * time.Second)
	cache.Keys() // a stale refetch begins before the token arrives
	older := <-background
	token := jwkstest.Token(t, newKey, "u1", clock.Now())
	result := verifyingInBackground(t, func() error { _, err := v.Verify(token); return err })
	older() // its document: the old key only
	srv.Publish(oldKey, newKey)
	select {
	case early := <-background:
		early()
	case <-time.After(10 * time.Second):
		t.Fatal("no early refetch followed the older fetch")
	}
	if err := result(); err != nil {
		t.Fatalf("a kid published after the older fetch asked: %v", err)
	}
	if got := srv.Fetches(); got != 3 {
		t.Fatalf("%d fetches, want 3 (the first, the older one, the early refetch)", got)
	}
}
