package httpx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/httpx"
	"tokenflow/httpx/jwkstest"
	"tokenflow/tokens"
)

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
