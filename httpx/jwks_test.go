package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/httpx"
	"tokenflow/httpx/jwkstest"
	"tokenflow/tokens"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newJWKSVerifier returns a cache over srv with a hand clock and
// synchronous background fetches, already loaded.
func newJWKSVerifier(t *testing.T, srv *jwkstest.Server, clock *fakeClock) (*httpx.JWKS, *httpx.JWKSVerifier) {
	t.Helper()
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{
		URL: srv.JWKSURL(), Now: clock.Now, Go: func(f func()) { f() },
		UnknownKidInterval: 10 * time.Second, RetryInterval: 5 * time.Second,
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

func TestJWKSVerifiesPublishedKey(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
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
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	_, v := newJWKSVerifier(t, srv, clock)

	srv.SetDown(true)
	clock.Add(10 * time.Minute) // past max-age: a refetch is due and fails
	if _, err := v.Verify(jwkstest.Token(t, key, "u1", clock.Now())); err != nil {
		t.Fatalf("cached key refused while the JWKS is down: %v", err)
	}
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
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	_, v := newJWKSVerifier(t, srv, clock)
	before := srv.Fetches()

	for i := range 1000 {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwkstest.Claims("u1", clock.Now()))
		tok.Header["kid"] = fmt.Sprintf("bogus-%d", i)
		tok.Header["typ"] = "at+jwt"
		s, err := tok.SignedString(key.Private)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(s); !errors.Is(err, tokens.ErrUnknownKid) {
			t.Fatalf("bogus kid %d: err = %v", i, err)
		}
		if i == 499 {
			clock.Add(10 * time.Second) // one more interval
		}
	}
	if got := srv.Fetches() - before; got != 2 {
		t.Fatalf("1000 bogus kids over two intervals caused %d fetches, want 2", got)
	}
	// The real key kept verifying throughout.
	if _, err := v.Verify(jwkstest.Token(t, key, "u1", clock.Now())); err != nil {
		t.Fatalf("real key after the flood: %v", err)
	}
}

func TestJWKSUnknownKidPicksUpRotatedKey(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	oldKey, newKey := jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, oldKey)
	_, v := newJWKSVerifier(t, srv, clock)

	srv.Publish(oldKey, newKey)
	if _, err := v.Verify(jwkstest.Token(t, newKey, "u1", clock.Now())); err != nil {
		t.Fatalf("a freshly published kid is refused: %v", err)
	}
}

func TestJWKSMaxAgeDropsKeyThatLeft(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	revoked, kept := jwkstest.NewKey(t), jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, revoked, kept)
	srv.SetMaxAge(2)
	_, v := newJWKSVerifier(t, srv, clock)
	if _, err := v.Verify(jwkstest.Token(t, revoked, "u1", clock.Now())); err != nil {
		t.Fatal(err)
	}

	srv.Publish(kept) // revoked: left the JWKS
	clock.Add(1 * time.Second)
	if _, err := v.Verify(jwkstest.Token(t, revoked, "u1", clock.Now())); err != nil {
		t.Fatalf("within max-age the held key still verifies: %v", err)
	}
	clock.Add(2 * time.Second) // past max-age=2
	// The first check after max-age refetches (here synchronously); the
	// revoked kid is gone at once, and its early refetch is rate-bounded.
	_, _ = v.Verify(jwkstest.Token(t, kept, "u1", clock.Now()))
	if _, err := v.Verify(jwkstest.Token(t, revoked, "u1", clock.Now())); !errors.Is(err, tokens.ErrUnknownKid) {
		t.Fatalf("a key that left the JWKS still verifies: err = %v", err)
	}
	if _, err := v.Verify(jwkstest.Token(t, kept, "u1", clock.Now())); err != nil {
		t.Fatalf("kept key: %v", err)
	}
}

func TestParseJWKS(t *testing.T) {
	key := jwkstest.NewKey(t)
	jwk := key.JWK()
	tests := []struct {
		name     string
		doc      string
		wantErr  bool
		wantKids int
	}{
		{"ok, one ES256 key", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1","alg":"ES256","use":"sig"}]}`, jwk["x"], jwk["y"]), false, 1},
		{"ok, empty set", `{"keys":[]}`, false, 0},
		{"ok, oct key skipped (never an HMAC secret)", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}`, false, 0},
		{"ok, key without alg skipped (no guessing)", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1"}]}`, jwk["x"], jwk["y"]), false, 0},
		{"ok, encryption key skipped", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1","alg":"ES256","use":"enc"}]}`, jwk["x"], jwk["y"]), false, 0},
		{"nok, point not on the curve", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1","alg":"ES256"}]}`, jwk["x"], jwk["x"]), true, 0},
		{"nok, ES256 on an RSA key", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k1","alg":"ES256"}]}`, true, 0},
		{"nok, short RSA key", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k1","alg":"RS256"}]}`, true, 0},
		{"nok, duplicate kid", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%[1]q,"y":%[2]q,"kid":"k1","alg":"ES256"},{"kty":"EC","crv":"P-256","x":%[1]q,"y":%[2]q,"kid":"k1","alg":"ES256"}]}`, jwk["x"], jwk["y"]), true, 0},
		{"nok, no kid", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"alg":"ES256"}]}`, jwk["x"], jwk["y"]), true, 0},
		{"nok, no keys member", `{}`, true, 0},
		{"nok, not JSON", `<html>`, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := tokens.ParseJWKS([]byte(tt.doc))
			if tt.wantErr {
				if !errors.Is(err, tokens.ErrBadJWKS) {
					t.Fatalf("err = %v, want ErrBadJWKS", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(keys.Kids()); got != tt.wantKids {
				t.Fatalf("%d keys, want %d", got, tt.wantKids)
			}
		})
	}
}
